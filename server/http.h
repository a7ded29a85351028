/* http.h - the request and response records handlers work with, and the
 * HTTP server (libmicrohttpd) that fills and sends them.
 *
 * DESIGN
 * libmicrohttpd runs its own thread pool (internal polling, epoll). For each
 * request, on_request in http.c buffers the body (up to the configured
 * limit), authenticates the bearer token, routes the path through the
 * static route table (server/routes.c), calls the handler on the pool
 * thread, and turns the co_response into an MHD response: JSON, raw bytes,
 * or RFC 9457 problem+json when the handler returned an error. Handlers
 * only touch SQLite and in-memory state; they never wait on a remote
 * system. Streaming responses (SSE) hand over a ready MHD response.
 */
#ifndef CUTOVER_SERVER_HTTP_H
#define CUTOVER_SERVER_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

typedef struct co_app co_app;
struct co_route;

typedef enum co_role {
    CO_ROLE_NONE,
    CO_ROLE_VIEWER,
    CO_ROLE_OPERATOR,
    CO_ROLE_ADMIN,
    CO_ROLE_LAST
} co_role;

#define CO_MAX_PATH_PARAMS 4

typedef struct co_request {
    co_app *app;                        /* borrowed */
    struct MHD_Connection *conn;        /* borrowed */
    const char *method;                 /* "GET", ... */
    const char *path;                   /* URL path without query */
    const char *params[CO_MAX_PATH_PARAMS]; /* {id} values, in pattern order */
    size_t nparams;
    const char *body;                   /* request body, NUL-terminated */
    size_t body_len;
    const char *principal;              /* token name, or "anonymous" */
    co_role role;
    const struct co_route *route;
} co_request;

typedef struct co_response {
    int status;                  /* HTTP status for success responses */
    json_t *json;                /* owned body, sent as application/json */
    char *raw;                   /* owned raw body (used if json is NULL) */
    size_t raw_len;
    const char *content_type;    /* for raw; static string */
    char etag[64];               /* sent as ETag when set (quoted) */
    char location[256];          /* sent as Location when set */
    struct MHD_Response *mhd;    /* ready response (streaming); owned */
    co_error err;                /* filled when the handler fails */
    json_t *problem_extra;       /* owned members merged into the problem */
} co_response;

/* A handler reads req, fills resp and returns CO_OK, or returns an error
 * status with resp->err filled (co_error_set), which the server renders as
 * problem+json. Runs on an HTTP pool thread; must not block on remote
 * systems. */
typedef co_status (*co_handler_fn)(co_request *req, co_response *resp);

/* Value of request header name (case-insensitive), borrowed, or NULL. */
const char *co_req_header(const co_request *req, const char *name);

/* Value of query parameter name, borrowed, or NULL. */
const char *co_req_query(const co_request *req, const char *name);

/* Parses the request body as a JSON object into *out (new reference; caller
 * decrefs). Errors: CO_ERR_INVALID with pointer "" and the parse position
 * for malformed JSON, an empty body or a non-object. */
CO_MUST_CHECK co_status co_req_json(const co_request *req, json_t **out,
                                    co_error *err);

/* Sets a JSON body (steals body, even on failure) and status. */
void co_resp_json(co_response *resp, int status, json_t *body);

/* Parses If-Match: returns the version number it names ("\"<n>\"" or
 * W/"<n>"), -1 if the header is absent. Errors: CO_ERR_PRECONDITION for a
 * value that cannot match any version. */
CO_MUST_CHECK co_status co_req_if_match(const co_request *req, int64_t *version,
                                        co_error *err);

/* Reads ?limit= (1..200, default 50) and ?page_token= (an opaque cursor
 * made by co_page_token). Errors: CO_ERR_INVALID naming the parameter. */
CO_MUST_CHECK co_status co_req_page(const co_request *req, int *limit,
                                    int64_t *after, co_error *err);

/* Formats cursor value seq as an opaque page token into buf[32]. */
void co_page_token(int64_t seq, char buf[32]);

/* The running HTTP server. */
typedef struct co_http co_http;

/* Starts serving on the configured address with app's configuration.
 * *out is freed by co_http_stop. Errors: CO_ERR_IO (bind failed),
 * CO_ERR_INVALID (address). */
CO_MUST_CHECK co_status co_http_start(co_app *app, co_http **out, co_error *err);

/* Port actually bound (useful with port 0). */
uint16_t co_http_port(const co_http *http);

/* Stops accepting connections, lets in-flight requests finish for up to
 * drain_ms, closes streaming connections, and frees http. NULL-safe. */
void co_http_stop(co_http *http, int drain_ms);

#endif
