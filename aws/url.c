/* url.c - see url.h. */
#include "aws/url.h"

#include <curl/curl.h>
#include <stddef.h>
#include <string.h>

/* Every member of co_url_parts with the libcurl part it holds; the first
 * two (scheme, host) are required. */
static const struct {
    CURLUPart part;
    size_t offset;
} parts[] = {
    {CURLUPART_SCHEME, offsetof(co_url_parts, scheme)},
    {CURLUPART_HOST, offsetof(co_url_parts, host)},
    {CURLUPART_PORT, offsetof(co_url_parts, port)},
    {CURLUPART_PATH, offsetof(co_url_parts, path)},
    {CURLUPART_QUERY, offsetof(co_url_parts, query)},
    {CURLUPART_USER, offsetof(co_url_parts, user)},
    {CURLUPART_FRAGMENT, offsetof(co_url_parts, fragment)},
};
#define NPARTS (sizeof parts / sizeof parts[0])
#define NREQUIRED 2

static char **member(co_url_parts *p, size_t i)
{
    return (char **)((char *)p + parts[i].offset);
}

int co_url_split(const char *url, co_url_parts *out)
{
    CURLU *u = curl_url();
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        rc = -1;
    /* absent optional parts stay NULL */
    for (size_t i = 0; rc == 0 && i < NPARTS; i++)
        if (curl_url_get(u, parts[i].part, member(out, i), 0) != CURLUE_OK && i < NREQUIRED)
            rc = -1;
    curl_url_cleanup(u);
    return rc;
}

void co_url_parts_free(co_url_parts *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < NPARTS; i++)
        curl_free(*member(p, i));
    memset(p, 0, sizeof *p);
}

void co_curl_request_setup(CURL *h, const char *url, long connect_timeout_ms,
                           long timeout_ms, const char *user_agent,
                           struct curl_slist *headers, bool direct)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (direct)
        curl_easy_setopt(h, CURLOPT_PROXY, "");
}
