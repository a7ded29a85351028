/* creds_sources.c - the sources of the AWS credential chain (aws/creds.h):
 * the environment, the shared credentials and config files, the ECS
 * container endpoint and EC2 instance metadata (IMDSv2), and the libcurl
 * exchanges the last two make. The provider (chain, cache, refresh) is in
 * creds.c; the contract of a source is creds_source_fetch() in creds_int.h.
 *
 * Every function here runs with the provider's mutex held and only reads
 * the provider (its environment snapshot, profile and timeouts). Secrets in
 * file text, HTTP bodies and header lists are wiped before they are freed.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "aws/creds_int.h"
#include "aws/url.h"
#include "core/buf.h"
#include "core/clock.h"

#define HTTP_BODY_MAX ((size_t)64 << 10)
#define FILE_MAX ((size_t)1 << 20)
#define IMDS_TOKEN_TTL_S "21600"
#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_IPV6_ENDPOINT "http://[fd00:ec2::254]"
#define IMDS_CREDS_PATH "/latest/meta-data/iam/security-credentials/"
#define ECS_DEFAULT_HOST "169.254.170.2"

/* One HTTP exchange with a credentials endpoint; release with
 * http_call_clear(). */
typedef struct http_call {
    const char *method;          /* "GET" or "PUT", static */
    char *url;                   /* owned */
    struct curl_slist *headers;  /* owned; may hold a token, wiped on clear */
    bool direct;                 /* bypass proxies (link-local, loopback) */
    long status;                 /* out: HTTP status, 0 if none */
    bool unreachable;            /* out: could not connect / connect timeout */
    co_buf body;                 /* out: response body (capped) */
} http_call;

/* ---- memory and string helpers ------------------------------------------ */

static void buf_wipe(co_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->size);
    co_buf_free(b);
}

static void slist_wipe_free(struct curl_slist *l)
{
    for (struct curl_slist *i = l; i; i = i->next)
        if (i->data)
            OPENSSL_cleanse(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

static void http_call_clear(http_call *c)
{
    slist_wipe_free(c->headers);
    buf_wipe(&c->body);
    free(c->url);
    memset(c, 0, sizeof *c);
}

static char *trim(char *s)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* ---- HTTP (libcurl) ----------------------------------------------------- */

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    co_buf *b = userp;
    size_t n = size * nmemb;
    return co_buf_append(b, data, n) == CO_OK ? n : 0; /* 0 aborts the transfer */
}

/* Performs c. Transport failures set c->unreachable (nothing listening or
 * connect timeout) and return CO_ERR_TRANSIENT; an HTTP status is left in
 * c->status for the caller to judge. Never logs headers or bodies. */
static co_status http_do(const co_aws_provider *p, http_call *c, co_error *err)
{
    CURL *curl = curl_easy_init();
    CURLcode cc;
    co_status rc = CO_OK;

    c->status = 0;
    c->unreachable = false;
    c->body.cap = HTTP_BODY_MAX;
    if (!curl)
        return co_error_set(err, CO_ERR_INTERNAL, "curl_easy_init failed");
    co_curl_request_setup(curl, c->url, p->connect_timeout_ms, p->request_timeout_ms,
                          "cutoverd-credentials/1", c->headers, c->direct);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c->body);
    if (strcmp(c->method, "GET") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, c->method);

    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
    } else {
        curl_off_t connected = 0; /* microseconds until connected, 0 if never */
        curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
        c->unreachable = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                         (cc == CURLE_OPERATION_TIMEDOUT && connected == 0);
        rc = co_error_set(err, cc == CURLE_WRITE_ERROR ? CO_ERR_REMOTE : CO_ERR_TRANSIENT,
                          "%s %s: %s", c->method, c->url,
                          cc == CURLE_WRITE_ERROR ? "response too large" : curl_easy_strerror(cc));
    }
    curl_easy_cleanup(curl);
    return rc;
}

/* Maps a non-200 status to an error: 5xx and 429 are transient. */
static co_status http_status_error(const http_call *c, co_error *err)
{
    co_status st = (c->status >= 500 || c->status == 429) ? CO_ERR_TRANSIENT : CO_ERR_REMOTE;
    return co_error_set(err, st, "%s %s: HTTP %ld", c->method, c->url, c->status);
}

