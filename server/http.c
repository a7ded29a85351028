/* http.c - see http.h.
 *
 * THREADS: callbacks run on libmicrohttpd's pool threads. Per-request state
 * (req_ctx) lives in *req_cls from the first callback to on_completed. The
 * in-flight counter and its condition variable (guarded by mu) let
 * co_http_stop drain requests. POSTs that carry the same Idempotency-Key
 * (for the same principal) are serialised so that two concurrent retries
 * cannot both execute: idem_mu guards only the list of keys in flight and is
 * never held while a handler runs; a second request with a key in flight
 * waits on idem_cv.
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/app.h"
#include "server/auth.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "handlers/scope.h"
#include "server/guard.h"
#include "server/limits.h"
#include "server/tls.h"
#include "server/metrics.h"
#include "server/problem.h"
#include "server/reqparse.h"
#include "server/router.h"
#include "server/longpoll.h"
#include "server/session.h"
#include "server/sse.h"
#include "store/idempotency.h"

struct co_http {
    co_app *app;
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int inflight;
    atomic_int draining;   /* co_http_stop began: new requests get 503 */
    pthread_mutex_t idem_mu;
    pthread_cond_t idem_cv;
    struct idem_key *idem_keys; /* keys in flight, guarded by idem_mu */
    co_sse *sse;           /* event streams and their heartbeat */
    co_limits *limits;     /* streams, request rate, failed sign-ins */
    co_tls tls;            /* certificate and key when serving HTTPS */
    co_longpoll *lp;       /* requests held by ?wait= */
};

typedef struct req_ctx {
    int64_t start_ms;
    co_buf body;
    int too_large;
    const char *op;        /* route name for metrics/logs (static) */
    int status;            /* final status, for logs and metrics */
    co_error reject;       /* set by precheck: answered without the body */
    co_role role;          /* caller's role (admin without a tokens file) */
    char principal[64];    /* caller's token name, or "anonymous" */
    char project[40];      /* the token's project scope, "" for none */
    char request_id[24];   /* 16 hex digits, sent back as X-Request-Id */
    int retry_after_s;     /* Retry-After of a rejection (429, 503) */
    bool stream_counted;   /* an event stream admitted by the limits */
    char address[64];      /* the client's IP address */
    int64_t wait_until_ms; /* deadline of a held request (co_longpoll) */
    co_longpoll_wait *wait;
} req_ctx;

#define ALLOWED_HEADERS \
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, Last-Event-ID, " \
    "X-CSRF-Token"
#define EXPOSED_HEADERS "ETag, Location, Idempotent-Replayed, Retry-After"
/* Retry-After (seconds) on every 503 and 429 that does not set its own */
#define RETRY_AFTER_S "5"

/* ------------------------------------------------------------- responses */

static void add_cors(co_app *app, struct MHD_Connection *conn,
                     struct MHD_Response *r)
{
    const char *origin =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    int ok = 0;
    if (!origin || !app->auth)
        return; /* without tokens every caller is admin: no cross-origin use */
    for (int i = 0; i < app->cfg.n_cors_origins; i++)
        if (strcmp(app->cfg.cors_origins[i], "*") == 0 ||
            strcmp(app->cfg.cors_origins[i], origin) == 0)
            ok = 1;
    if (!ok)
        return;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(r, "Vary", "Origin");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", EXPOSED_HEADERS);
}

