/* creds.c - the AWS credential chain; see creds.h.
 *
 * DESIGN: each source (aws/creds_sources.c) has the same contract, see
 * creds_source_fetch() in creds_int.h: CO_OK with *out set (found), CO_OK
 * with *out NULL and a reason in `why` (not configured here: try the next
 * source), or an error (configured but broken: stop). resolve_chain() runs
 * them in SDK order; refresh() reruns the one that produced the cached
 * credentials. The provider's mutex guards the cache (cached, kind,
 * next_attempt_ms, fetching); everything else in the struct is written once
 * in co_aws_provider_new() and only read afterwards. No lock is held while
 * a source is asked (ECS and IMDS answer over HTTP): one fetch runs at a
 * time, other callers serve the still-valid cache or wait on `fetched`.
 *
 * Secrets pass through: environment copies, file text, HTTP bodies, curl
 * header lists, co_aws_creds. Each is wiped with OPENSSL_cleanse() before it
 * is freed (creds_wipe_free() here; buf_wipe(), slist_wipe_free() in
 * creds_sources.c). jansson's own copies of parsed JSON strings are freed by
 * jansson without wiping.
 */
#include "aws/creds.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds_int.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"

#define DEFAULT_REFRESH_WINDOW_MS (5 * 60 * 1000)
#define DEFAULT_RETRY_AFTER_MS (30 * 1000)
#define DEFAULT_CONNECT_TIMEOUT_MS 1000L
#define DEFAULT_REQUEST_TIMEOUT_MS 5000L
#define WHY_MAX 512

/* Read once, in co_aws_provider_new(). */
const char *const creds_env_names[] = {
    [ENV_ACCESS_KEY_ID] = "AWS_ACCESS_KEY_ID",
    [ENV_SECRET_ACCESS_KEY] = "AWS_SECRET_ACCESS_KEY",
    [ENV_SESSION_TOKEN] = "AWS_SESSION_TOKEN",
    [ENV_PROFILE] = "AWS_PROFILE",
    [ENV_SHARED_CREDENTIALS_FILE] = "AWS_SHARED_CREDENTIALS_FILE",
    [ENV_CONFIG_FILE] = "AWS_CONFIG_FILE",
    [ENV_HOME] = "HOME",
    [ENV_ECS_RELATIVE_URI] = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    [ENV_ECS_FULL_URI] = "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    [ENV_ECS_AUTH_TOKEN] = "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    [ENV_ECS_AUTH_TOKEN_FILE] = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    [ENV_ECS_HOST] = "CUTOVER_ECS_HOST",
    [ENV_IMDS_DISABLED] = "AWS_EC2_METADATA_DISABLED",
    [ENV_IMDS_ENDPOINT] = "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    [ENV_IMDS_ENDPOINT_MODE] = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
};
_Static_assert(sizeof creds_env_names / sizeof creds_env_names[0] == ENV_VAR_LAST,
               "creds_env_names must cover env_var");

/* ---- credentials ------------------------------------------------------- */