/* The credentials answered by the ECS or IMDS exchange c, which returned
 * rc: rc itself when the exchange failed, http_status_error for a status
 * other than 200, otherwise the body's credentials JSON parsed (AccessKeyId,
 * SecretAccessKey, Token, Expiration (RFC 3339), and for IMDS "Code"). */
static co_status creds_from_response(co_status rc, const http_call *c, const char *what,
                                     const char *source, co_aws_creds **out, co_error *err)
{
    const co_buf *body = &c->body;
    json_error_t jerr;
    json_t *root;
    const char *akid, *secret, *token, *exp_text, *code;
    int64_t exp_ms = 0;

    if (rc != CO_OK)
        return rc;
    if (c->status != 200)
        return http_status_error(c, err);
    root = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
    if (!json_is_object(root)) {
        rc = co_error_set(err, CO_ERR_REMOTE, "%s: response is not a JSON object", what);
        goto out;
    }
    akid = json_string_value(json_object_get(root, "AccessKeyId"));
    secret = json_string_value(json_object_get(root, "SecretAccessKey"));
    token = json_string_value(json_object_get(root, "Token"));
    exp_text = json_string_value(json_object_get(root, "Expiration"));
    code = json_string_value(json_object_get(root, "Code"));
    if (code && strcmp(code, "Success") != 0) {
        rc = co_error_set(err, CO_ERR_REMOTE, "%s: Code is \"%.64s\"", what, code);
        goto out;
    }
    if (!akid || !*akid || !secret || !*secret) {
        rc = co_error_set(err, CO_ERR_REMOTE, "%s: AccessKeyId or SecretAccessKey missing", what);
        goto out;
    }
    if (exp_text && (exp_ms = co_clock_parse_rfc3339(exp_text)) < 0) {
        rc = co_error_set(err, CO_ERR_REMOTE, "%s: malformed Expiration", what);
        goto out;
    }
    *out = creds_new(akid, secret, token, exp_ms, source);
    if (!*out)
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
out:
    json_decref(root);
    return rc;
}

/* ---- source 1: environment ---------------------------------------------- */

static co_status src_env(co_aws_provider *p, co_aws_creds **out, char *why,
                         size_t whysz, co_error *err)
{
    const char *akid = p->env[ENV_ACCESS_KEY_ID], *secret = p->env[ENV_SECRET_ACCESS_KEY];
    if (p->skip_env) {
        snprintf(why, whysz, "environment skipped (profile given explicitly)");
        return CO_OK;
    }
    if (!akid && !secret) {
        snprintf(why, whysz, "AWS_ACCESS_KEY_ID not set");
        return CO_OK;
    }
    if (!akid || !secret)
        return co_error_set(err, CO_ERR_INVALID, "%s is set but %s is not",
                            creds_env_names[akid ? ENV_ACCESS_KEY_ID : ENV_SECRET_ACCESS_KEY],
                            creds_env_names[akid ? ENV_SECRET_ACCESS_KEY : ENV_ACCESS_KEY_ID]);
    *out = creds_new(akid, secret, p->env[ENV_SESSION_TOKEN], 0, "environment");
    return *out ? CO_OK : co_error_set(err, CO_ERR_NOMEM, "out of memory");
}

/* ---- source 2: shared credentials and config files ----------------------- */

/* What one file says about the profile. Strings owned (wiped on free). */
typedef struct profile_keys {
    bool found;              /* the section exists */
    char *akid, *secret, *token;
    const char *unsupported; /* a key naming a provider we lack, static */
} profile_keys;

static void profile_keys_clear(profile_keys *k)
{
    creds_wipe_free(k->akid);
    creds_wipe_free(k->secret);
    creds_wipe_free(k->token);
    memset(k, 0, sizeof *k);
}

/* Does section header name (inside the brackets, trimmed) select profile?
 * Credentials file: "[name]". Config file: "[profile name]", or "[default]"
 * for the default profile (AWS CLI config file format). */