static struct MHD_Response *bytes_response(const char *data, size_t len,
                                           const char *content_type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (r && content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return r;
}

static struct MHD_Response *json_response(json_t *body, const char *content_type)
{
    char *text = json_dumps(body, JSON_COMPACT);
    struct MHD_Response *r;
    if (!text)
        return NULL;
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return r;
}

static struct MHD_Response *problem_response_x(const co_error *err, const char *path,
                                               json_t *extra, int *status)
{
    json_t *p = co_problem_new(err, path, extra);
    struct MHD_Response *r;
    *status = co_status_http(err->status);
    if (!p)
        return NULL;
    r = json_response(p, CO_PROBLEM_CONTENT_TYPE);
    json_decref(p);
    return r;
}

static struct MHD_Response *problem_response(const co_error *err, const char *path,
                                             int *status)
{
    return problem_response_x(err, path, NULL, status);
}

/* Adds Retry-After: seconds to r when seconds > 0. */
static void add_retry_after(struct MHD_Response *r, int seconds)
{
    char v[16];
    if (!r || seconds <= 0)
        return;
    snprintf(v, sizeof v, "%d", seconds);
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
}

/* Turns a handler's stream request into an SSE response in resp->mhd. */
static co_status open_stream(co_http *http, co_request *req, co_response *resp)
{
    co_events_filter f = {resp->stream.run_id, resp->stream.project_id, resp->stream.type,
                          resp->stream.end_on_final, resp->stream.run_final};
    bool total = false;
    co_status rc;
    if (!http->sse)
        return co_error_set(&resp->err, CO_ERR_TRANSIENT, "event streams are not available");
    resp->retry_after_s = co_limits_stream_open(http->limits, req->principal, &total);
    if (resp->retry_after_s > 0)
        return total ? co_error_set(&resp->err, CO_ERR_BUSY,
                                    "every event stream slot is taken (%d): poll the "
                                    "JSON pages or try again later",
                                    http->app->cfg.max_streams)
                     : co_error_set(&resp->err, CO_ERR_RATE_LIMITED,
                                    "token '%s' has %d event streams open already",
                                    req->principal, http->app->cfg.max_streams_per_token);
    rc = co_sse_response(http->sse, req->app->store, req->conn, resp->stream.after, &f,
                         &resp->mhd, &resp->err);
    if (rc == CO_OK)
        resp->stream.counted = true;
    else
        co_limits_stream_close(http->limits, req->principal);
    return rc;
}

/* Renders resp into an MHD response and its status. */
static struct MHD_Response *render(co_http *http, co_request *req, co_response *resp,
                                   co_status rc, int *status)
{
    struct MHD_Response *r;
    if (rc == CO_OK && resp->stream.active && !resp->mhd)
        rc = open_stream(http, req, resp);
    if (rc != CO_OK) {
        if (resp->err.status == CO_OK)
            co_error_set(&resp->err, rc, "%s", co_status_str(rc));
        r = problem_response_x(&resp->err, req->path, resp->problem_extra, status);
        add_retry_after(r, resp->retry_after_s);
        return r;
    }
    if (resp->mhd) {
        r = resp->mhd;
        resp->mhd = NULL;
    } else if (resp->json) {
        r = json_response(resp->json, "application/json");
    } else if (resp->raw) {
        r = bytes_response(resp->raw, resp->raw_len,
                           resp->content_type ? resp->content_type : "text/plain");
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    *status = resp->status ? resp->status : 200;
    if (r && resp->etag[0]) {
        char quoted[80];
        snprintf(quoted, sizeof quoted, "\"%s\"", resp->etag);
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, quoted);
    }
    if (r && resp->location[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
    return r;
}

static void resp_clear(co_response *resp)
{
    json_decref(resp->json);
    json_decref(resp->problem_extra);
    free(resp->raw);
    if (resp->mhd)
        MHD_destroy_response(resp->mhd);
    memset(resp, 0, sizeof *resp);
}

/* ------------------------------------------------------------ idempotency */

/* An Idempotency-Key being processed: principal + "\n" + key. */
typedef struct idem_key {
    char id[600];
    struct idem_key *next;
} idem_key;

/* Waits until no other request processes (principal, key), then marks it
 * in flight in *slot (released with idem_release). */
static void idem_acquire(co_http *http, const char *principal, const char *key,
                         idem_key *slot)
{
    snprintf(slot->id, sizeof slot->id, "%s\n%s", principal ? principal : "", key);
    pthread_mutex_lock(&http->idem_mu);
    for (;;) {
        idem_key *k = http->idem_keys;
        while (k && strcmp(k->id, slot->id) != 0)
            k = k->next;
        if (!k)
            break;
        pthread_cond_wait(&http->idem_cv, &http->idem_mu);
    }
    slot->next = http->idem_keys;
    http->idem_keys = slot;
    pthread_mutex_unlock(&http->idem_mu);
}

static void idem_release(co_http *http, idem_key *slot)
{
    pthread_mutex_lock(&http->idem_mu);
    for (idem_key **k = &http->idem_keys; *k; k = &(*k)->next)
        if (*k == slot) {
            *k = slot->next;
            break;
        }
    pthread_cond_broadcast(&http->idem_cv);
    pthread_mutex_unlock(&http->idem_mu);
}

/* Runs the handler for a POST with an Idempotency-Key: replays a stored
 * response, refuses a reused key with another body, or runs and stores. */
static struct MHD_Response *run_idempotent(co_http *http, co_request *req,
                                           const char *key, int *status)
{
    co_response resp;
    co_idem_record rec, stored;
    idem_key slot;
    int found = 0;
    co_status rc;
    struct MHD_Response *r = NULL;

    memset(&resp, 0, sizeof resp);
    memset(&rec, 0, sizeof rec);
    if (strlen(key) == 0 || strlen(key) > 255) {
        co_error_field(&resp.err, "@Idempotency-Key", "must be 1 to 255 bytes");
        return problem_response(&resp.err, req->path, status);
    }
    co_idem_fingerprint(req->app->idem_key, req->method, req->path, req->body,
                        req->body_len, rec.fingerprint);
    if (!rec.fingerprint[0]) {
        co_error_set(&resp.err, CO_ERR_CRYPTO, "cannot fingerprint the request");
        return problem_response(&resp.err, req->path, status);
    }
    idem_acquire(http, req->principal, key, &slot);
    rc = co_idem_get(req->app->store, req->principal, key, &stored, &found,
                     &resp.err);
    if (rc != CO_OK) {
        r = problem_response(&resp.err, req->path, status);
        goto out;
    }
    if (found) {
        if (strcmp(stored.fingerprint, rec.fingerprint) != 0) {
            co_error_set(&resp.err, CO_ERR_UNPROCESSABLE,
                         "Idempotency-Key '%s' was already used with another "
                         "request (method, path or body differ)", key);
            co_error_field(&resp.err, "@Idempotency-Key", "reused with another body");
            r = problem_response(&resp.err, req->path, status);
        } else {
            r = bytes_response(stored.body, stored.body_len, stored.content_type);
            *status = stored.status;
            if (r && stored.location[0])
                MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, stored.location);
            if (r && stored.etag[0])
                MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, stored.etag);
            if (r)
                MHD_add_response_header(r, "Idempotent-Replayed", "true");
        }
        free(stored.body);
        goto out;
    }
    rc = req->route->handler(req, &resp);
    if (rc == CO_OK && resp.json && !resp.mhd) {
        char *text = json_dumps(resp.json, JSON_COMPACT);
        if (text) {
            rec.status = resp.status ? resp.status : 200;
            snprintf(rec.content_type, sizeof rec.content_type, "application/json");
            snprintf(rec.location, sizeof rec.location, "%s", resp.location);
            if (resp.etag[0])
                snprintf(rec.etag, sizeof rec.etag, "\"%.60s\"", resp.etag);
            rec.body = text;
            rec.body_len = strlen(text);
            if (rec.status < 300 && !resp.no_store) {
                co_error ierr;
                co_error_clear(&ierr);
                if (co_idem_put(req->app->store, req->principal, key, req->method,
                                req->path, &rec, &ierr) != CO_OK)
                    co_log(CO_LOG_WARN, "http", "could not store idempotency key: %s",
                           ierr.message);
            }
            free(text);
        }
    }
    r = render(http, req, &resp, rc, status);
out:
    idem_release(http, &slot);
    resp_clear(&resp);
    return r;
}

/* -------------------------------------------------------------- precheck */

/* HEAD is GET without the body (RFC 9110 9.3.2): routed as GET; an Allow
 * list that has GET gets HEAD too. */
static const char *route_method(const char *method)
{
    return strcmp(method, "HEAD") == 0 ? "GET" : method;
}

static void allow_head(char *allow, size_t size)
{
    size_t used = strlen(allow);
    if (strstr(allow, "GET") && used + 7 < size)
        snprintf(allow + used, size - used, ", HEAD");
}

/* Tells whether the request announces a body (Content-Length > 0 or a
 * Transfer-Encoding). */
static bool announces_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return (cl && strtoull(cl, NULL, 10) > 0) || te;
}

