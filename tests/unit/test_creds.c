/* test_creds.c - aws/creds: the credential chain, its precedence, profiles,
 * the ECS and IMDSv2 endpoints, expiry refresh, thread safety, and that no
 * secret reaches the log.
 *
 * A libmicrohttpd server on 127.0.0.1 (port chosen by the kernel; in
 * creds_server.c) stands in for both the ECS container endpoint (checking
 * the Authorization token) and IMDSv2 (handing out a session token on PUT
 * and requiring it on every GET). Every provider is created through
 * new_provider(), which aborts the test if the environment could send a
 * request anywhere but 127.0.0.1: HOME points to a scratch directory, IMDS
 * is disabled or pointed at the fake, and the ECS variables name the fake.
 * Time is a fake clock passed in co_aws_provider_options, so refresh is
 * tested without sleeping.
 *
 * stderr (where co_log writes) is redirected to a scratch file for the
 * whole run; at the end the file is searched for every secret and token.
 */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/creds.h"
#include "tests/unit/creds_server.h"
#include "tests/unit/tap.h"

#define T0 1795435132000LL /* 2026-11-23T11:58:52Z, epoch ms */
#define MINUTE 60000LL
#define NONLOOPBACK_FULL_URI "http://10.1.2.3/creds" /* rejected before any I/O */

static int64_t fake_now = T0;
static char scratch[64]; /* mkdtemp */

static int64_t fake_clock(void *ctx)
{
    return __atomic_load_n((int64_t *)ctx, __ATOMIC_SEQ_CST);
}

static void set_now(int64_t ms)
{
    __atomic_store_n(&fake_now, ms, __ATOMIC_SEQ_CST);
}

/* ---- environment and files ------------------------------------------------- */

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "CUTOVER_ECS_HOST", "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "http_proxy", "HTTP_PROXY", "https_proxy",
    "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
};

static char fake_url[64], fake_hostport[64];

/* Clean slate: no AWS variables, HOME = scratch/home without .aws files,
 * IMDS at the fake. */
static void reset_env(void)
{
    char home[128], path[160];
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
    snprintf(home, sizeof home, "%s/home", scratch);
    setenv("HOME", home, 1);
    snprintf(path, sizeof path, "%s/.aws/credentials", home);
    unlink(path);
    snprintf(path, sizeof path, "%s/.aws/config", home);
    unlink(path);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_url, 1);
}

static void use_ecs(void)
{
    setenv("CUTOVER_ECS_HOST", fake_hostport, 1);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ECS_PATH, 1);
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Refuses (abort) to create a provider that could reach 169.254.169.254,
 * 169.254.170.2 or any address other than 127.0.0.1. */
static void assert_loopback_only(void)
{
    const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
    const char *imds = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    bool ok = (dis && strcmp(dis, "true") == 0) || starts_with(imds, "http://127.0.0.1:");
    if (rel)
        ok = ok && starts_with(getenv("CUTOVER_ECS_HOST"), "127.0.0.1:");
    if (full && !rel)
        ok = ok && (starts_with(full, "http://127.0.0.1:") || strcmp(full, NONLOOPBACK_FULL_URI) == 0);
    if (!ok) {
        fprintf(stdout, "test_creds: refusing to run a provider that could leave 127.0.0.1\n");
        abort();
    }
}

static co_aws_provider *new_provider(const co_aws_provider_options *extra)
{
    co_aws_provider_options o = {0};
    co_aws_provider *p = NULL;
    co_error err = {0};
    if (extra)
        o = *extra;
    o.now_ms = fake_clock;
    o.clock_ctx = &fake_now;
    assert_loopback_only();
    if (co_aws_provider_new(&o, &p, &err) != CO_OK) {
        fprintf(stdout, "co_aws_provider_new: %s\n", err.message);
        abort();
    }
    return p;
}

/* One resolution with a fresh provider; returns the status, fills *c. */
static co_status resolve_once(co_aws_creds **c, co_error *err)
{
    co_aws_provider *p = new_provider(NULL);
    co_status st;
    co_error_clear(err);
    st = co_aws_provider_get(p, c, err);
    co_aws_provider_free(p);
    return st;
}