static bool section_matches(const char *name, const char *profile, bool config)
{
    if (!config)
        return strcmp(name, profile) == 0;
    if (strcmp(profile, "default") == 0 && strcmp(name, "default") == 0)
        return true;
    if (strncmp(name, "profile", 7) != 0 || !isspace((unsigned char)name[7]))
        return false;
    name += 7;
    while (isspace((unsigned char)*name))
        name++;
    return strcmp(name, profile) == 0;
}

static co_status set_key(char **slot, const char *value)
{
    creds_wipe_free(*slot);
    *slot = strdup(value);
    return *slot ? CO_OK : CO_ERR_NOMEM;
}

/* Scans INI text (modified in place) for the profile's keys. Lines: "[section]",
 * "key = value", comments starting with '#' or ';'; indented lines are
 * nested sub-settings and are skipped. Key names are case-insensitive. */
static co_status ini_profile(char *text, const char *profile, bool config, profile_keys *k)
{
    static const char *const unsupported[] = {
        "role_arn", "credential_process", "sso_start_url", "sso_session",
        "web_identity_token_file", "credential_source",
    };
    bool in_section = false;
    co_status rc = CO_OK;
    char *line = text;

    while (line && *line && rc == CO_OK) {
        char *eol = strchr(line, '\n'), *s, *eq;
        if (eol)
            *eol = '\0';
        bool indented = isspace((unsigned char)*line);
        s = trim(line);
        line = eol ? eol + 1 : NULL;
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close)
                continue;
            *close = '\0';
            in_section = section_matches(trim(s + 1), profile, config);
            k->found = k->found || in_section;
            continue;
        }
        if (!in_section || indented || !(eq = strchr(s, '=')))
            continue;
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (strcasecmp(key, "aws_access_key_id") == 0)
            rc = set_key(&k->akid, value);
        else if (strcasecmp(key, "aws_secret_access_key") == 0)
            rc = set_key(&k->secret, value);
        else if (strcasecmp(key, "aws_session_token") == 0 ||
                 strcasecmp(key, "aws_security_token") == 0)
            rc = set_key(&k->token, value);
        for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
            if (strcasecmp(key, unsupported[i]) == 0)
                k->unsupported = unsupported[i];
    }
    return rc;
}

/* Reads a whole file of at most FILE_MAX bytes into a new string. A missing
 * file gives CO_OK with *out NULL. */
static co_status read_small_file(const char *path, char **out, co_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *data = NULL;
    co_status rc = CO_OK;

    *out = NULL;
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return CO_OK;
        return co_error_set(err, CO_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > FILE_MAX) {
        rc = co_error_set(err, CO_ERR_IO, "%s is not a regular file under 1 MiB", path);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        OPENSSL_cleanse(data, n);
        free(data);
        data = NULL;
        rc = co_error_set(err, CO_ERR_IO, "cannot read %s", path);
        goto out;
    }
    data[n] = '\0';
    *out = data;
out:
    fclose(f);
    return rc;
}

/* The path of a shared file: the variable's value ("~/" expanded) or
 * $HOME/.aws/<name>. NULL (and CO_OK) when neither is known. */
static co_status shared_file_path(const co_aws_provider *p, env_var var,
                                  const char *name, char **out)
{
    const char *v = p->env[var], *home = p->env[ENV_HOME];
    co_buf b = {.cap = 4096};
    co_status rc = CO_OK;

    *out = NULL;
    if (v && strncmp(v, "~/", 2) == 0 && home)
        rc = co_buf_printf(&b, "%s/%s", home, v + 2);
    else if (v)
        rc = co_buf_printf(&b, "%s", v);
    else if (home)
        rc = co_buf_printf(&b, "%s/.aws/%s", home, name);
    if (rc != CO_OK) {
        co_buf_free(&b);
        return rc;
    }
    *out = co_buf_steal(&b);
    return CO_OK;
}