/* Authenticates the caller of route from the Authorization header into
 * ctx->role and ctx->principal; a failure is recorded in ctx->reject. */
static void authenticate(co_http *http, struct MHD_Connection *conn, const char *method,
                         const co_route *route, req_ctx *ctx)
{
    co_app *app = http->app;
    const char *hdr;
    co_auth_caller who;
    if (route->min_role == CO_ROLE_NONE || !app->auth)
        return;
    if ((ctx->retry_after_s = co_limits_auth_blocked(http->limits, ctx->address)) > 0) {
        co_error_set(&ctx->reject, CO_ERR_RATE_LIMITED,
                     "too many failed sign-ins from %s: try again in %d s",
                     ctx->address, ctx->retry_after_s);
        return;
    }
    hdr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                      MHD_HTTP_HEADER_AUTHORIZATION);
    memset(&who, 0, sizeof who);
    if (co_session_auth(app->auth, conn, method, hdr, &who, &ctx->reject) != CO_OK) {
        if (ctx->reject.status == CO_ERR_UNAUTHORIZED)
            co_limits_auth_failed(http->limits, ctx->address);
        return;
    }
    snprintf(ctx->principal, sizeof ctx->principal, "%s", who.name);
    snprintf(ctx->project, sizeof ctx->project, "%s", who.project);
    ctx->role = who.role;
    if (who.role < route->min_role)
        co_error_set(&ctx->reject, CO_ERR_FORBIDDEN,
                     "%s needs the %s role; token '%s' has %s", route->name,
                     co_role_name(route->min_role), ctx->principal,
                     co_role_name(who.role));
}

