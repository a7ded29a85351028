/* creds_int.h - what aws/creds.c (the provider: chain, cache, refresh) and
 * aws/creds_sources.c (the sources: environment, shared files, ECS
 * container endpoint, IMDSv2) share. Not a public interface: callers use
 * aws/creds.h.
 */
#ifndef CUTOVER_AWS_CREDS_INT_H
#define CUTOVER_AWS_CREDS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/creds.h"
#include "core/status.h"

/* The sources, in chain order; SRC_NONE while nothing is cached. */
typedef enum source_kind {
    SRC_NONE,
    SRC_ENV,
    SRC_FILES,
    SRC_ECS,
    SRC_IMDS,
    SRC_KIND_LAST
} source_kind;

/* The environment variables the provider reads, snapshotted in
 * co_aws_provider_new(). */
typedef enum env_var {
    ENV_ACCESS_KEY_ID,
    ENV_SECRET_ACCESS_KEY,
    ENV_SESSION_TOKEN,
    ENV_PROFILE,
    ENV_SHARED_CREDENTIALS_FILE,
    ENV_CONFIG_FILE,
    ENV_HOME,
    ENV_ECS_RELATIVE_URI,
    ENV_ECS_FULL_URI,
    ENV_ECS_AUTH_TOKEN,
    ENV_ECS_AUTH_TOKEN_FILE,
    ENV_ECS_HOST,
    ENV_IMDS_DISABLED,
    ENV_IMDS_ENDPOINT,
    ENV_IMDS_ENDPOINT_MODE,
    ENV_VAR_LAST
} env_var;

/* The variables' names, indexed by env_var (defined in creds.c). */
extern const char *const creds_env_names[];

struct co_aws_provider {
    /* Immutable after co_aws_provider_new(). */
    char *env[ENV_VAR_LAST]; /* NULL when unset or empty */
    char *profile;
    bool skip_env;
    bool profile_explicit;
    int64_t refresh_window_ms, retry_after_ms;
    co_aws_clock_fn now_ms;
    void *clock_ctx;
    long connect_timeout_ms, request_timeout_ms;

    /* Guarded by lock. */
    pthread_mutex_t lock;
    co_aws_creds *cached;    /* NULL until resolved */
    source_kind kind;        /* which source produced cached */
    int64_t next_attempt_ms; /* no refresh attempt before this (unless expired) */
    bool fetching;           /* a source is being asked, without the lock */
    pthread_cond_t fetched;  /* signalled when that fetch ends */
};

/* Wipes s (OPENSSL_cleanse) and frees it. NULL-safe. */
void creds_wipe_free(char *s);

/* New credentials from copies of the strings; token may be NULL or "".
 * Caller frees with co_aws_creds_free(); NULL when out of memory. */
co_aws_creds *creds_new(const char *akid, const char *secret, const char *token,
                        int64_t expiration_ms, const char *source);

/* Runs one source (SRC_ENV .. SRC_IMDS; not SRC_NONE) for p: CO_OK with
 * *out set (found, caller frees), CO_OK with *out NULL and the reason in
 * why[whysz] (not configured here: try the next source), or an error in
 * err (configured but broken: stop). ECS and IMDS block on HTTP for up to
 * p's timeouts; called without p->lock (reads only immutable fields). */
co_status creds_source_fetch(source_kind kind, co_aws_provider *p, co_aws_creds **out,
                             char *why, size_t whysz, co_error *err);

#endif