static co_status src_files(co_aws_provider *p, co_aws_creds **out, char *why,
                           size_t whysz, co_error *err)
{
    static const struct {
        env_var var;
        const char *file, *label;
        bool config;
    } files[] = {
        {ENV_SHARED_CREDENTIALS_FILE, "credentials", "shared-credentials-file", false},
        {ENV_CONFIG_FILE, "config", "config-file", true},
    };
    char *paths[2] = {NULL, NULL};
    const char *unsupported = NULL;
    bool found_any = false;
    co_status rc = CO_OK;

    for (size_t i = 0; i < 2 && rc == CO_OK && !*out; i++) {
        profile_keys k = {0};
        char *text = NULL, source[CO_AWS_SOURCE_MAX];
        rc = shared_file_path(p, files[i].var, files[i].file, &paths[i]);
        if (rc != CO_OK) {
            co_error_set(err, rc, "shared file path too long");
            break;
        }
        if (!paths[i])
            continue;
        rc = read_small_file(paths[i], &text, err);
        if (rc != CO_OK || !text)
            continue;
        rc = ini_profile(text, p->profile, files[i].config, &k);
        creds_wipe_free(text);
        if (rc != CO_OK) {
            co_error_set(err, rc, "out of memory");
        } else if (k.akid || k.secret) {
            if (!k.akid || !k.secret || !*k.akid || !*k.secret) {
                rc = co_error_set(err, CO_ERR_INVALID,
                                  "profile \"%s\" in %s has only one of "
                                  "aws_access_key_id and aws_secret_access_key",
                                  p->profile, paths[i]);
            } else {
                snprintf(source, sizeof source, "%s:%s", files[i].label, p->profile);
                *out = creds_new(k.akid, k.secret, k.token, 0, source);
                if (!*out)
                    rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            }
        }
        found_any = found_any || k.found;
        if (k.unsupported)
            unsupported = k.unsupported;
        profile_keys_clear(&k);
    }
    if (rc == CO_OK && !*out) {
        if (unsupported)
            rc = co_error_set(err, CO_ERR_UNPROCESSABLE,
                              "profile \"%s\" uses %s, which cutover does not support; "
                              "use static keys, the environment, ECS or an instance role",
                              p->profile, unsupported);
        else if (!found_any && p->profile_explicit)
            rc = co_error_set(err, CO_ERR_NOT_FOUND, "profile \"%s\" not found in %s or %s",
                              p->profile, paths[0] ? paths[0] : "(no credentials file)",
                              paths[1] ? paths[1] : "(no config file)");
        else
            snprintf(why, whysz, "no keys for profile \"%s\" in %s or %s", p->profile,
                     paths[0] ? paths[0] : "(no credentials file)",
                     paths[1] ? paths[1] : "(no config file)");
    }
    free(paths[0]);
    free(paths[1]);
    return rc;
}

/* ---- source 3: ECS container endpoint ------------------------------------ */

/* An http FULL_URI may only target loopback or the ECS/EKS agent addresses
 * (AWS SDKs enforce the same); https may target any host. */
static co_status check_full_uri(const char *uri, bool *direct, co_error *err)
{
    static const char *const allowed[] = {
        "localhost", "[::1]", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
    };
    co_url_parts parts;
    const char *scheme, *host;
    co_status rc = CO_ERR_INVALID;

    if (co_url_split(uri, &parts) != 0) {
        co_error_set(err, CO_ERR_INVALID, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
        goto out;
    }
    scheme = parts.scheme;
    host = parts.host;
    *direct = false;
    if (strcasecmp(scheme, "https") == 0) {
        rc = CO_OK;
        goto out;
    }
    if (strcasecmp(scheme, "http") == 0) {
        unsigned a, b, c, d;
        char extra;
        if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a == 127 &&
            b < 256 && c < 256 && d < 256)
            rc = CO_OK;
        for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
            if (strcasecmp(host, allowed[i]) == 0)
                rc = CO_OK;
        *direct = rc == CO_OK;
    }
    if (rc != CO_OK)
        co_error_set(err, CO_ERR_INVALID,
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a "
                     "loopback or ECS/EKS agent address (host \"%s\")", host);
out:
    co_url_parts_free(&parts);
    return rc;
}

/* The Authorization value: the token file (re-read each time, EKS rotates
 * it) wins over the token variable. *out NULL when neither is set. */
