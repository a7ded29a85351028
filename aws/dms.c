/* dms.c - the DMS JSON 1.1 client; see dms.h.
 *
 * DESIGN: co_dms_call() loops over attempts; each attempt fetches
 * credentials (cached by the provider), serializes and signs the request,
 * performs it on a pooled CURL handle and classifies the answer
 * (attempt()). Only CO_DMS_RETRYABLE answers are tried again, after a
 * full-jitter delay bounded by retry_cap_ms. Everything in co_dms_client
 * is immutable after co_dms_client_new() except the handle pool, which
 * `lock` guards. Metrics are process-wide atomics.
 */
#include "aws/dms.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/creds.h"
#include "aws/sigv4.h"
#include "aws/url.h"
#include "core/clock.h"
#include "core/log.h"

#define TARGET_PREFIX "AmazonDMSv20160101."
#define CONTENT_TYPE "application/x-amz-json-1.1"
#define POOL_MAX 8
#define BODY_MAX ((size_t)16 << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_TIMEOUT_MS 20000L
#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_RETRY_BASE_MS 100
#define DEFAULT_RETRY_CAP_MS 400

struct co_dms_client {
    /* Immutable after co_dms_client_new(). */
    char *url;          /* where requests go */
    char *host_header;  /* "host[:port]" exactly as sent and signed */
    char *path;         /* "/" or the override's path */
    char *region;
    bool direct;        /* loopback: bypass proxies */
    co_aws_provider *creds; /* borrowed */
    long connect_timeout_ms, timeout_ms;
    int max_attempts;
    int64_t retry_base_ms, retry_cap_ms;

    /* Guarded by lock. */
    pthread_mutex_t lock;
    CURL *pool[POOL_MAX];
    size_t npool;
};

/* ---- metrics ------------------------------------------------------------ */

static const char *const metric_ops[] = {
    "DescribeAccountAttributes", "CreateReplicationInstance",
    "DescribeReplicationInstances", "DeleteReplicationInstance", "CreateEndpoint",
    "DescribeEndpoints", "DeleteEndpoint", "ModifyEndpoint", "TestConnection",
    "DescribeConnections", "RefreshSchemas", "DescribeRefreshSchemasStatus",
    "CreateReplicationTask", "DescribeReplicationTasks", "StartReplicationTask",
    "StopReplicationTask", "ModifyReplicationTask", "DeleteReplicationTask",
    "DescribeTableStatistics", "other"};
#define N_METRIC_OPS (sizeof metric_ops / sizeof metric_ops[0])
_Static_assert(N_METRIC_OPS == CO_DMS_METRIC_OPS, "CO_DMS_METRIC_OPS must match metric_ops");

typedef enum outcome {
    OUT_OK,
    OUT_THROTTLED,
    OUT_SERVER_ERROR,
    OUT_NETWORK_ERROR,
    OUT_ERROR,
    OUT_LAST
} outcome;

static const char *const outcome_names[] = {
    [OUT_OK] = "ok", [OUT_THROTTLED] = "throttled", [OUT_SERVER_ERROR] = "server_error",
    [OUT_NETWORK_ERROR] = "network_error", [OUT_ERROR] = "error"};
_Static_assert(OUT_LAST == CO_DMS_OUTCOMES, "CO_DMS_OUTCOMES must match outcome");
_Static_assert(sizeof outcome_names / sizeof outcome_names[0] == OUT_LAST,
               "outcome_names must cover outcome");

static atomic_ullong m_requests[N_METRIC_OPS][OUT_LAST];
static atomic_ullong m_retries[N_METRIC_OPS];

static size_t metric_op(const char *op)
{
    for (size_t i = 0; i + 1 < N_METRIC_OPS; i++)
        if (strcmp(metric_ops[i], op) == 0)
            return i;
    return N_METRIC_OPS - 1;
}

