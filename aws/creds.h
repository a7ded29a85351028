/* creds.h - the AWS credential chain and a caching, thread-safe provider.
 *
 * Sources, tried in the order of the AWS SDKs' default chain (botocore's
 * create_credential_resolver, the SDK reference guide "Standardized
 * credential providers"); the first that yields credentials wins:
 *
 *   1. environment   AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *                    (+ AWS_SESSION_TOKEN). Skipped when a profile is given
 *                    explicitly in the options, as botocore does.
 *   2. shared files  the profile (options, else AWS_PROFILE, else
 *                    "default") in the shared credentials file
 *                    (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials;
 *                    sections "[name]"), then in the config file
 *                    (AWS_CONFIG_FILE, else ~/.aws/config; sections
 *                    "[profile name]", or "[default]"). Keys
 *                    aws_access_key_id, aws_secret_access_key,
 *                    aws_session_token.
 *   3. ECS container AWS_CONTAINER_CREDENTIALS_RELATIVE_URI against
 *                    http://169.254.170.2 (host overridable with
 *                    CUTOVER_ECS_HOST="host[:port]", for tests), else
 *                    AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a
 *                    loopback / ECS / EKS address only). Authorization header
 *                    from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read at
 *                    each fetch) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
 *   4. EC2 IMDSv2    PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds),
 *                    GET /latest/meta-data/iam/security-credentials/ -> role,
 *                    GET .../<role> -> JSON. Endpoint http://169.254.169.254,
 *                    or AWS_EC2_METADATA_SERVICE_ENDPOINT, or
 *                    http://[fd00:ec2::254] when
 *                    AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6. Disabled
 *                    by AWS_EC2_METADATA_DISABLED=true. No IMDSv1 fallback.
 *
 * A source that is configured but broken stops the chain with an error
 * instead of silently falling through to the next identity (botocore does
 * the same): partial keys, an explicitly named profile that does not exist,
 * a profile that needs an unsupported provider (role_arn, sso_*,
 * credential_process, web_identity_token_file), an ECS endpoint that fails.
 * IMDS that cannot be reached simply means "not on EC2".
 *
 * THREADS: the provider is shared by the runner's worker threads; one mutex
 * guards its cache and is never held across a fetch (HTTP with a 1 s connect
 * timeout): one fetch runs at a time, concurrent callers serve the cached
 * credentials while they are still valid or wait for that one fetch instead
 * of each doing their own. co_aws_provider_get() may therefore block for up
 * to the request timeout: call it from worker threads, never from an HTTP
 * thread. co_aws_provider_source() (used by /readyz) never waits on a fetch. The environment is read once, in co_aws_provider_new().
 *
 * SECRETS: secret keys and session tokens are never logged, never put in a
 * co_error message, and are wiped (OPENSSL_cleanse) before their memory is
 * freed by this module. co_aws_provider_source() names the source only.
 */
#ifndef CUTOVER_AWS_CREDS_H
#define CUTOVER_AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Longest source description, NUL included ("shared-credentials-file:" +
 * profile name, truncated if needed). */
#define CO_AWS_SOURCE_MAX 128

/* One set of credentials; every string is owned. Free with
 * co_aws_creds_free(). */
typedef struct co_aws_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;          /* NULL for long-term keys */
    int64_t expiration_ms;        /* Unix epoch ms; 0 = does not expire */
    char source[CO_AWS_SOURCE_MAX]; /* as co_aws_provider_source() */
} co_aws_creds;

/* Wipes the secrets and frees c. NULL-safe. */
void co_aws_creds_free(co_aws_creds *c);

/* A clock returning Unix epoch milliseconds; ctx is passed back. */
typedef int64_t (*co_aws_clock_fn)(void *ctx);

