/* url.c - see url.h. */
#include "aws/url.h"

#include <curl/curl.h>
#include <string.h>

int co_url_split(const char *url, co_url_parts *out)
{
    CURLU *u = curl_url();
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!u)
        return -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &out->scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &out->host, 0) == CURLUE_OK) {
        /* the optional parts: absent ones stay NULL */
        curl_url_get(u, CURLUPART_PORT, &out->port, 0);
        curl_url_get(u, CURLUPART_PATH, &out->path, 0);
        curl_url_get(u, CURLUPART_QUERY, &out->query, 0);
        curl_url_get(u, CURLUPART_USER, &out->user, 0);
        curl_url_get(u, CURLUPART_FRAGMENT, &out->fragment, 0);
        rc = 0;
    }
    curl_url_cleanup(u);
    return rc;
}

void co_url_parts_free(co_url_parts *p)
{
    if (!p)
        return;
    curl_free(p->scheme);
    curl_free(p->host);
    curl_free(p->port);
    curl_free(p->path);
    curl_free(p->query);
    curl_free(p->user);
    curl_free(p->fragment);
    memset(p, 0, sizeof *p);
}
