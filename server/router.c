/* router.c - see router.h. */
#include "server/router.h"

#include <stdio.h>
#include <string.h>

/* Matches one pattern against the '/'-split path in buf (segments already
 * NUL-separated: segs[0..nsegs)). */
static int match_pattern(const char *pattern, char *const *segs, size_t nsegs,
                         const char *params[CO_MAX_PATH_PARAMS], size_t *nparams)
{
    size_t i = 0, np = 0;
    const char *p = pattern;
    while (*p == '/') {
        const char *seg_end;
        size_t len;
        p++;
        seg_end = strchr(p, '/');
        len = seg_end ? (size_t)(seg_end - p) : strlen(p);
        if (i >= nsegs)
            return 0;
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
            if (!segs[i][0] || np >= CO_MAX_PATH_PARAMS)
                return 0;
            params[np++] = segs[i];
        } else if (strlen(segs[i]) != len || strncmp(segs[i], p, len) != 0) {
            return 0;
        }
        i++;
        p += len;
    }
    if (i != nsegs)
        return 0;
    *nparams = np;
    return 1;
}

co_route_result co_route_match(const co_route *table, size_t n, const char *method,
                               const char *path, char *buf, size_t bufsize,
                               const co_route **route,
                               const char *params[CO_MAX_PATH_PARAMS],
                               size_t *nparams, char *allow, size_t allow_size)
{
    char *segs[16];
    size_t nsegs = 0, used = 0;
    int path_known = 0;

    if (allow_size)
        allow[0] = '\0';
    if (path[0] != '/' || strlen(path) >= bufsize)
        return CO_ROUTE_NOT_FOUND;
    memcpy(buf, path, strlen(path) + 1);
    /* split "/a/b/c" into "a" "b" "c"; a trailing slash is not a route */
    for (char *p = buf; *p == '/';) {
        char *next;
        *p++ = '\0';
        if (nsegs == 16)
            return CO_ROUTE_NOT_FOUND;
        segs[nsegs++] = p;
        next = strchr(p, '/');
        if (!next)
            break;
        p = next;
    }
    for (size_t r = 0; r < n; r++) {
        const char *tmp[CO_MAX_PATH_PARAMS];
        size_t ntmp = 0;
        if (!match_pattern(table[r].pattern, segs, nsegs, tmp, &ntmp))
            continue;
        if (strcmp(table[r].method, method) == 0) {
            *route = &table[r];
            memcpy(params, tmp, sizeof tmp);
            *nparams = ntmp;
            return CO_ROUTE_FOUND;
        }
        path_known = 1;
        if (allow_size && !strstr(allow, table[r].method)) {
            int w = snprintf(allow + used, allow_size - used, "%s%s",
                             used ? ", " : "", table[r].method);
            if (w > 0 && (size_t)w < allow_size - used)
                used += (size_t)w;
        }
    }
    return path_known ? CO_ROUTE_NO_METHOD : CO_ROUTE_NOT_FOUND;
}