static bool creds_are(const co_aws_creds *c, const char *akid, const char *secret,
                      const char *token, const char *source)
{
    return c && strcmp(c->access_key_id, akid) == 0 && strcmp(c->secret_access_key, secret) == 0 &&
           (token ? (c->session_token && strcmp(c->session_token, token) == 0) : !c->session_token) &&
           strcmp(c->source, source) == 0;
}

/* ---- scenarios --------------------------------------------------------------- */

static void test_nothing(void)
{
    co_aws_creds *c = NULL;
    co_error err;
    co_status st;
    char src[CO_AWS_SOURCE_MAX];
    co_aws_provider *p;

    reset_env();
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    p = new_provider(NULL);
    co_error_clear(&err);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_ERR_NOT_FOUND && c == NULL, "no source: not-found (%s)", co_status_str(st));
    CHECK(strstr(err.message, "AWS_ACCESS_KEY_ID not set") && strstr(err.message, "no keys for profile") &&
              strstr(err.message, "RELATIVE_URI") && strstr(err.message, "IMDS disabled"),
          "the error lists every source: %s", err.message);
    CHECK(strcmp(co_aws_provider_source(p, src, sizeof src), "none") == 0, "source none");
    co_aws_provider_free(p);
}

static void test_imds(void)
{
    co_aws_creds *c = NULL;
    co_error err;
    co_status st;
    char src[CO_AWS_SOURCE_MAX];
    co_aws_provider *p;
    int puts0, roles0, creds0;

    reset_env();
    fake_creds("ASIAIMDS1", "s3cr3t-imds-1", "t0k3n-imds-1", T0 + 360 * MINUTE);
    puts0 = fake_get(&srv.imds_puts);
    roles0 = fake_get(&srv.imds_role_gets);
    creds0 = fake_get(&srv.imds_creds_gets);
    p = new_provider(NULL);
    co_error_clear(&err);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && creds_are(c, "ASIAIMDS1", "s3cr3t-imds-1", "t0k3n-imds-1", "imds"),
          "IMDSv2: credentials (%s: %s)", co_status_str(st), err.message);
    CHECK(c && c->expiration_ms == T0 + 360 * MINUTE, "IMDSv2: Expiration parsed");
    CHECK(fake_get(&srv.imds_puts) == puts0 + 1 && fake_get(&srv.imds_role_gets) == roles0 + 1 &&
              fake_get(&srv.imds_creds_gets) == creds0 + 1 && fake_get(&srv.imds_bad_token) == 0,
          "IMDSv2: one PUT for the token, then role and credentials with the token");
    CHECK(strcmp(co_aws_provider_source(p, src, sizeof src), "imds") == 0, "source imds");
    co_aws_creds_free(c);

    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && fake_get(&srv.imds_creds_gets) == creds0 + 1, "IMDSv2: second get is cached");
    co_aws_creds_free(c);
    co_aws_provider_free(p);

    /* A trailing slash on the endpoint is fine. */
    char slash[80];
    snprintf(slash, sizeof slash, "%s/", fake_url);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", slash, 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "ASIAIMDS1", "s3cr3t-imds-1", "t0k3n-imds-1", "imds"),
          "IMDS endpoint with a trailing slash");
    co_aws_creds_free(c);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_url, 1);

    pthread_mutex_lock(&srv.lock);
    srv.imds_no_role = true;
    pthread_mutex_unlock(&srv.lock);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_NOT_FOUND && strstr(err.message, "no IAM role"), "IMDS without a role: %s",
          err.message);
    pthread_mutex_lock(&srv.lock);
    srv.imds_no_role = false;
    pthread_mutex_unlock(&srv.lock);

    fake_set(&srv.imds_status, 500);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_TRANSIENT, "IMDS 500: transient (%s)", err.message);
    fake_set(&srv.imds_status, 0);

    /* A stalled endpoint hits the request timeout: transient. */
    {
        co_aws_provider_options o = {.request_timeout_ms = 200};
        co_aws_provider *tp;
        fake_set(&srv.imds_delay_ms, 600);
        tp = new_provider(&o);
        co_error_clear(&err);
        st = co_aws_provider_get(tp, &c, &err);
        CHECK(st == CO_ERR_TRANSIENT && c == NULL && strstr(err.message, "imeout"),
              "IMDS stalls past request_timeout_ms: transient (%s)", err.message);
        co_aws_provider_free(tp);
        fake_set(&srv.imds_delay_ms, 0);
    }

    /* Nothing listens on 127.0.0.1:1: "not on EC2". */
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_NOT_FOUND && strstr(err.message, "IMDS unreachable"),
          "IMDS unreachable: not-found (%s)", err.message);

    /* Disabled: the fake sees nothing. */
    reset_env();
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    puts0 = fake_get(&srv.imds_puts);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_NOT_FOUND && fake_get(&srv.imds_puts) == puts0,
          "AWS_EC2_METADATA_DISABLED=TRUE: IMDS not contacted");
}