/* Fills ctx->request_id (random) and ctx->address (the peer's IP). */
static void identify(struct MHD_Connection *conn, req_ctx *ctx)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    unsigned char rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd);
    co_hex_encode(rnd, sizeof rnd, ctx->request_id);
    snprintf(ctx->address, sizeof ctx->address, "unknown");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ctx->address,
                  sizeof ctx->address);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ctx->address,
                  sizeof ctx->address);
}

/* Checks what can be checked on the headers alone, before any of the body
 * is read (server/guard.h): the Host and Origin of a daemon without tokens,
 * the caller's token and role, the body's media type. The first failure is
 * kept in ctx->reject; the body is then discarded unread. */
static void precheck(co_http *http, struct MHD_Connection *conn,
                     const char *method, const char *url, req_ctx *ctx)
{
    co_app *app = http->app;
    char pathbuf[1024], allow[64];
    const char *params[CO_MAX_PATH_PARAMS];
    size_t nparams = 0;
    const co_route *route = NULL;
    bool mutating = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
                    strcmp(method, "OPTIONS") != 0;

    ctx->role = CO_ROLE_ADMIN;
    snprintf(ctx->principal, sizeof ctx->principal, "anonymous");
    identify(conn, ctx);
    if (atomic_load(&http->draining)) {
        co_error_set(&ctx->reject, CO_ERR_BUSY,
                     "cutoverd is stopping: it finishes the requests in flight and "
                     "answers none that arrive meanwhile; try again once it is back");
        ctx->retry_after_s = 5;
        return;
    }
    if (co_tls_client_ok(&http->tls, conn, &ctx->reject) != CO_OK)
        return;
    if (!app->auth) {
        const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_HOST);
        const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         "Origin");
        if (!co_guard_host_ok(host, app->cfg.listen, http->port)) {
            co_error_set(&ctx->reject, CO_ERR_MISDIRECTED,
                         "this daemon runs without tokens and only answers "
                         "requests addressed to its own loopback address, not "
                         "Host '%.200s'", host ? host : "");
            co_error_field(&ctx->reject, "@Host", "must name the listen address");
            return;
        }
        if (mutating && !co_guard_origin_ok(origin, app->cfg.listen, http->port)) {
            co_error_set(&ctx->reject, CO_ERR_FORBIDDEN,
                         "cross-site requests are refused by a daemon without "
                         "tokens (Origin '%.200s')", origin);
            co_error_field(&ctx->reject, "@Origin", "must be the daemon's own origin");
            return;
        }
    }
    if (co_route_match(co_routes, co_routes_count, route_method(method), url, pathbuf,
                       sizeof pathbuf, &route, params, &nparams, allow,
                       sizeof allow) != CO_ROUTE_FOUND)
        return; /* dispatch answers 404, 405 or the preflight */
    authenticate(http, conn, method, route, ctx);
    if (ctx->reject.status != CO_OK)
        return;
    if (app->auth && mutating &&
        (ctx->retry_after_s = co_limits_take(http->limits, ctx->principal)) > 0) {
        co_error_set(&ctx->reject, CO_ERR_RATE_LIMITED,
                     "token '%s' sent more than %d changes a second: try again in %d s",
                     ctx->principal, app->cfg.rate_limit, ctx->retry_after_s);
        return;
    }
    if (co_guard_media_type(method,
                            MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_CONTENT_TYPE),
                            announces_body(conn), &ctx->reject) != CO_OK)
        return;
}