void co_dms_counters_read(co_dms_counters *out)
{
    memset(out, 0, sizeof *out);
    out->ops = metric_ops;
    out->outcomes = outcome_names;
    for (size_t i = 0; i < N_METRIC_OPS; i++) {
        for (int o = 0; o < OUT_LAST; o++)
            out->requests[i][o] = atomic_load(&m_requests[i][o]);
        out->retries[i] = atomic_load(&m_retries[i]);
    }
}

/* ---- client ------------------------------------------------------------- */

void co_dms_result_clear(co_dms_result *r)
{
    if (!r)
        return;
    json_decref(r->body);
    memset(r, 0, sizeof *r);
}

static bool host_is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "[::1]") == 0;
}

static co_status parse_url(co_dms_client *c, const char *url, co_error *err)
{
    co_url_parts p;
    co_status rc = CO_OK;
    if (co_url_split(url, &p) != 0) {
        rc = co_error_set(err, CO_ERR_INVALID, "DMS endpoint %s is not a URL", url);
        goto out;
    }
    if ((strcmp(p.scheme, "http") != 0 && strcmp(p.scheme, "https") != 0) || p.query ||
        p.user || p.fragment) {
        rc = co_error_set(err, CO_ERR_INVALID,
                          "DMS endpoint %s: an http(s) URL without query, user or "
                          "fragment is expected", url);
        goto out;
    }
    c->direct = host_is_loopback(p.host);
    if (asprintf(&c->host_header, "%s%s%s", p.host, p.port ? ":" : "", p.port ? p.port : "") <
        0) {
        c->host_header = NULL;
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    } else if (!(c->path = strdup(p.path && *p.path ? p.path : "/")) ||
               !(c->url = strdup(url))) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
out:
    co_url_parts_free(&p);
    return rc;
}

co_status co_dms_client_new(const co_dms_options *o, co_dms_client **out, co_error *err)
{
    co_dms_client *c;
    char url[512];
    co_status rc;
    *out = NULL;
    if (!o || !o->region || !*o->region || !o->creds)
        return co_error_set(err, CO_ERR_INVALID, "DMS client needs a region and credentials");
    if (strspn(o->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(o->region))
        return co_error_set(err, CO_ERR_INVALID, "bad AWS region %s", o->region);
    if (!(c = calloc(1, sizeof *c)))
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return co_error_set(err, CO_ERR_INTERNAL, "mutex init failed");
    }
    c->creds = o->creds;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                      : DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_attempts = o->max_attempts > 0 ? o->max_attempts : DEFAULT_MAX_ATTEMPTS;
    c->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : DEFAULT_RETRY_BASE_MS;
    c->retry_cap_ms = o->retry_cap_ms > 0 ? o->retry_cap_ms : DEFAULT_RETRY_CAP_MS;
    if (o->endpoint && *o->endpoint)
        snprintf(url, sizeof url, "%s", o->endpoint);
    else
        snprintf(url, sizeof url, "https://dms.%s.amazonaws.com/", o->region);
    if (!(c->region = strdup(o->region))) {
        co_dms_client_free(c);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    if ((rc = parse_url(c, url, err)) != CO_OK) {
        co_dms_client_free(c);
        return rc;
    }
    *out = c;
    return CO_OK;
}

void co_dms_client_free(co_dms_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    pthread_mutex_destroy(&c->lock);
    free(c->url);
    free(c->host_header);
    free(c->path);
    free(c->region);
    free(c);
}

const char *co_dms_client_url(const co_dms_client *c)
{
    return c->url;
}

static CURL *handle_get(co_dms_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->npool)
        h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->lock);
    if (h) {
        curl_easy_reset(h); /* keeps live connections and caches */
        return h;
    }
    return curl_easy_init();
}

static void handle_put(co_dms_client *c, CURL *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->npool < POOL_MAX) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- one attempt -------------------------------------------------------- */

typedef struct exchange {
    co_buf body;
    char error_type_header[128];
    char request_id[80];
} exchange;

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    exchange *x = userp;
    size_t n = size * nmemb;
    return co_buf_append(&x->body, data, n) == CO_OK ? n : 0;
}