static void test_ecs(void)
{
    co_aws_creds *c = NULL;
    co_error err;
    co_status st;
    char path[256], full[128];
    int imds0, ecs0;

    reset_env();
    use_ecs();
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-t0k3n-1", 1);
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.ecs_auth, sizeof srv.ecs_auth, "auth-t0k3n-1");
    pthread_mutex_unlock(&srv.lock);
    fake_creds("ASIAECS1", "s3cr3t-ecs-1", "t0k3n-ecs-1", T0 + 60 * MINUTE);
    imds0 = fake_get(&srv.imds_puts);
    ecs0 = fake_get(&srv.ecs_requests);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "ASIAECS1", "s3cr3t-ecs-1", "t0k3n-ecs-1", "ecs-container"),
          "ECS relative URI with token (%s: %s)", co_status_str(st), err.message);
    CHECK(fake_get(&srv.ecs_requests) == ecs0 + 1 && fake_get(&srv.imds_puts) == imds0,
          "ECS beats IMDS: IMDS not contacted");
    co_aws_creds_free(c);

    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-wrong", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_REMOTE && strstr(err.message, "401") && fake_get(&srv.imds_puts) == imds0,
          "ECS wrong token: 401 stops the chain (%s)", err.message);
    CHECK(!strstr(err.message, "auth-wrong"), "the token is not in the error");

    /* FULL_URI + token file (wins over the variable, trailing newline trimmed). */
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    snprintf(full, sizeof full, "%s" FULL_PATH, fake_url);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    snprintf(path, sizeof path, "%s/ecs-token", scratch);
    CHECK(write_file(path, "auth-t0k3n-2\n"), "write token file");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.ecs_auth, sizeof srv.ecs_auth, "auth-t0k3n-2");
    pthread_mutex_unlock(&srv.lock);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "ASIAECS1", "s3cr3t-ecs-1", "t0k3n-ecs-1", "ecs-container"),
          "ECS full URI with token file (%s)", err.message);
    co_aws_creds_free(c);

    /* The file is re-read at each fetch (EKS rotates it). */
    CHECK(write_file(path, "auth-t0k3n-3"), "rotate token file");
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.ecs_auth, sizeof srv.ecs_auth, "auth-t0k3n-3");
    pthread_mutex_unlock(&srv.lock);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK, "rotated token file is used (%s)", err.message);
    co_aws_creds_free(c);

    CHECK(write_file(path, "auth-t0k3n-3\r\nX-Injected: 1"), "token file with a line break");
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_INVALID && strstr(err.message, "line break"), "token with CR/LF refused: %s",
          err.message);
    CHECK(write_file(path, "auth-t0k3n-3"), "restore token file");

    fake_set(&srv.ecs_status, 503);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_TRANSIENT, "ECS 503: transient (%s)", err.message);
    fake_set(&srv.ecs_status, 0);

    /* http to a non-loopback host is refused before any request. */
    ecs0 = fake_get(&srv.ecs_requests);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", NONLOOPBACK_FULL_URI, 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_INVALID && strstr(err.message, "loopback"), "FULL_URI http://10.1.2.3 refused: %s",
          err.message);

    /* A relative URI that does not start with '/'. */
    reset_env();
    setenv("CUTOVER_ECS_HOST", fake_hostport, 1);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "ecs/creds", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_INVALID && fake_get(&srv.ecs_requests) == ecs0,
          "relative URI without '/': invalid, no request");

    pthread_mutex_lock(&srv.lock);
    srv.ecs_auth[0] = '\0';
    pthread_mutex_unlock(&srv.lock);
}