/* The problem response for a request precheck refused. */
static struct MHD_Response *rejected(const req_ctx *ctx, const char *url,
                                     int *status)
{
    struct MHD_Response *r = problem_response(&ctx->reject, url, status);
    if (r && ctx->reject.status == CO_ERR_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"cutover\"");
    add_retry_after(r, ctx->retry_after_s);
    return r;
}

/* -------------------------------------------------------------- dispatch */

/* MHD_OPTION_UNESCAPE_CALLBACK: see co_path_unescape. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return co_path_unescape(s);
}

static struct MHD_Response *dispatch(co_http *http, struct MHD_Connection *conn,
                                     const char *method, const char *url,
                                     req_ctx *ctx, int *status)
{
    co_app *app = http->app;
    co_request req;
    co_response resp;
    char pathbuf[1024], allow[64];
    const co_route *route = NULL;
    co_route_result match;
    struct MHD_Response *r;
    co_status rc;

    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.app = app;
    req.conn = conn;
    req.method = method;
    req.path = url;
    req.body = ctx->body.data ? ctx->body.data : "";
    req.body_len = ctx->body.len;
    req.principal = ctx->principal;
    req.scope_project = ctx->project[0] ? ctx->project : NULL;
    req.request_id = ctx->request_id;
    req.address = ctx->address;
    req.role = ctx->role;

    if (ctx->reject.status != CO_OK)
        return rejected(ctx, url, status);
    if (ctx->too_large) {
        co_error_set(&resp.err, CO_ERR_TOO_LARGE,
                     "the request body is larger than %zu bytes", app->cfg.max_body);
        return problem_response(&resp.err, url, status);
    }
    if (co_path_has_control(url)) {
        co_error_set(&resp.err, CO_ERR_INVALID,
                     "the path must not contain control characters (%%00-%%1F, %%7F)");
        return problem_response(&resp.err, "", status);
    }
    match = co_route_match(co_routes, co_routes_count, route_method(method), url, pathbuf,
                           sizeof pathbuf, &route, req.params, &req.nparams, allow,
                           sizeof allow);
    allow_head(allow, sizeof allow);
    if (strcmp(method, "OPTIONS") == 0 && match != CO_ROUTE_NOT_FOUND) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (match == CO_ROUTE_NO_METHOD && r) {
            MHD_add_response_header(r, "Allow", allow);
            MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
            MHD_add_response_header(r, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
            MHD_add_response_header(r, "Access-Control-Max-Age", "600");
        }
        ctx->op = "preflight";
        *status = 204;
        return r;
    }
    if (match == CO_ROUTE_NOT_FOUND) {
        co_error_set(&resp.err, CO_ERR_NOT_FOUND, "no route for %s %s", method, url);
        return problem_response(&resp.err, url, status);
    }
    if (match == CO_ROUTE_NO_METHOD) {
        json_t *p;
        co_error_set(&resp.err, CO_ERR_INVALID, "%s is not allowed on %s (allowed: %s)",
                     method, url, allow);
        p = co_problem_new(&resp.err, url, NULL);
        json_object_set_new(p, "status", json_integer(405));
        json_object_set_new(p, "title", json_string("Method Not Allowed"));
        json_object_set_new(p, "type", json_string("urn:cutover:problem:method-not-allowed"));
        r = json_response(p, CO_PROBLEM_CONTENT_TYPE);
        json_decref(p);
        if (r)
            MHD_add_response_header(r, "Allow", allow);
        *status = 405;
        return r;
    }
    req.route = route;
    ctx->op = route->name;
    if (co_scope_check(&req, &resp.err) != CO_OK)
        return problem_response(&resp.err, url, status);
    if (strcmp(method, "POST") == 0) {
        const char *key = co_req_header(&req, "Idempotency-Key");
        if (key)
            return run_idempotent(http, &req, key, status);
    }
    co_longpoll_release(ctx->wait);   /* a held request runs again */
    ctx->wait = NULL;
    req.wait_until_ms = ctx->wait_until_ms;
    rc = route->handler(&req, &resp);
    for (int tries = 0; rc == CO_OK && resp.wait_until_ms > 0 && http->lp && tries < 8;
         tries++) {
        int held = co_longpoll_park(http->lp, app->store, conn, resp.wait_run_id,
                                    resp.wait_seen, resp.wait_until_ms, &ctx->wait);
        ctx->wait_until_ms = req.wait_until_ms = resp.wait_until_ms;
        if (held < 0)
            break;
        resp_clear(&resp);
        if (held > 0)
            return NULL;   /* libmicrohttpd calls on_request again once resumed */
        rc = route->handler(&req, &resp);
    }
    r = render(http, &req, &resp, rc, status);
    ctx->stream_counted = resp.stream.counted;
    resp_clear(&resp);
    return r;
}