static void header_value(const char *line, size_t n, size_t name_len, char *out, size_t size)
{
    const char *v = line + name_len, *end = line + n;
    while (v < end && isspace((unsigned char)*v))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    snprintf(out, size, "%.*s", (int)(end - v), v);
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *userp)
{
    exchange *x = userp;
    size_t n = size * nmemb;
    static const char et[] = "x-amzn-errortype:", rid[] = "x-amzn-requestid:";
    if (n > sizeof et - 1 && strncasecmp(line, et, sizeof et - 1) == 0)
        header_value(line, n, sizeof et - 1, x->error_type_header,
                     sizeof x->error_type_header);
    else if (n > sizeof rid - 1 && strncasecmp(line, rid, sizeof rid - 1) == 0)
        header_value(line, n, sizeof rid - 1, x->request_id, sizeof x->request_id);
    return n;
}

static void slist_wipe_free(struct curl_slist *l)
{
    for (struct curl_slist *i = l; i; i = i->next)
        OPENSSL_cleanse(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

static co_status add_header(struct curl_slist **l, const char *name, const char *value)
{
    char *line = NULL;
    struct curl_slist *n;
    if (asprintf(&line, "%s: %s", name, value) < 0)
        return CO_ERR_NOMEM;
    n = curl_slist_append(*l, line);
    OPENSSL_cleanse(line, strlen(line));
    free(line);
    if (!n)
        return CO_ERR_NOMEM;
    *l = n;
    return CO_OK;
}

/* Signs the request and builds the header list (owned by *out). */
static co_status sign_headers(const co_dms_client *c, const co_aws_creds *cr,
                              const char *target, const char *body, size_t len,
                              struct curl_slist **out, co_error *err)
{
    co_sigv4_header h[] = {{"Host", c->host_header},
                           {"Content-Type", CONTENT_TYPE},
                           {"X-Amz-Target", target}};
    co_sigv4_request req = {.method = "POST", .path = c->path, .headers = h,
                            .nheaders = 3, .payload = body, .payload_len = len};
    co_sigv4_credentials sc = {cr->access_key_id, cr->secret_access_key,
                               cr->session_token};
    co_sigv4_params sp = {.creds = &sc, .region = c->region, .service = "dms",
                          .timestamp = co_clock_now_ms() / 1000};
    co_sigv4_result sr = {0};
    struct curl_slist *l = NULL;
    co_status rc = co_sigv4_sign(&req, &sp, &sr, err);
    for (size_t i = 0; rc == CO_OK && i < 3; i++)
        rc = add_header(&l, h[i].name, h[i].value);
    for (size_t i = 0; rc == CO_OK && i < sr.nadd; i++)
        rc = add_header(&l, sr.add[i].name, sr.add[i].value);
    if (rc == CO_OK && !(l = curl_slist_append(l, "Expect:")))
        rc = CO_ERR_NOMEM;
    co_sigv4_result_clear(&sr);
    if (rc != CO_OK) {
        slist_wipe_free(l);
        return co_error_set(err, rc, "cannot sign the DMS request");
    }
    *out = l;
    return CO_OK;
}

static bool curl_terminal(CURLcode cc)
{
    return cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ||
           cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
           cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_WRITE_ERROR ||
           cc == CURLE_OUT_OF_MEMORY;
}

/* Performs one HTTP exchange and fills res (class, type, message, body).
 * Returns the metrics outcome. */
static outcome attempt(co_dms_client *c, const char *body, size_t len,
                       struct curl_slist *headers, co_dms_result *res)
{
    exchange x;
    CURL *h = handle_get(c);
    CURLcode cc;
    outcome o;
    memset(&x, 0, sizeof x);
    x.body.cap = BODY_MAX;
    json_decref(res->body);
    res->body = NULL;
    res->http_status = 0;
    res->error_type[0] = res->message[0] = res->request_id[0] = '\0';
    if (!h) {
        res->cls = CO_DMS_RETRYABLE;
        snprintf(res->error_type, sizeof res->error_type, "NetworkError");
        snprintf(res->message, sizeof res->message, "curl_easy_init failed");
        return OUT_NETWORK_ERROR;
    }
    co_curl_request_setup(h, c->url, c->connect_timeout_ms, c->timeout_ms,
                          "cutoverd/" CUTOVER_VERSION, headers, c->direct);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        res->cls = curl_terminal(cc) ? CO_DMS_TERMINAL : CO_DMS_RETRYABLE;
        snprintf(res->error_type, sizeof res->error_type, "%s",
                 cc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "NetworkError");
        snprintf(res->message, sizeof res->message, "%s%s", curl_easy_strerror(cc),
                 cc == CURLE_WRITE_ERROR ? " (response too large)" : "");
        o = OUT_NETWORK_ERROR;
        /* a broken connection must not be reused */
        curl_easy_cleanup(h);
        h = NULL;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->http_status);
    snprintf(res->request_id, sizeof res->request_id, "%s", x.request_id);
    if (res->http_status >= 200 && res->http_status < 300) {
        res->body = x.body.len ? json_loadb(x.body.data, x.body.len, 0, NULL) : json_object();
        if (json_is_object(res->body)) {
            co_dms_drop_nulls(res->body); /* null = absent, as the SDKs read it */
            res->cls = CO_DMS_OK;
            o = OUT_OK;
        } else {
            json_decref(res->body);
            res->body = NULL;
            res->cls = CO_DMS_RETRYABLE;
            snprintf(res->error_type, sizeof res->error_type, "BadResponse");
            snprintf(res->message, sizeof res->message,
                     "HTTP %ld with a body that is not a JSON object", res->http_status);
            o = OUT_SERVER_ERROR;
        }
        goto out;
    }
    co_dms_parse_error(x.body.data, x.body.len, x.error_type_header, res->error_type,
                       sizeof res->error_type, res->message, sizeof res->message);
    if (!res->error_type[0])
        snprintf(res->error_type, sizeof res->error_type, "HTTP%ld", res->http_status);
    res->body = x.body.len ? json_loadb(x.body.data, x.body.len, 0, NULL) : NULL;
    res->cls = co_dms_classify(res->http_status, res->error_type);
    o = co_dms_is_throttling(res->http_status, res->error_type) ? OUT_THROTTLED
        : res->http_status >= 500                        ? OUT_SERVER_ERROR
                                                         : OUT_ERROR;
out:
    co_buf_free(&x.body);
    handle_put(c, h);
    return o;
}

static int64_t jitter_ms(const co_dms_client *c, int retry)
{
    int64_t ceiling = c->retry_base_ms;
    uint32_t r = 0;
    for (int i = 1; i < retry && ceiling < c->retry_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > c->retry_cap_ms)
        ceiling = c->retry_cap_ms;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint32_t)co_clock_mono_ms();
    return (int64_t)(((double)r / 4294967296.0) * (double)(ceiling + 1));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static co_status status_of(co_dms_class cls)
{
    switch (cls) {
    case CO_DMS_OK: return CO_OK;
    case CO_DMS_RETRYABLE: return CO_ERR_TRANSIENT;
    case CO_DMS_INVALID_STATE:
    case CO_DMS_ALREADY_EXISTS: return CO_ERR_CONFLICT;
    case CO_DMS_NOT_FOUND: return CO_ERR_NOT_FOUND;
    default: return CO_ERR_REMOTE;
    }
}

/* Fetches credentials for one attempt; on failure fills res. */
static co_status get_creds(co_dms_client *c, co_aws_creds **cr, co_dms_result *res,
                           co_error *err)
{
    co_error cerr;
    co_status rc;
    co_error_clear(&cerr);
    if ((rc = co_aws_provider_get(c->creds, cr, &cerr)) == CO_OK)
        return CO_OK;
    res->cls = rc == CO_ERR_TRANSIENT ? CO_DMS_RETRYABLE : CO_DMS_TERMINAL;
    snprintf(res->error_type, sizeof res->error_type, "CredentialsError");
    snprintf(res->message, sizeof res->message, "%s", cerr.message);
    return co_error_set(err, rc, "AWS credentials: %s", cerr.message);
}

co_status co_dms_call(co_dms_client *c, const char *op, const json_t *input,
                      co_dms_result *res, co_error *err)
{
    char target[128];
    char *body = NULL;
    size_t len, mop;
    co_status rc = CO_OK;

    co_dms_result_clear(res);
    if (!op || !*op || strlen(op) > 64)
        return co_error_set(err, CO_ERR_INVALID, "bad DMS operation name");
    mop = metric_op(op);
    snprintf(target, sizeof target, TARGET_PREFIX "%s", op);
    body = input ? json_dumps(input, JSON_COMPACT) : strdup("{}");
    if (!body)
        return co_error_set(err, CO_ERR_NOMEM, "cannot serialize the DMS request");
    len = strlen(body);
    for (int n = 1; n <= c->max_attempts; n++) {
        co_aws_creds *cr = NULL;
        struct curl_slist *headers = NULL;
        outcome o;
        if ((rc = get_creds(c, &cr, res, err)) != CO_OK)
            break;
        rc = sign_headers(c, cr, target, body, len, &headers, err);
        co_aws_creds_free(cr);
        if (rc != CO_OK) {
            res->cls = CO_DMS_TERMINAL;
            break;
        }
        o = attempt(c, body, len, headers, res);
        slist_wipe_free(headers);
        res->attempts = n;
        atomic_fetch_add(&m_requests[mop][o], 1);
        if (res->cls != CO_DMS_RETRYABLE || n == c->max_attempts)
            break;
        if (strncmp(res->error_type, "ExpiredToken", 12) == 0)
            co_aws_provider_invalidate(c->creds);
        atomic_fetch_add(&m_retries[mop], 1);
        co_log(CO_LOG_DEBUG, "dms", "%s: %s (HTTP %ld), retry %d of %d", op,
               res->error_type, res->http_status, n, c->max_attempts - 1);
        sleep_ms(jitter_ms(c, n));
    }
    OPENSSL_cleanse(body, len);
    free(body);
    if (rc != CO_OK)
        return rc;
    if ((rc = status_of(res->cls)) != CO_OK)
        co_error_set(err, rc, "DMS %s: %s: %s (HTTP %ld, %d attempt%s)", op,
                     res->error_type, res->message[0] ? res->message : "no message",
                     res->http_status, res->attempts, res->attempts == 1 ? "" : "s");
    return rc;
}

co_status co_dms_paginate(co_dms_client *c, const char *op, const json_t *input,
                          const char *list_key, int max_pages, bool not_found_empty,
                          json_t **items, co_dms_result *res, co_error *err)
{
    json_t *in = input ? json_deep_copy(input) : json_object();
    json_t *all = json_array();
    co_status rc = CO_OK;
    int page = 0;
    *items = NULL;
    if (!in || !all) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        json_t *list;
        const char *marker;
        if (page++ == max_pages) {
            rc = co_error_set(err, CO_ERR_REMOTE, "DMS %s: more than %d pages", op,
                              max_pages);
            goto out;
        }
        rc = co_dms_call(c, op, in, res, err);
        if (rc == CO_ERR_NOT_FOUND && page == 1 && not_found_empty) {
            co_error_clear(err);
            rc = CO_OK;
            break;
        }
        if (rc != CO_OK)
            goto out;
        list = json_object_get(res->body, list_key);
        if (!json_is_array(list)) {
            rc = co_error_set(err, CO_ERR_REMOTE, "DMS %s: answer without %s", op,
                              list_key);
            goto out;
        }
        json_array_extend(all, list);
        marker = json_string_value(json_object_get(res->body, "Marker"));
        if (!marker || !*marker)
            break;
        json_object_set_new(in, "Marker", json_string(marker));
    }
    *items = all;
    all = NULL;
out:
    json_decref(in);
    json_decref(all);
    return rc;
}