static void write_shared_files(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/home/.aws", scratch);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/home/.aws/credentials", scratch);
    CHECK(write_file(path,
                     "# shared credentials\n"
                     "[default]\n"
                     "aws_access_key_id = AKIDFILEDEFAULT\n"
                     "aws_secret_access_key = s3cr3t-file-default\n"
                     "\n"
                     "; another comment\n"
                     "[dev]\n"
                     "AWS_Access_Key_Id=AKIDFILEDEV\n"
                     "aws_secret_access_key=s3cr3t-file-dev\n"
                     "aws_session_token = t0k3n-file-dev\n"
                     "s3 =\n"
                     "  aws_access_key_id = NESTED-IGNORED\n"
                     "[partial]\n"
                     "aws_access_key_id = AKIDPARTIAL\n"),
          "write credentials file");
    snprintf(path, sizeof path, "%s/home/.aws/config", scratch);
    CHECK(write_file(path,
                     "[default]\n"
                     "region = us-east-1\n"
                     "[profile cfg]\n"
                     "aws_access_key_id = AKIDCONFIG\n"
                     "aws_secret_access_key = s3cr3t-config\n"
                     "[profile   spaced ]\n"
                     "aws_access_key_id = AKIDSPACED\n"
                     "aws_secret_access_key = s3cr3t-spaced\n"
                     "[cfg]\n"
                     "aws_access_key_id = NOT-A-CONFIG-PROFILE\n"
                     "aws_secret_access_key = s3cr3t-not\n"
                     "[profile sso]\n"
                     "sso_start_url = https://example.invalid/start\n"
                     "[profile regiononly]\n"
                     "region = eu-west-1\n"),
          "write config file");
}

static void test_files(void)
{
    co_aws_creds *c = NULL;
    co_error err;
    co_status st;
    char path[256];
    int ecs0;

    reset_env();
    use_ecs();
    write_shared_files();
    fake_creds("ASIAECS1", "s3cr3t-ecs-1", "t0k3n-ecs-1", T0 + 60 * MINUTE);
    ecs0 = fake_get(&srv.ecs_requests);

    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "AKIDFILEDEFAULT", "s3cr3t-file-default", NULL,
                                   "shared-credentials-file:default") && c->expiration_ms == 0,
          "file beats ECS: default profile (%s)", err.message);
    CHECK(fake_get(&srv.ecs_requests) == ecs0, "ECS not contacted when the file has keys");
    co_aws_creds_free(c);

    setenv("AWS_PROFILE", "dev", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "AKIDFILEDEV", "s3cr3t-file-dev", "t0k3n-file-dev",
                                   "shared-credentials-file:dev"),
          "AWS_PROFILE=dev, keys case-insensitive, nested lines ignored (%s)", err.message);
    co_aws_creds_free(c);

    setenv("AWS_PROFILE", "cfg", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "AKIDCONFIG", "s3cr3t-config", NULL, "config-file:cfg"),
          "[profile cfg] in the config file, not [cfg] (%s)", err.message);
    co_aws_creds_free(c);

    setenv("AWS_PROFILE", "spaced", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "AKIDSPACED", "s3cr3t-spaced", NULL, "config-file:spaced"),
          "[profile   spaced ] (%s)", err.message);
    co_aws_creds_free(c);

    setenv("AWS_PROFILE", "missing", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_NOT_FOUND && strstr(err.message, "\"missing\" not found") &&
              fake_get(&srv.ecs_requests) == ecs0,
          "named profile missing: error, no fall-through to ECS (%s)", err.message);

    setenv("AWS_PROFILE", "sso", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_UNPROCESSABLE && strstr(err.message, "sso_start_url"),
          "SSO profile: unsupported (%s)", err.message);

    setenv("AWS_PROFILE", "partial", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_INVALID && strstr(err.message, "only one of"), "partial profile: %s",
          err.message);

    /* A profile with settings but no keys falls through to the next source. */
    setenv("AWS_PROFILE", "regiononly", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && c && strcmp(c->source, "ecs-container") == 0,
          "profile without keys: next source (%s)", err.message);
    co_aws_creds_free(c);
    unsetenv("AWS_PROFILE");

    /* AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE override the paths. */
    snprintf(path, sizeof path, "%s/other-credentials", scratch);
    CHECK(write_file(path, "[default]\naws_access_key_id=AKIDOTHER\naws_secret_access_key=s3cr3t-other\n"),
          "write other credentials");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "AKIDOTHER", "s3cr3t-other", NULL,
                                   "shared-credentials-file:default"),
          "AWS_SHARED_CREDENTIALS_FILE (%s)", err.message);
    co_aws_creds_free(c);
    snprintf(path, sizeof path, "%s/nonexistent", scratch);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    snprintf(path, sizeof path, "%s/other-config", scratch);
    CHECK(write_file(path, "[profile x]\naws_access_key_id=AKIDX\naws_secret_access_key=s3cr3t-x\n"),
          "write other config");
    setenv("AWS_CONFIG_FILE", path, 1);
    setenv("AWS_PROFILE", "x", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "AKIDX", "s3cr3t-x", NULL, "config-file:x"),
          "AWS_CONFIG_FILE, missing credentials file (%s)", err.message);
    co_aws_creds_free(c);
}