void creds_wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void co_aws_creds_free(co_aws_creds *c)
{
    if (!c)
        return;
    creds_wipe_free(c->access_key_id);
    creds_wipe_free(c->secret_access_key);
    creds_wipe_free(c->session_token);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* New credentials from copies of the strings; token may be NULL or "". */
co_aws_creds *creds_new(const char *akid, const char *secret, const char *token,
                        int64_t expiration_ms, const char *source)
{
    co_aws_creds *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->access_key_id = strdup(akid);
    c->secret_access_key = strdup(secret);
    c->session_token = (token && *token) ? strdup(token) : NULL;
    c->expiration_ms = expiration_ms;
    snprintf(c->source, sizeof c->source, "%s", source);
    if (!c->access_key_id || !c->secret_access_key || (token && *token && !c->session_token)) {
        co_aws_creds_free(c);
        return NULL;
    }
    return c;
}

static co_aws_creds *creds_copy(const co_aws_creds *c)
{
    return creds_new(c->access_key_id, c->secret_access_key, c->session_token,
                     c->expiration_ms, c->source);
}

/* ---- the chain and the provider ------------------------------------------ */

static void log_resolved(const co_aws_creds *c, const char *verb)
{
    char ts[40];
    if (c->expiration_ms)
        co_log(CO_LOG_INFO, "aws", "credentials %s from %s, expiring %s", verb, c->source,
               co_clock_rfc3339(c->expiration_ms, ts, sizeof ts));
    else
        co_log(CO_LOG_INFO, "aws", "credentials %s from %s", verb, c->source);
}

/* Runs the sources in order. On success the new credentials and their
 * kind are returned; with none, CO_ERR_NOT_FOUND lists each reason. */
static co_status resolve_chain(co_aws_provider *p, co_aws_creds **out, source_kind *kind,
                               co_error *err)
{
    co_buf reasons = {.cap = 4096};
    co_status rc = CO_OK;

    for (int k = SRC_ENV; k < SRC_KIND_LAST; k++) {
        char why[WHY_MAX] = "";
        rc = creds_source_fetch((source_kind)k, p, out, why, sizeof why, err);
        if (rc != CO_OK || *out) {
            *kind = (source_kind)k;
            break;
        }
        if (co_buf_printf(&reasons, "%s%s", reasons.len ? "; " : "", why) != CO_OK)
            break; /* reasons are best effort */
    }
    if (rc == CO_OK && !*out)
        rc = co_error_set(err, CO_ERR_NOT_FOUND, "no AWS credentials found: %s",
                          reasons.data ? reasons.data : "");
    co_buf_free(&reasons);
    return rc;
}

static int64_t provider_now(const co_aws_provider *p)
{
    return p->now_ms ? p->now_ms(p->clock_ctx) : co_clock_now_ms();
}

/* What co_aws_provider_get must do before it can answer from the cache. */
typedef enum need { NEED_NOTHING, NEED_RESOLVE, NEED_REFRESH } need;

/* Called with the lock held. A refresh is due in the refresh window, but a
 * recent failed attempt is not repeated before next_attempt_ms unless the
 * cached credentials expired. */
static need what_is_needed(const co_aws_provider *p, int64_t now)
{
    if (!p->cached)
        return NEED_RESOLVE;
    if (!p->cached->expiration_ms ||
        now < p->cached->expiration_ms - p->refresh_window_ms)
        return NEED_NOTHING;
    if (now < p->cached->expiration_ms && now < p->next_attempt_ms)
        return NEED_NOTHING;
    return NEED_REFRESH;
}

/* Called with the lock held, after a refresh attempt made without it:
 * installs fresh credentials, or keeps serving the cached ones until they
 * expire, or reports the failure. Takes ownership of fresh. */
static co_status refresh_done(co_aws_provider *p, int64_t now, co_status rc,
                              co_aws_creds *fresh, const char *why, co_error *local,
                              co_error *err)
{
    bool expired = now >= p->cached->expiration_ms;
    p->next_attempt_ms = now + p->retry_after_ms;
    if (rc == CO_OK && !fresh)
        rc = co_error_set(local, CO_ERR_TRANSIENT, "%s no longer has credentials: %s",
                          p->cached->source, why);
    if (rc == CO_OK) {
        co_aws_creds_free(p->cached);
        p->cached = fresh;
        log_resolved(fresh, "refreshed");
        return CO_OK;
    }
    co_aws_creds_free(fresh);
    if (!expired) {
        co_log(CO_LOG_WARN, "aws", "refreshing credentials from %s failed, using the cached "
               "ones until they expire: %s", p->cached->source, local->message);
        return CO_OK;
    }
    return co_error_set(err, local->status, "credentials from %s expired and the refresh "
                        "failed: %s", p->cached->source, local->message);
}

/* One fetch at a time, made without the lock (ECS and IMDS answer over
 * HTTP): other callers serve the cache meanwhile while it is still valid,
 * and otherwise wait on `fetched` for the fetch in flight. */
co_status co_aws_provider_get(co_aws_provider *p, co_aws_creds **out, co_error *err)
{
    co_status rc = CO_OK;

    if (!p || !out)
        return co_error_set(err, CO_ERR_INVALID, "no provider");
    *out = NULL;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        int64_t now = provider_now(p);
        need n = what_is_needed(p, now);
        co_aws_creds *fresh = NULL;
        source_kind kind = p->kind;
        co_error local = {0};
        char why[WHY_MAX] = "";
        if (n == NEED_NOTHING)
            break;
        if (p->fetching) {
            if (n == NEED_REFRESH && now < p->cached->expiration_ms)
                break; /* still valid: serve it while another thread refreshes */
            pthread_cond_wait(&p->fetched, &p->lock);
            continue;
        }
        p->fetching = true;
        pthread_mutex_unlock(&p->lock);
        if (n == NEED_RESOLVE)
            rc = resolve_chain(p, &fresh, &kind, err);
        else
            rc = creds_source_fetch(kind, p, &fresh, why, sizeof why, &local);
        pthread_mutex_lock(&p->lock);
        p->fetching = false;
        pthread_cond_broadcast(&p->fetched);
        now = provider_now(p);
        if (n == NEED_REFRESH && p->cached) {
            rc = refresh_done(p, now, rc, fresh, why, &local, err);
        } else if (rc == CO_OK) {
            co_aws_creds_free(p->cached);
            p->cached = fresh;
            p->kind = kind;
            p->next_attempt_ms = now + p->retry_after_ms;
            log_resolved(fresh, "resolved");
        }
        break;
    }
    if (rc == CO_OK) {
        *out = creds_copy(p->cached);
        if (!*out)
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

const char *co_aws_provider_source(co_aws_provider *p, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (!p) {
        snprintf(buf, size, "none");
        return buf;
    }
    pthread_mutex_lock(&p->lock);
    snprintf(buf, size, "%s", p->cached ? p->cached->source : "none");
    pthread_mutex_unlock(&p->lock);
    return buf;
}

void co_aws_provider_invalidate(co_aws_provider *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    co_aws_creds_free(p->cached);
    p->cached = NULL;
    p->kind = SRC_NONE;
    p->next_attempt_ms = 0;
    pthread_mutex_unlock(&p->lock);
}

co_status co_aws_provider_new(const co_aws_provider_options *opts, co_aws_provider **out,
                              co_error *err)
{
    static const co_aws_provider_options defaults = {0};
    co_aws_provider *p;
    const char *profile;

    if (!out)
        return co_error_set(err, CO_ERR_INVALID, "no output pointer");
    *out = NULL;
    if (!opts)
        opts = &defaults;
    p = calloc(1, sizeof *p);
    if (!p)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(p);
        return co_error_set(err, CO_ERR_INTERNAL, "curl_global_init failed");
    }
    pthread_cond_init(&p->fetched, NULL);
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        curl_global_cleanup();
        free(p);
        return co_error_set(err, CO_ERR_INTERNAL, "pthread_mutex_init failed");
    }
    for (int i = 0; i < ENV_VAR_LAST; i++) {
        const char *v = getenv(creds_env_names[i]);
        if (v && *v && !(p->env[i] = strdup(v)))
            goto nomem;
    }
    profile = opts->profile ? opts->profile : p->env[ENV_PROFILE] ? p->env[ENV_PROFILE] : "default";
    p->skip_env = opts->profile != NULL;
    p->profile_explicit = opts->profile != NULL || p->env[ENV_PROFILE] != NULL;
    if (!(p->profile = strdup(profile)))
        goto nomem;
    p->refresh_window_ms = opts->refresh_window_ms > 0 ? opts->refresh_window_ms : DEFAULT_REFRESH_WINDOW_MS;
    p->retry_after_ms = opts->retry_after_ms > 0 ? opts->retry_after_ms : DEFAULT_RETRY_AFTER_MS;
    p->now_ms = opts->now_ms;
    p->clock_ctx = opts->clock_ctx;
    p->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    p->request_timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
    *out = p;
    return CO_OK;

nomem:
    co_aws_provider_free(p);
    return co_error_set(err, CO_ERR_NOMEM, "out of memory");
}

void co_aws_provider_free(co_aws_provider *p)
{
    if (!p)
        return;
    co_aws_creds_free(p->cached);
    for (int i = 0; i < ENV_VAR_LAST; i++)
        creds_wipe_free(p->env[i]);
    free(p->profile);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->fetched);
    curl_global_cleanup();
    free(p);
}
