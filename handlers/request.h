/* request.h - the request and response records handlers work with.
 *
 * The HTTP server (server/http.c) fills a co_request for each request
 * (path parameters, body, the caller's principal and role), calls the
 * route's handler on an HTTP pool thread, and turns the co_response into an
 * HTTP answer: JSON, raw bytes, a ready streaming response, or RFC 9457
 * problem+json when the handler returned an error. Handlers only touch
 * SQLite and in-memory state; they never wait on a remote system.
 */
#ifndef CUTOVER_HANDLERS_REQUEST_H
#define CUTOVER_HANDLERS_REQUEST_H

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
    const char *request_id;             /* this request's id (X-Request-Id) */
    const char *scope_project;          /* the token's only project, or NULL */
    const char *address;                /* the client's IP address */
    int64_t wait_until_ms;              /* deadline of a held request (epoch ms), 0 at first */
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
    struct {                     /* set by a handler: answer with a Server-Sent */
        bool active;             /* Events stream (server/sse.c) of the events */
        int64_t after;           /* after this id that match the filter ("" = any) */
        char run_id[40], project_id[40], type[40];
        bool counted;            /* set by the server: admitted by its limits */
        bool end_on_final;       /* a run's stream: ends after its final run.state */
        bool run_final;          /* the run is already final: ends once caught up */
    } stream;
    int retry_after_s;           /* sent as Retry-After with an error, if > 0 */
    /* Long poll: with wait_until_ms > 0 the server holds the request until
     * an event of wait_run_id after wait_seen is published, the deadline
     * (epoch ms) passes or the server stops, then calls the handler again
     * with req->wait_until_ms set; if it cannot hold it, this response is
     * sent as it is. */
    bool no_store;               /* holds a secret: never kept for Idempotency-Key replays */
    int64_t wait_until_ms;
    int64_t wait_seen;
    char wait_run_id[40];
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

/* Sets a 200 list page {"items": items, "next_page_token": token or null}
 * (openapi.yaml's list responses): the token is co_page_token(last_seq)
 * when more is true, null otherwise (also for single-page lists). Steals
 * items (a JSON array). */
void co_resp_page(co_response *resp, json_t *items, bool more, int64_t last_seq);

/* A store read that lists what belongs to parent_id (a run, a project) as
 * a new JSON array in *items: co_artifact_list, co_webhooks_list. */
struct co_store;
typedef co_status (*co_list_fn)(struct co_store *store, const char *parent_id,
                                json_t **items, co_error *err);

/* Answers a list route whose whole list is one page: calls
 * list(req->app->store, req->params[0]) and sets the page (co_resp_page,
 * no next_page_token). Returns list's status; its error is in resp->err. */
CO_MUST_CHECK co_status co_resp_list(co_request *req, co_response *resp, co_list_fn list);

/* Parses an If-Match value (RFC 9110 8.8.3 / 13.1.1) against this API's
 * entity tags, which are "<version>" (decimal digits, no sign or space,
 * version >= 1), with an optional W/ prefix. *version receives the
 * version, or -1 for "*". false when value is anything else. Pure. */
bool co_if_match_parse(const char *value, int64_t *version);

#endif