static void test_env(void)
{
    co_aws_creds *c = NULL;
    co_error err;
    co_status st;
    co_aws_provider_options o = {.profile = "dev"};
    co_aws_provider *p;

    reset_env();
    use_ecs();
    write_shared_files();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-env", 1);
    setenv("AWS_SESSION_TOKEN", "t0k3n-env", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && creds_are(c, "AKIDENV", "s3cr3t-env", "t0k3n-env", "environment"),
          "environment beats files, ECS, IMDS (%s)", err.message);
    co_aws_creds_free(c);

    setenv("AWS_PROFILE", "dev", 1);
    st = resolve_once(&c, &err);
    CHECK(st == CO_OK && c && strcmp(c->source, "environment") == 0,
          "AWS_PROFILE does not skip the environment");
    co_aws_creds_free(c);
    unsetenv("AWS_PROFILE");

    p = new_provider(&o);
    co_error_clear(&err);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && c && strcmp(c->source, "shared-credentials-file:dev") == 0,
          "an explicit profile option skips the environment (botocore)");
    co_aws_creds_free(c);
    co_aws_provider_free(p);

    unsetenv("AWS_SECRET_ACCESS_KEY");
    st = resolve_once(&c, &err);
    CHECK(st == CO_ERR_INVALID && strstr(err.message, "AWS_SECRET_ACCESS_KEY"),
          "partial environment: %s", err.message);
}

