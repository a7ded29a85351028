/* url.h - URLs and libcurl handles for the AWS clients: the parts of an
 * absolute URL, split by libcurl's URL API, for the places that check a
 * configured URL before using it (the DMS endpoint override, the ECS
 * container credentials FULL_URI), and the options every request of the
 * DMS client and the credential chain shares. */
#ifndef CUTOVER_AWS_URL_H
#define CUTOVER_AWS_URL_H

#include <curl/curl.h>
#include <stdbool.h>

/* Each member is a libcurl string (free with co_url_parts_free) or NULL when
 * the URL has no such part. scheme and host are never NULL after a
 * successful co_url_split. */
typedef struct co_url_parts {
    char *scheme, *host, *port, *path, *query, *user, *fragment;
} co_url_parts;

/* Splits url (NUL-terminated, as curl_url_set CURLUPART_URL parses it)
 * into *out, which the caller frees with co_url_parts_free whatever the
 * result. Returns 0, or -1 when url is not a URL with a scheme and a host
 * (or memory runs out). */
int co_url_split(const char *url, co_url_parts *out);

/* Frees the parts of p and zeroes it. NULL-safe. */
void co_url_parts_free(co_url_parts *p);

/* The options shared by every AWS request on handle h: url (copied by
 * libcurl), http/https only, no redirects, no signals, the connect and
 * total timeouts in milliseconds, the User-Agent, the header list (borrowed
 * until the transfer ends) and, when direct, no proxy (loopback and the
 * metadata addresses are never proxied). Body and callbacks stay the
 * caller's. */
void co_curl_request_setup(CURL *h, const char *url, long connect_timeout_ms,
                           long timeout_ms, const char *user_agent,
                           struct curl_slist *headers, bool direct);

#endif
