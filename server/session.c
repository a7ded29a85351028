/* session.c - see session.h. */
#include "server/session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/validate.h"
#include "engine/app.h"
#include "handlers/audit.h"
#include "server/auth.h"

#define TTL_DEFAULT_S (8 * 3600)
#define TTL_MAX_S (7 * 24 * 3600)

typedef struct session {
    unsigned char id_hash[32]; /* SHA-256 of the cookie value */
    char csrf[33];             /* 32 hex characters */
    co_role role;
    char name[64];
    char project[40];          /* the token's project scope, "" for none */
    int64_t expires_ms;
} session;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static session *table;   /* CO_SESSIONS_MAX slots, allocated on first use */
static size_t used;      /* slots [0, used) hold sessions */

static void sha256(const char *s, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    EVP_Digest(s, len, out, &n, EVP_sha256(), NULL);
}

/* The session cookie's value from the Cookie header into out[65]; 0 if
 * absent or not 64 hex characters. */
static int cookie_value(struct MHD_Connection *conn, char out[65])
{
    const char *v = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
                                                CO_SESSION_COOKIE);
    if (!v || strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64)
        return 0;
    memcpy(out, v, 65);
    return 1;
}

/* Index of the live session whose cookie value is value, or -1. Under mu. */
static long find_locked(const char *value, int64_t now)
{
    unsigned char h[32];
    long hit = -1;
    sha256(value, 64, h);
    for (size_t i = 0; i < used; i++)
        if (CRYPTO_memcmp(h, table[i].id_hash, 32) == 0 && table[i].expires_ms > now)
            hit = (long)i;
    return hit;
}

static void drop_locked(size_t i)
{
    table[i] = table[--used];
    OPENSSL_cleanse(&table[used], sizeof table[used]);
}

co_status co_session_auth(co_auth *auth, struct MHD_Connection *conn, const char *method,
                          const char *header, co_auth_caller *out, co_error *err)
{
    char value[65];
    const char *csrf;
    int changing;
    long i;
    co_status rc = CO_OK;

    if (header || !cookie_value(conn, value))
        return co_auth_check(auth, header, out, err);
    changing = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
               strcmp(method, "OPTIONS") != 0;
    csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, CO_SESSION_CSRF_HEADER);
    pthread_mutex_lock(&mu);
    i = table ? find_locked(value, co_clock_now_ms()) : -1;
    if (i < 0) {
        rc = co_error_set(err, CO_ERR_UNAUTHORIZED,
                          "the session is unknown or expired: sign in again");
    } else if (changing && (!csrf || strlen(csrf) != 32 ||
                            CRYPTO_memcmp(csrf, table[i].csrf, 32) != 0)) {
        rc = co_error_set(err, CO_ERR_FORBIDDEN,
                          "a request authenticated by the session cookie that changes "
                          "something must carry the session's CSRF token in %s",
                          CO_SESSION_CSRF_HEADER);
        co_error_field(err, "@" CO_SESSION_CSRF_HEADER, "missing or not this session's");
    } else {
        /* copies: another thread may reuse the slot once this one is dropped */
        out->role = table[i].role;
        snprintf(out->name, sizeof out->name, "%s", table[i].name);
        snprintf(out->project, sizeof out->project, "%s", table[i].project);
    }
    pthread_mutex_unlock(&mu);
    OPENSSL_cleanse(value, sizeof value);
    return rc;
}

void co_sessions_free(void)
{
    pthread_mutex_lock(&mu);
    if (table)
        OPENSSL_cleanse(table, CO_SESSIONS_MAX * sizeof *table);
    free(table);
    table = NULL;
    used = 0;
    pthread_mutex_unlock(&mu);
}

/* A JSON response carrying Set-Cookie, handed to the server ready-made. */
static co_status cookie_response(co_response *resp, int status, json_t *body,
                                 const char *cookie)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct MHD_Response *r;
    json_decref(body);
    if (body && !text)
        return co_error_set(&resp->err, CO_ERR_NOMEM, "out of memory");
    r = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return co_error_set(&resp->err, CO_ERR_NOMEM, "out of memory");
    }
    if (text)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    resp->mhd = r;
    resp->status = status;
    return CO_OK;
}

static json_t *session_json(const char *principal, co_role role, const char *auth_kind,
                            int64_t expires_ms, const char *csrf)
{
    char when[32];
    json_t *o = json_pack("{s:s, s:s, s:s}", "principal", principal, "role",
                          co_role_name(role), "auth", auth_kind);
    json_object_set_new(o, "expires_at",
                        expires_ms ? json_string(co_clock_rfc3339(expires_ms, when,
                                                                  sizeof when))
                                   : json_null());
    json_object_set_new(o, "csrf_token", csrf ? json_string(csrf) : json_null());
    return o;
}

static const char *const create_fields[] = {"token", "ttl_seconds", NULL};

