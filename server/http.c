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
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/app.h"
#include "server/auth.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
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
    pthread_mutex_t idem_mu;
    pthread_cond_t idem_cv;
    struct idem_key *idem_keys; /* keys in flight, guarded by idem_mu */
    co_sse *sse;           /* event streams and their heartbeat */
    co_longpoll *lp;       /* requests held by ?wait= */
};

typedef struct req_ctx {
    int64_t start_ms;
    co_buf body;
    int too_large;
    const char *op;        /* route name for metrics/logs (static) */
    int status;            /* final status, for logs and metrics */
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
    if (!origin)
        return;
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

/* Turns a handler's stream request into an SSE response in resp->mhd. */
static co_status open_stream(co_http *http, co_request *req, co_response *resp)
{
    co_events_filter f = {resp->stream.run_id, resp->stream.project_id, resp->stream.type,
                          resp->stream.end_on_final, resp->stream.run_final};
    if (!http->sse)
        return co_error_set(&resp->err, CO_ERR_TRANSIENT, "event streams are not available");
    return co_sse_response(http->sse, req->app->store, req->conn, resp->stream.after, &f,
                           &resp->mhd, &resp->err);
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
        return problem_response_x(&resp->err, req->path, resp->problem_extra, status);
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
    co_idem_fingerprint(req->method, req->path, req->body, req->body_len,
                        rec.fingerprint);
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

/* -------------------------------------------------------------- dispatch */

/* MHD_OPTION_UNESCAPE_CALLBACK: see co_path_unescape. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return co_path_unescape(s);
}

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
    req.principal = "anonymous";
    req.role = CO_ROLE_ADMIN;

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
    if (route->min_role != CO_ROLE_NONE && app->auth) {
        const char *hdr = co_req_header(&req, MHD_HTTP_HEADER_AUTHORIZATION);
        if (co_session_auth(app->auth, &req, hdr, &resp.err) != CO_OK) {
            if (resp.err.status == CO_ERR_FORBIDDEN)
                return problem_response(&resp.err, url, status);
            r = problem_response(&resp.err, url, status);
            if (r)
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        "Bearer realm=\"cutover\"");
            return r;
        }
        if (req.role < route->min_role) {
            co_error_set(&resp.err, CO_ERR_FORBIDDEN,
                         "%s needs the %s role; token '%s' has %s", route->name,
                         co_role_name(route->min_role), req.principal,
                         co_role_name(req.role));
            return problem_response(&resp.err, url, status);
        }
    }
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
    resp_clear(&resp);
    return r;
}

/* An announced body over --max-body is refused with 413 from the headers,
 * before any of it is read: libmicrohttpd then sends no "100 Continue"
 * and closes the connection instead of reading the body. */
static enum MHD_Result refuse_too_large(co_http *http, struct MHD_Connection *conn,
                                        const char *url, req_ctx *ctx)
{
    co_error err;
    struct MHD_Response *r;
    enum MHD_Result ret;
    int status = 413;
    co_error_clear(&err);
    co_error_set(&err, CO_ERR_TOO_LARGE,
                 "the request body (Content-Length) is larger than %zu bytes",
                 http->app->cfg.max_body);
    if (!(r = problem_response(&err, url, &status)))
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    add_cors(http->app, conn, r);
    ctx->status = status;
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
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
    enum MHD_Result ret;

    (void)version;
    if (!ctx) {
        const char *cl;
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        ctx->start_ms = co_clock_mono_ms();
        ctx->op = "unmatched";
        ctx->body.cap = http->app->cfg.max_body;
        *req_cls = ctx;
        pthread_mutex_lock(&http->mu);
        http->inflight++;
        pthread_mutex_unlock(&http->mu);
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > http->app->cfg.max_body) {
            ctx->too_large = 1;
            return refuse_too_large(http, conn, url, ctx);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->too_large &&
            co_buf_append(&ctx->body, upload_data, *upload_data_size) != CO_OK)
            ctx->too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    r = dispatch(http, conn, method, url, ctx, &status);
    if (!r && ctx->wait)
        return MHD_YES;
    if (!r)
        return MHD_NO;
    if ((status == 503 || status == 429) &&
        !MHD_get_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER))
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
    add_cors(http->app, conn, r);
    ctx->status = status;
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
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
    {
        double secs = (double)(co_clock_mono_ms() - ctx->start_ms) / 1000.0;
        co_metrics_observe_request(http->app->metrics, ctx->op, ctx->status, secs);
        co_log(CO_LOG_DEBUG, "http", "%s status=%d ms=%.1f", ctx->op, ctx->status,
               secs * 1000.0);
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

    if (co_config_listen_addr(&app->cfg, &addr, &loopback, err) != CO_OK)
        return CO_ERR_INVALID;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    http = calloc(1, sizeof *http);
    if (!http)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    http->app = app;
    if (app->events && co_sse_new(app->events, 15000, &http->sse, err) != CO_OK) {
        free(http);
        return err->status;
    }
    if (app->events && co_longpoll_new(app->events, &http->lp, err) != CO_OK) {
        co_sse_free(http->sse);
        free(http);
        return err->status;
    }
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
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000, MHD_OPTION_LISTEN_BACKLOG_SIZE,
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
        /* per the libmicrohttpd manual, the quiesced listen socket may only
         * be closed after MHD_stop_daemon: pool threads may still use it */
        MHD_socket fd = MHD_quiesce_daemon(http->daemon);
        struct timespec deadline;
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
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    co_sse_free(http->sse);
    co_longpoll_free(http->lp);
    pthread_mutex_destroy(&http->idem_mu);
    pthread_cond_destroy(&http->idem_cv);
    pthread_cond_destroy(&http->idle);
    pthread_mutex_destroy(&http->mu);
    free(http);
}