/* An announced body over --max-body is refused with 413 from the headers,
 * before any of it is read: libmicrohttpd then sends no "100 Continue"
 * and closes the connection instead of reading the body. */
/* Queues r (status; consumed) with the headers every response gets:
 * Retry-After on a 503 or 429 that has none, CORS, X-Request-Id. With
 * close (a refusal sent before the body announced by the request is read)
 * the connection is closed after it. */
static enum MHD_Result send_response(co_http *http, struct MHD_Connection *conn,
                                     req_ctx *ctx, struct MHD_Response *r, int status,
                                     bool close)
{
    enum MHD_Result ret;
    if (!r)
        return MHD_NO;
    if ((status == 503 || status == 429) &&
        !MHD_get_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER))
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
    if (close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    add_cors(http->app, conn, r);
    MHD_add_response_header(r, "X-Request-Id", ctx->request_id);
    ctx->status = status;
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result refuse_too_large(co_http *http, struct MHD_Connection *conn,
                                        const char *url, req_ctx *ctx)
{
    co_error err;
    struct MHD_Response *r;
    int status = 413;
    co_error_clear(&err);
    co_error_set(&err, CO_ERR_TOO_LARGE,
                 "the request body (Content-Length) is larger than %zu bytes",
                 http->app->cfg.max_body);
    r = problem_response(&err, url, &status);
    return send_response(http, conn, ctx, r, status, true);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    co_http *http = cls;
    req_ctx *ctx = *req_cls;
    struct MHD_Response *r;
    int status = 500;

    (void)version;
    if (!ctx) {
        const char *cl;
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        ctx->start_ms = co_clock_mono_ms();
        ctx->op = "unmatched";
        ctx->body.cap = http->app->cfg.max_body;
        co_error_clear(&ctx->reject);
        *req_cls = ctx;
        pthread_mutex_lock(&http->mu);
        http->inflight++;
        pthread_mutex_unlock(&http->mu);
        precheck(http, conn, method, url, ctx);
        if (ctx->reject.status != CO_OK && announces_body(conn)) {
            r = rejected(ctx, url, &status);
            return send_response(http, conn, ctx, r, status, true);
        }
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > http->app->cfg.max_body) {
            ctx->too_large = 1;
            return refuse_too_large(http, conn, url, ctx);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->too_large && ctx->reject.status == CO_OK &&
            co_buf_append(&ctx->body, upload_data, *upload_data_size) != CO_OK)
            ctx->too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    r = dispatch(http, conn, method, url, ctx, &status);
    if (!r && ctx->wait)
        return MHD_YES;
    return send_response(http, conn, ctx, r, status, false);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    co_http *http = cls;
    req_ctx *ctx = *req_cls;
    (void)conn;
    (void)toe;
    if (!ctx)
        return;
    if (ctx->stream_counted)
        co_limits_stream_close(http->limits, ctx->principal);
    {
        double secs = (double)(co_clock_mono_ms() - ctx->start_ms) / 1000.0;
        co_metrics_observe_request(http->app->metrics, ctx->op, ctx->status, secs);
        co_log(CO_LOG_DEBUG, "http", "%s status=%d ms=%.1f caller=%s address=%s "
               "request_id=%s", ctx->op, ctx->status, secs * 1000.0, ctx->principal,
               ctx->address, ctx->request_id);
    }
    co_longpoll_release(ctx->wait);
    co_buf_free(&ctx->body);
    free(ctx);
    *req_cls = NULL;
    pthread_mutex_lock(&http->mu);
    if (--http->inflight == 0)
        pthread_cond_broadcast(&http->idle);
    pthread_mutex_unlock(&http->mu);
}

__attribute__((format(printf, 2, 0)))
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    co_log(CO_LOG_WARN, "http", "libmicrohttpd: %s", msg);
}