co_status h_sessions_create(co_request *req, co_response *resp)
{
    co_error *err = &resp->err;
    json_t *body = NULL;
    unsigned char rnd[48];
    char value[65], csrf[33], bearer[600], cookie[200];
    co_auth_caller who;
    int64_t now = co_clock_now_ms(), ttl;
    session *s;
    co_status rc;

    if (!req->app->auth)
        return co_error_set(err, CO_ERR_NOT_FOUND,
                            "sign-in is off: the daemon runs without a tokens file and "
                            "asks no one for a token");
    if ((rc = co_req_json(req, &body, err)) != CO_OK)
        return rc;
    v_only_known(body, "", create_fields, err);
    v_string(body, "", "token", 1, 512, NULL, err);
    v_int(body, "", "ttl_seconds", 1, TTL_MAX_S, true, TTL_DEFAULT_S, err);
    if ((rc = err->status) != CO_OK)
        goto out;
    ttl = json_integer_value(json_object_get(body, "ttl_seconds"));
    snprintf(bearer, sizeof bearer, "Bearer %s", v_str(body, "token"));
    memset(&who, 0, sizeof who);
    rc = co_auth_check(req->app->auth, bearer, &who, err);
    OPENSSL_cleanse(bearer, sizeof bearer);
    if (rc != CO_OK)
        goto out;
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        rc = co_error_set(err, CO_ERR_CRYPTO, "no random bytes for a session");
        goto out;
    }
    co_hex_encode(rnd, 32, value);
    co_hex_encode(rnd + 32, 16, csrf);
    OPENSSL_cleanse(rnd, sizeof rnd);
    pthread_mutex_lock(&mu);
    if (!table)
        table = calloc(CO_SESSIONS_MAX, sizeof *table);
    for (size_t i = used; table && i-- > 0;)
        if (table[i].expires_ms <= now)
            drop_locked(i);
    if (!table || used == CO_SESSIONS_MAX) {
        pthread_mutex_unlock(&mu);
        rc = co_error_set(err, table ? CO_ERR_TRANSIENT : CO_ERR_NOMEM,
                          "too many live sessions (%d): sign out of some first",
                          CO_SESSIONS_MAX);
        goto out;
    }
    s = &table[used++];
    sha256(value, 64, s->id_hash);
    memcpy(s->csrf, csrf, sizeof s->csrf);
    s->role = who.role;
    snprintf(s->name, sizeof s->name, "%s", who.name);
    snprintf(s->project, sizeof s->project, "%s", who.project);
    s->expires_ms = now + ttl * 1000;
    pthread_mutex_unlock(&mu);
    snprintf(cookie, sizeof cookie,
             CO_SESSION_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict", value,
             (long long)ttl);
    co_log(CO_LOG_INFO, "http", "session for '%s' (%s) started, %lld s", who.name,
           co_role_name(who.role), (long long)ttl);
    rc = cookie_response(resp, 201,
                         session_json(who.name, who.role, "session", now + ttl * 1000, csrf),
                         cookie);
    if (rc == CO_OK) {
        co_request as = *req;   /* the sign-in's actor is the token signing in */
        as.principal = who.name;
        as.role = who.role;
        co_audit(&as, "session", "create", who.name, who.project, NULL, NULL);
    }
    OPENSSL_cleanse(value, sizeof value);
    OPENSSL_cleanse(cookie, sizeof cookie);
out:
    json_decref(body);
    return rc;
}

co_status h_sessions_current(co_request *req, co_response *resp)
{
    char value[65], csrf[33] = "";
    int64_t expires = 0;
    long i;
    if (!req->app->auth) {
        co_resp_json(resp, 200, session_json(req->principal, req->role, "none", 0, NULL));
        return CO_OK;
    }
    if (co_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION) || !cookie_value(req->conn, value)) {
        co_resp_json(resp, 200, session_json(req->principal, req->role, "bearer", 0, NULL));
        return CO_OK;
    }
    pthread_mutex_lock(&mu);
    i = table ? find_locked(value, co_clock_now_ms()) : -1;
    if (i >= 0) {
        memcpy(csrf, table[i].csrf, sizeof csrf);
        expires = table[i].expires_ms;
    }
    pthread_mutex_unlock(&mu);
    if (i < 0)
        return co_error_set(&resp->err, CO_ERR_UNAUTHORIZED, "the session ended");
    resp->status = 200;
    co_resp_json(resp, 200, session_json(req->principal, req->role, "session", expires, csrf));
    return CO_OK;
}

co_status h_sessions_delete(co_request *req, co_response *resp)
{
    char value[65];
    if (cookie_value(req->conn, value)) {
        long i;
        pthread_mutex_lock(&mu);
        i = table ? find_locked(value, co_clock_now_ms()) : -1;
        if (i >= 0)
            drop_locked((size_t)i);
        pthread_mutex_unlock(&mu);
        co_log(CO_LOG_INFO, "http", "session for '%s' ended", req->principal);
    }
    return cookie_response(resp, 204, NULL,
                           CO_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; "
                                             "SameSite=Strict");
}