/* Provider options; zero-initialize and set what you need. */
typedef struct co_aws_provider_options {
    /* Profile for the shared files. NULL: AWS_PROFILE, else "default".
     * Non-NULL also skips the environment source (botocore semantics of an
     * explicitly chosen profile). Copied. */
    const char *profile;
    /* Temporary credentials are refetched once the time left before their
     * Expiration is at most this. 0: 5 minutes (300000 ms). */
    int64_t refresh_window_ms;
    /* After a failed refresh while the cached credentials are still valid,
     * the cached ones are served and no new attempt is made for this long.
     * 0: 30 s. */
    int64_t retry_after_ms;
    /* Clock for expiry decisions. NULL: co_clock_now_ms(). Tests inject a
     * fake clock here so that no test sleeps. */
    co_aws_clock_fn now_ms;
    void *clock_ctx;
    /* libcurl timeouts for the ECS and IMDS endpoints. 0: 1000 ms connect,
     * 5000 ms per request. */
    long connect_timeout_ms;
    long request_timeout_ms;
} co_aws_provider_options;

typedef struct co_aws_provider co_aws_provider;

/* Creates a provider. opts may be NULL for all defaults. Reads (and copies)
 * the environment variables listed at the top of this file; does no I/O
 * otherwise (sources are resolved lazily by co_aws_provider_get()). Calls
 * curl_global_init() (reference-counted by libcurl; balanced in
 * co_aws_provider_free()), so create providers before starting threads or
 * after the daemon's own curl_global_init().
 * On success *out is a new provider owned by the caller.
 * Errors: CO_ERR_NOMEM, CO_ERR_INTERNAL (libcurl or mutex init). */
CO_MUST_CHECK co_status co_aws_provider_new(const co_aws_provider_options *opts,
                                            co_aws_provider **out, co_error *err);

/* Frees the provider and wipes its cache. NULL-safe. No other thread may be
 * using it. */
void co_aws_provider_free(co_aws_provider *p);

/* Returns credentials in *out: a new copy the caller frees with
 * co_aws_creds_free(). Served from the cache while they are not inside the
 * refresh window; otherwise refetched from the source that produced them
 * (ECS, IMDS), or resolved through the whole chain the first time and after
 * co_aws_provider_invalidate(). If a refresh fails while the cached
 * credentials have not expired yet, the cached ones are returned (and a
 * warning is logged) - the SDKs' "static stability".
 * Thread-safe; may block on HTTP (see THREADS above).
 * Errors:
 *   CO_ERR_NOT_FOUND     no source has credentials (message lists why);
 *                        also an explicitly named profile that exists in
 *                        neither file, or IMDS without an instance role;
 *   CO_ERR_INVALID       partial keys (an id without a secret or the reverse)
 *                        in the environment or a profile, a malformed ECS
 *                        URI or token, an http FULL_URI to a host that is not
 *                        loopback/ECS/EKS;
 *   CO_ERR_UNPROCESSABLE the profile needs a provider cutover lacks;
 *   CO_ERR_REMOTE        ECS/IMDS answered 4xx or malformed JSON (terminal);
 *   CO_ERR_TRANSIENT     ECS/IMDS timed out, refused or answered 5xx
 *                        (worth retrying), or cached credentials expired and
 *                        the refresh failed;
 *   CO_ERR_IO            a shared file exists but cannot be read;
 *   CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_aws_provider_get(co_aws_provider *p, co_aws_creds **out,
                                            co_error *err);

/* Writes the source of the cached credentials into buf (size bytes,
 * truncated, always NUL-terminated when size > 0) and returns buf:
 * "environment", "shared-credentials-file:<profile>",
 * "config-file:<profile>", "ecs-container", "imds", or "none" before the
 * first successful co_aws_provider_get() / after an invalidate. Never a
 * secret. Thread-safe, does not block on I/O. */
const char *co_aws_provider_source(co_aws_provider *p, char *buf, size_t size);

/* Drops the cached credentials so that the next co_aws_provider_get()
 * resolves the whole chain again (e.g. after AWS answered
 * ExpiredTokenException or the shared file was edited). Thread-safe. */
void co_aws_provider_invalidate(co_aws_provider *p);

#endif