static co_status ecs_auth_token(const co_aws_provider *p, char **out, co_error *err)
{
    const char *file = p->env[ENV_ECS_AUTH_TOKEN_FILE];
    co_status rc;
    *out = NULL;
    if (file) {
        char *text = NULL;
        rc = read_small_file(file, &text, err);
        if (rc != CO_OK)
            return rc;
        if (!text)
            return co_error_set(err, CO_ERR_INVALID, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s does not exist", file);
        char *t = trim(text);
        *out = strdup(t);
        creds_wipe_free(text);
    } else if (p->env[ENV_ECS_AUTH_TOKEN]) {
        *out = strdup(p->env[ENV_ECS_AUTH_TOKEN]);
    } else {
        return CO_OK;
    }
    if (!*out)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (strpbrk(*out, "\r\n")) {
        creds_wipe_free(*out);
        *out = NULL;
        return co_error_set(err, CO_ERR_INVALID, "the container authorization token contains a line break");
    }
    return CO_OK;
}

static co_status src_ecs(co_aws_provider *p, co_aws_creds **out, char *why,
                         size_t whysz, co_error *err)
{
    const char *rel = p->env[ENV_ECS_RELATIVE_URI], *full = p->env[ENV_ECS_FULL_URI];
    http_call call = {.method = "GET", .direct = true};
    char *token = NULL, *auth = NULL;
    co_buf b = {.cap = 8192};
    co_status rc;

    if (!rel && !full) {
        snprintf(why, whysz, "no AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI");
        return CO_OK;
    }
    if (rel) {
        if (rel[0] != '/')
            return co_error_set(err, CO_ERR_INVALID, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/'");
        rc = co_buf_printf(&b, "http://%s%s",
                           p->env[ENV_ECS_HOST] ? p->env[ENV_ECS_HOST] : ECS_DEFAULT_HOST, rel);
    } else {
        rc = check_full_uri(full, &call.direct, err);
        if (rc == CO_OK)
            rc = co_buf_printf(&b, "%s", full);
    }
    if (rc != CO_OK)
        goto out;
    call.url = co_buf_steal(&b);

    rc = ecs_auth_token(p, &token, err);
    if (rc != CO_OK)
        goto out;
    call.headers = curl_slist_append(NULL, "Accept: application/json");
    if (call.headers && token) {
        rc = co_buf_printf(&b, "Authorization: %s", token);
        if (rc != CO_OK)
            goto out;
        auth = co_buf_steal(&b);
        struct curl_slist *l = curl_slist_append(call.headers, auth);
        if (!l) {
            slist_wipe_free(call.headers);
            call.headers = NULL;
        } else {
            call.headers = l;
        }
    }
    if (!call.headers) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto out;
    }

    rc = creds_from_response(http_do(p, &call, err), &call, "ECS credentials endpoint",
                             "ecs-container", out, err);
out:
    http_call_clear(&call);
    buf_wipe(&b);
    creds_wipe_free(token);
    creds_wipe_free(auth);
    return rc;
}

/* ---- source 4: EC2 instance metadata (IMDSv2) ---------------------------- */

static bool is_role_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("+=,.@_-", *s))
            return false;
    return true;
}

/* One IMDS request to base+path with one header; clears *call first and
 * leaves the status and body in it. */
static co_status imds_call(co_aws_provider *p, const char *method, const char *base,
                           const char *path, const char *header, http_call *call,
                           co_error *err)
{
    co_buf url = {.cap = 4096};
    http_call_clear(call);
    if (co_buf_printf(&url, "%s%s", base, path) != CO_OK) {
        co_buf_free(&url);
        return co_error_set(err, CO_ERR_INVALID, "IMDS URL too long");
    }
    call->method = method;
    call->url = co_buf_steal(&url);
    call->direct = true;
    call->headers = curl_slist_append(NULL, header);
    if (!call->headers)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    return http_do(p, call, err);
}