/* Expiry refresh with the fake clock; IMDS as the source. */
static void test_refresh(void)
{
    co_aws_creds *c = NULL;
    co_error err = {0};
    co_status st;
    co_aws_provider *p;
    int n0;

    reset_env();
    set_now(T0);
    fake_creds("ASIAREF1", "s3cr3t-ref-1", "t0k3n-ref-1", T0 + 10 * MINUTE);
    n0 = fake_get(&srv.imds_creds_gets);
    p = new_provider(NULL); /* default window: 5 minutes */
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && c && strcmp(c->access_key_id, "ASIAREF1") == 0, "refresh: first fetch");
    co_aws_creds_free(c);

    fake_creds("ASIAREF2", "s3cr3t-ref-2", "t0k3n-ref-2", T0 + 70 * MINUTE);
    set_now(T0 + 4 * MINUTE); /* 6 minutes left: outside the window */
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && c && strcmp(c->access_key_id, "ASIAREF1") == 0 &&
              fake_get(&srv.imds_creds_gets) == n0 + 1,
          "refresh: 6 min before Expiration, cached");
    co_aws_creds_free(c);

    set_now(T0 + 5 * MINUTE + 1); /* just inside the window */
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && c && strcmp(c->access_key_id, "ASIAREF2") == 0 &&
              c->expiration_ms == T0 + 70 * MINUTE && fake_get(&srv.imds_creds_gets) == n0 + 2,
          "refresh: inside the 5 min window, refetched");
    co_aws_creds_free(c);

    /* The endpoint fails while the cached ones are still valid: served. */
    fake_set(&srv.imds_status, 500);
    set_now(T0 + 66 * MINUTE);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && c && strcmp(c->access_key_id, "ASIAREF2") == 0 &&
              fake_get(&srv.imds_creds_gets) == n0 + 3,
          "refresh fails, cached credentials still valid: served (%s)", err.message);
    co_aws_creds_free(c);
    set_now(T0 + 66 * MINUTE + 10000);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && fake_get(&srv.imds_creds_gets) == n0 + 3,
          "no new attempt within retry_after (30 s)");
    co_aws_creds_free(c);
    set_now(T0 + 66 * MINUTE + 31000);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && fake_get(&srv.imds_creds_gets) == n0 + 4, "new attempt after retry_after");
    co_aws_creds_free(c);

    set_now(T0 + 70 * MINUTE); /* expired */
    co_error_clear(&err);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_ERR_TRANSIENT && c == NULL && strstr(err.message, "expired"),
          "expired and the refresh fails: error (%s)", err.message);

    fake_set(&srv.imds_status, 0);
    fake_creds("ASIAREF3", "s3cr3t-ref-3", "t0k3n-ref-3", T0 + 200 * MINUTE);
    co_error_clear(&err);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && c && strcmp(c->access_key_id, "ASIAREF3") == 0,
          "endpoint back: refreshed (%s)", err.message);
    co_aws_creds_free(c);

    /* invalidate: the whole chain again (one more token PUT). */
    n0 = fake_get(&srv.imds_puts);
    co_aws_provider_invalidate(p);
    char src[CO_AWS_SOURCE_MAX];
    CHECK(strcmp(co_aws_provider_source(p, src, sizeof src), "none") == 0, "invalidate: source none");
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && fake_get(&srv.imds_puts) == n0 + 1, "invalidate: resolved again");
    co_aws_creds_free(c);
    co_aws_provider_free(p);

    /* A custom window: 1 minute. */
    co_aws_provider_options o = {.refresh_window_ms = MINUTE};
    set_now(T0);
    fake_creds("ASIAWIN1", "s3cr3t-win-1", "t0k3n-win-1", T0 + 10 * MINUTE);
    p = new_provider(&o);
    st = co_aws_provider_get(p, &c, &err);
    co_aws_creds_free(c);
    n0 = fake_get(&srv.imds_creds_gets);
    set_now(T0 + 8 * MINUTE);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && fake_get(&srv.imds_creds_gets) == n0, "1 min window: cached at 2 min left");
    co_aws_creds_free(c);
    set_now(T0 + 9 * MINUTE + 1);
    st = co_aws_provider_get(p, &c, &err);
    CHECK(st == CO_OK && fake_get(&srv.imds_creds_gets) == n0 + 1, "1 min window: refetched inside");
    co_aws_creds_free(c);
    co_aws_provider_free(p);
}

/* ECS credentials that arrive already inside the window are not refetched
 * on every call, only every retry_after. */
static void test_refresh_ecs(void)
{
    co_aws_creds *c = NULL;
    co_error err = {0};
    co_aws_provider *p;
    int n0;

    reset_env();
    use_ecs();
    set_now(T0);
    fake_creds("ASIASHORT", "s3cr3t-short", "t0k3n-short", T0 + 2 * MINUTE);
    n0 = fake_get(&srv.ecs_requests);
    p = new_provider(NULL);
    CHECK(co_aws_provider_get(p, &c, &err) == CO_OK, "short-lived ECS credentials");
    co_aws_creds_free(c);
    set_now(T0 + 1000);
    CHECK(co_aws_provider_get(p, &c, &err) == CO_OK && fake_get(&srv.ecs_requests) == n0 + 1,
          "inside the window right away: no refetch before retry_after");
    co_aws_creds_free(c);
    set_now(T0 + 31000);
    CHECK(co_aws_provider_get(p, &c, &err) == CO_OK && fake_get(&srv.ecs_requests) == n0 + 2,
          "refetched after retry_after");
    co_aws_creds_free(c);
    co_aws_provider_free(p);
}

typedef struct thread_arg {
    co_aws_provider *p;
    int ok;
} thread_arg;

