/* guard.c - see guard.h. */
#include "server/guard.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Host part of a --listen value ("127.0.0.1:80" -> "127.0.0.1",
 * "[::1]:80" -> "[::1]") into out[size]. */
static void listen_host(const char *listen, char *out, size_t size)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    snprintf(out, size, "%.*s", (int)n, listen);
}

bool co_guard_host_ok(const char *host, const char *listen, uint16_t port)
{
    char own[160], cand[200];
    const char *names[4] = {own, "localhost", "127.0.0.1", "[::1]"};
    if (!host || !*host)
        return false;
    listen_host(listen, own, sizeof own);
    for (size_t i = 0; i < 4; i++) {
        snprintf(cand, sizeof cand, "%s:%u", names[i], (unsigned)port);
        if (strcasecmp(host, cand) == 0)
            return true;
        if (port == 80 && strcasecmp(host, names[i]) == 0)
            return true;
    }
    return false;
}

bool co_guard_origin_ok(const char *origin, const char *listen, uint16_t port)
{
    const char *rest;
    if (!origin)
        return true;
    if (strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    else
        return false; /* "null" (sandboxed frames, file:) and other schemes */
    if (strchr(rest, '/'))
        return false;
    return co_guard_host_ok(rest, listen, port);
}

/* Tells whether content_type's media type (before any ';') is name. */
static bool media_is(const char *content_type, const char *name)
{
    size_t n = strlen(name);
    const char *p = content_type;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, name, n) != 0)
        return false;
    p += n;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == ';';
}

co_status co_guard_media_type(const char *method, const char *content_type,
                              bool has_body, co_error *err)
{
    bool patch = strcmp(method, "PATCH") == 0;
    if (!has_body)
        return CO_OK;
    if (content_type && (media_is(content_type, "application/json") ||
                         (patch && media_is(content_type,
                                            "application/merge-patch+json"))))
        return CO_OK;
    co_error_set(err, CO_ERR_MEDIA_TYPE,
                 "request bodies must be %s; got %s",
                 patch ? "application/json or application/merge-patch+json"
                       : "application/json",
                 content_type ? content_type : "no Content-Type");
    co_error_field(err, "@Content-Type", "must be %s",
                   patch ? "application/merge-patch+json or application/json"
                         : "application/json");
    return CO_ERR_MEDIA_TYPE;
}