static co_status src_imds(co_aws_provider *p, co_aws_creds **out, char *why,
                          size_t whysz, co_error *err)
{
    const char *disabled = p->env[ENV_IMDS_DISABLED], *mode = p->env[ENV_IMDS_ENDPOINT_MODE];
    char base[512], *token = NULL, *token_header = NULL, *role = NULL;
    http_call call = {0};
    co_buf b = {.cap = 8192};
    co_error local = {0};
    co_status rc;

    if (disabled && strcasecmp(disabled, "true") == 0) {
        snprintf(why, whysz, "IMDS disabled by AWS_EC2_METADATA_DISABLED");
        return CO_OK;
    }
    snprintf(base, sizeof base, "%s",
             p->env[ENV_IMDS_ENDPOINT] ? p->env[ENV_IMDS_ENDPOINT]
             : (mode && strcasecmp(mode, "IPv6") == 0) ? IMDS_IPV6_ENDPOINT
                                                        : IMDS_DEFAULT_ENDPOINT);
    for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
        base[n - 1] = '\0';

    /* 1. Session token. Unreachable or refused: not on EC2 (or IMDSv2 off). */
    rc = imds_call(p, "PUT", base, "/latest/api/token",
                   "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL_S, &call, &local);
    if ((rc != CO_OK && call.unreachable) ||
        (rc == CO_OK && (call.status == 403 || call.status == 404 || call.status == 405))) {
        if (rc != CO_OK)
            snprintf(why, whysz, "IMDS unreachable (%s)", local.message);
        else
            snprintf(why, whysz, "IMDS refused a session token (HTTP %ld)", call.status);
        rc = CO_OK;
        goto out;
    }
    if (rc != CO_OK) {
        co_error_set(err, rc, "%s", local.message);
        goto out;
    }
    if (call.status != 200 || !call.body.data || !*trim(call.body.data)) {
        rc = call.status != 200 ? http_status_error(&call, err)
                                : co_error_set(err, CO_ERR_REMOTE, "IMDS returned an empty token");
        goto out;
    }
    token = strdup(trim(call.body.data));
    if (!token || co_buf_printf(&b, "X-aws-ec2-metadata-token: %s", token) != CO_OK) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto out;
    }
    token_header = co_buf_steal(&b);

    /* 2. Role name. 404: the instance has no role. */
    rc = imds_call(p, "GET", base, IMDS_CREDS_PATH, token_header, &call, err);
    if (rc == CO_OK && call.status == 404) {
        snprintf(why, whysz, "IMDS: no IAM role attached to the instance");
        goto out;
    }
    if (rc == CO_OK && call.status != 200)
        rc = http_status_error(&call, err);
    if (rc != CO_OK)
        goto out;
    if (call.body.data) {
        char *nl = strchr(call.body.data, '\n');
        if (nl)
            *nl = '\0';
        role = strdup(trim(call.body.data));
    }
    if (!role || !is_role_name(role)) {
        rc = co_error_set(err, CO_ERR_REMOTE, "IMDS returned no valid role name");
        goto out;
    }

    /* 3. The role's credentials. */
    rc = co_buf_printf(&b, IMDS_CREDS_PATH "%s", role);
    if (rc != CO_OK) {
        co_error_set(err, rc, "out of memory");
        goto out;
    }
    rc = creds_from_response(imds_call(p, "GET", base, b.data, token_header, &call, err), &call,
                             "IMDS", "imds", out, err);
out:
    http_call_clear(&call);
    co_buf_free(&b);
    creds_wipe_free(token);
    creds_wipe_free(token_header);
    free(role);
    return rc;
}

/* ---- the sources, by kind ----------------------------------------------- */

typedef co_status (*source_fn)(co_aws_provider *p, co_aws_creds **out, char *why,
                               size_t whysz, co_error *err);

static const source_fn source_fns[] = {
    [SRC_NONE] = NULL,
    [SRC_ENV] = src_env,
    [SRC_FILES] = src_files,
    [SRC_ECS] = src_ecs,
    [SRC_IMDS] = src_imds,
};
_Static_assert(sizeof source_fns / sizeof source_fns[0] == SRC_KIND_LAST,
               "source_fns must cover source_kind");

co_status creds_source_fetch(source_kind kind, co_aws_provider *p, co_aws_creds **out,
                             char *why, size_t whysz, co_error *err)
{
    return source_fns[kind](p, out, why, whysz, err);
}