co_status co_http_start(co_app *app, co_http **out, co_error *err)
{
    struct sockaddr_storage addr;
    bool loopback = false;
    co_http *http;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    int conn_limit;
    struct MHD_OptionItem tls_opts[4];

    if (co_config_listen_addr(&app->cfg, &addr, &loopback, err) != CO_OK)
        return CO_ERR_INVALID;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    http = calloc(1, sizeof *http);
    if (!http)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    http->app = app;
    /* the configured port, so that Host checks work from the first request;
     * port 0 is replaced by the bound port below */
    http->port = ntohs(addr.ss_family == AF_INET6
                           ? ((struct sockaddr_in6 *)&addr)->sin6_port
                           : ((struct sockaddr_in *)&addr)->sin_port);
    if (app->events && co_sse_new(app->events, 15000, &http->sse, err) != CO_OK) {
        free(http);
        return err->status;
    }
    {
        /* descriptors: the runner's (SQLite, libpq, pg_dump pipes, libcurl)
         * are reserved; connections and streams share the rest */
        int budget = co_limits_fd_budget(256 + 16 * app->cfg.workers);
        co_limits_config lc = {0};
        conn_limit = app->cfg.max_connections < budget ? app->cfg.max_connections : budget;
        lc.max_streams = app->cfg.max_streams < conn_limit - 32 ? app->cfg.max_streams
                                                                : conn_limit - 32;
        lc.max_streams_per_token = app->auth ? app->cfg.max_streams_per_token : 0;
        lc.rate_per_s = app->cfg.rate_limit;
        lc.burst = 2.0 * app->cfg.rate_limit;
        lc.auth_failures = 100; /* per address and minute */
        lc.auth_window_s = 60;
        if (!(http->limits = co_limits_new(&lc))) {
            co_sse_free(http->sse);
            free(http);
            return co_error_set(err, CO_ERR_NOMEM, "out of memory");
        }
        if (conn_limit < app->cfg.max_connections || lc.max_streams < app->cfg.max_streams)
            co_log(CO_LOG_WARN, "http",
                   "open-file limit: %d connections and %d event streams at most "
                   "(--max-connections %d, --max-streams %d)", conn_limit,
                   lc.max_streams, app->cfg.max_connections, app->cfg.max_streams);
    }
    if (co_tls_load(&app->cfg, &http->tls, err) != CO_OK) {
        co_limits_free(http->limits);
        co_sse_free(http->sse);
        free(http);
        return err->status;
    }
    if (app->events && co_longpoll_new(app->events, &http->lp, err) != CO_OK) {
        co_tls_free(&http->tls);
        co_limits_free(http->limits);
        co_sse_free(http->sse);
        free(http);
        return err->status;
    }
    co_tls_options(&http->tls, tls_opts);
    if (http->tls.cert)
        flags |= MHD_USE_TLS;
    pthread_mutex_init(&http->mu, NULL);
    pthread_cond_init(&http->idle, NULL);
    pthread_mutex_init(&http->idem_mu, NULL);
    pthread_cond_init(&http->idem_cv, NULL);
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, &on_request, http, MHD_OPTION_EXTERNAL_LOGGER,
        &mhd_logger, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)app->cfg.http_threads, MHD_OPTION_NOTIFY_COMPLETED, &on_completed,
        http, MHD_OPTION_UNESCAPE_CALLBACK, &unescape, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)conn_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)app->cfg.max_connections_per_address, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_END);
    if (!http->daemon) {
        co_http_stop(http, 0);
        return co_error_set(err, CO_ERR_IO, "cannot listen on %s: %s", app->cfg.listen,
                            strerror(errno));
    }
    info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info ? info->port : 0;
    *out = http;
    return CO_OK;
}

