/* url.h - the parts of an absolute URL, split by libcurl's URL API, for the
 * places that check a configured URL before using it (the DMS endpoint
 * override, the ECS container credentials FULL_URI). */
#ifndef CUTOVER_AWS_URL_H
#define CUTOVER_AWS_URL_H

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

#endif
