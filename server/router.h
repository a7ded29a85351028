/* router.h - static route table matching.
 *
 * A route pattern is a path of literal segments and "{name}" parameters,
 * e.g. "/v1/projects/{id}/endpoints". Matching is exact per segment;
 * parameters capture one non-empty segment each.
 */
#ifndef CUTOVER_SERVER_ROUTER_H
#define CUTOVER_SERVER_ROUTER_H

#include <stddef.h>

#include "server/http.h"

typedef struct co_route {
    const char *method;     /* "GET", "POST", "PATCH", "DELETE" */
    const char *pattern;
    co_handler_fn handler;
    co_role min_role;       /* CO_ROLE_NONE: no authentication needed */
    const char *name;       /* operation name for logs and metrics */
} co_route;

typedef enum co_route_result {
    CO_ROUTE_FOUND,
    CO_ROUTE_NO_METHOD,     /* the path exists for other methods */
    CO_ROUTE_NOT_FOUND
} co_route_result;

/* Matches method and path against table[0..n). On CO_ROUTE_FOUND, *route is
 * the match and params[0..*nparams) point into buf (a copy of path of size
 * bufsize made by this function). On CO_ROUTE_NO_METHOD, allow (size
 * allow_size) receives a comma-separated list of the methods the path
 * accepts, e.g. "GET, POST". */
co_route_result co_route_match(const co_route *table, size_t n, const char *method,
                               const char *path, char *buf, size_t bufsize,
                               const co_route **route,
                               const char *params[CO_MAX_PATH_PARAMS],
                               size_t *nparams, char *allow, size_t allow_size);

/* The daemon's route table (server/routes.c) and its length. */
extern const co_route co_routes[];
extern const size_t co_routes_count;

#endif