static void *hammer(void *arg)
{
    thread_arg *a = arg;
    for (int i = 0; i < 25; i++) {
        co_aws_creds *c = NULL;
        co_error err = {0};
        if (co_aws_provider_get(a->p, &c, &err) == CO_OK && c &&
            strncmp(c->access_key_id, "ASIATHR", 7) == 0)
            a->ok++;
        co_aws_creds_free(c);
    }
    return NULL;
}

/* Eight threads enter together with the credentials inside the window:
 * exactly one fetch happens, every call succeeds. */
static void test_threads(void)
{
    enum { NTHREADS = 8 };
    pthread_t t[NTHREADS];
    thread_arg a[NTHREADS];
    co_aws_creds *c = NULL;
    co_error err = {0};
    co_aws_provider *p;
    int n0, ok = 0;

    reset_env();
    set_now(T0);
    fake_creds("ASIATHR1", "s3cr3t-thr-1", "t0k3n-thr-1", T0 + 10 * MINUTE);
    p = new_provider(NULL);
    CHECK(co_aws_provider_get(p, &c, &err) == CO_OK, "threads: first fetch");
    co_aws_creds_free(c);
    fake_creds("ASIATHR2", "s3cr3t-thr-2", "t0k3n-thr-2", T0 + 100 * MINUTE);
    n0 = fake_get(&srv.imds_creds_gets);
    set_now(T0 + 6 * MINUTE);
    for (int i = 0; i < NTHREADS; i++) {
        a[i] = (thread_arg){p, 0};
        pthread_create(&t[i], NULL, hammer, &a[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].ok;
    }
    CHECK(ok == NTHREADS * 25, "threads: %d of %d calls succeeded", ok, NTHREADS * 25);
    CHECK(fake_get(&srv.imds_creds_gets) == n0 + 1, "threads: one refresh for all (%d)",
          fake_get(&srv.imds_creds_gets) - n0);
    co_aws_provider_free(p);
}

static void test_misc(void)
{
    char small[8];
    co_aws_creds_free(NULL);
    co_aws_provider_free(NULL);
    co_aws_provider_invalidate(NULL);
    CHECK(strcmp(co_aws_provider_source(NULL, small, sizeof small), "none") == 0, "source(NULL)");
    CHECK(co_aws_provider_get(NULL, NULL, NULL) == CO_ERR_INVALID, "get(NULL)");
    CHECK(co_aws_provider_new(NULL, NULL, NULL) == CO_ERR_INVALID, "new without out");
}

/* ---- stderr capture: the log must hold no secret --------------------------------- */

static int saved_stderr = -1;
static char log_path[128];

static void capture_stderr(void)
{
    int fd;
    snprintf(log_path, sizeof log_path, "%s/stderr.log", scratch);
    fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return;
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static void check_log(void)
{
    static char text[1 << 20];
    FILE *f;
    size_t n;
    if (saved_stderr < 0) {
        CHECK(false, "stderr was not captured");
        return;
    }
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    f = fopen(log_path, "r");
    n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    CHECK(strstr(text, "credentials resolved from imds") != NULL &&
              strstr(text, "credentials refreshed from imds") != NULL &&
              strstr(text, "using the cached ones") != NULL,
          "the log records resolutions, refreshes and failed refreshes");
    CHECK(!strstr(text, "s3cr3t") && !strstr(text, "t0k3n"),
          "no secret or token in %zu bytes of log", n);
    if (getenv("TAP_VERBOSE"))
        fputs(text, stdout);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/cutover-creds-XXXXXX");
    if (!CHECK(mkdtemp(scratch) != NULL, "mkdtemp"))
        return tap_done();
    {
        char home[128];
        snprintf(home, sizeof home, "%s/home", scratch);
        mkdir(home, 0700);
    }
    if (!CHECK(fake_start(), "fake server on 127.0.0.1"))
        return tap_done();
    snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%u", srv.port);
    snprintf(fake_hostport, sizeof fake_hostport, "127.0.0.1:%u", srv.port);
    capture_stderr();

    test_nothing();
    test_imds();
    test_ecs();
    test_files();
    test_env();
    test_refresh();
    test_refresh_ecs();
    test_threads();
    test_misc();

    check_log();
    fake_stop();
    if (nftw(scratch, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
        printf("# could not remove %s\n", scratch);
    return tap_done();
}