uint16_t co_http_port(const co_http *http)
{
    return http->port;
}

void co_http_stop(co_http *http, int drain_ms)
{
    if (!http)
        return;
    if (http->daemon) {
        /* Requests that arrive while the others drain get a 503 (precheck).
         * MHD_quiesce_daemon is not used: in libmicrohttpd 0.9.75 with
         * MHD_USE_EPOLL_INTERNAL_THREAD and a thread pool it races a pool
         * thread removing the listen socket from its epoll set and aborts
         * the process ("Failed to remove listen FD from epoll set"). */
        struct timespec deadline;
        atomic_store(&http->draining, 1);
        co_clock_deadline(&deadline, drain_ms);
        pthread_mutex_lock(&http->mu);
        while (http->inflight > 0 &&
               pthread_cond_timedwait(&http->idle, &http->mu, &deadline) == 0)
            ;
        if (http->inflight > 0)
            co_log(CO_LOG_WARN, "http", "%d requests still open after %d ms drain",
                   http->inflight, drain_ms);
        pthread_mutex_unlock(&http->mu);
        MHD_stop_daemon(http->daemon);
    }
    co_sse_free(http->sse);
    co_limits_free(http->limits);
    co_tls_free(&http->tls);
    co_longpoll_free(http->lp);
    pthread_mutex_destroy(&http->idem_mu);
    pthread_cond_destroy(&http->idem_cv);
    pthread_cond_destroy(&http->idle);
    pthread_mutex_destroy(&http->mu);
    free(http);
}
