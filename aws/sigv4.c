/* sigv4.c - AWS Signature Version 4 signing; see sigv4.h.
 *
 * DESIGN: one entry point, co_sigv4_sign(), builds the four artefacts of
 * the AWS docs in order (canonical request -> string to sign -> signing key
 * -> signature) into co_buf buffers capped at CANON_MAX, keeps the status in
 * `rc` and releases everything at the single `fail:` label, the way curl's
 * lib/http_aws_sigv4.c is written. Nothing here is shared between calls, so
 * there are no locks. Secrets (the "AWS4"+secret key and each derived HMAC
 * key) live in stack or heap buffers that are wiped with OPENSSL_cleanse()
 * before they go out of scope.
 */
#include "aws/sigv4.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/hex.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define CANON_MAX ((size_t)1 << 20)       /* cap of the canonical request */
#define LAST_EPOCH_SECOND 253402300799LL  /* 9999-12-31T23:59:59Z */
#define PAYLOAD_HASH_MAX 128


/* One header while canonicalizing: the lower-cased name (owned), the value
 * (borrowed) and its position in the input, which keeps the sort stable so
 * that duplicate headers are joined in the order they were given. */
typedef struct canon_header {
    char *name;
    const char *value;
    size_t order;
} canon_header;

/* One query parameter, key and value already AWS-encoded (owned). */
typedef struct query_param {
    char *key;
    char *value;
} query_param;

/* ---- small helpers ---------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* True if s is non-empty and every byte is printable ASCII that may appear
 * in a credential scope or header token (no whitespace, '/', ',' or ';'). */
static bool is_scope_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == ',' || *p == ';')
            return false;
    }
    return true;
}

/* HTTP token (RFC 9110 tchar, loosely): printable ASCII, no separators that
 * would break the canonical form. */
static bool is_header_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == ':' || *p == ';')
            return false;
    }
    return true;
}

/* Appends one byte as %XX. */
static co_status add_pct(co_buf *b, unsigned char c)
{
    char esc[3] = {'%', co_hex_upper[c >> 4], co_hex_upper[c & 0x0f]};
    return co_buf_append(b, esc, sizeof esc);
}

/* Appends n bytes of s with the AWS URI-encoding rules: unreserved bytes
 * verbatim, '/' verbatim when keep_slash, valid %XX escapes kept (hex
 * upper-cased) when keep_escapes, everything else as %XX. */
static co_status add_encoded(co_buf *b, const char *s, size_t n,
                             bool keep_slash, bool keep_escapes)
{
    co_status rc = CO_OK;
    for (size_t i = 0; i < n && rc == CO_OK; i++) {
        unsigned char c = (unsigned char)s[i], d;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = co_buf_append(b, &s[i], 1);
        } else if (keep_escapes && c == '%' && i + 2 < n &&
                   co_hex_decode(s + i + 1, &d, 1) == 0) {
            rc = add_pct(b, d);
            i += 2;
        } else {
            rc = add_pct(b, c);
        }
    }
    return rc;
}

/* Appends value trimmed, with every run of whitespace collapsed to one
 * space (AWS: "Trimall"; also flattens obsolete line folding). */
static co_status add_trimmed(co_buf *b, const char *value)
{
    co_status rc = CO_OK;
    bool pending_space = false, wrote = false;
    for (const char *p = value ? value : ""; *p && rc == CO_OK; p++) {
        if (is_ws((unsigned char)*p)) {
            pending_space = true;
            continue;
        }
        if (pending_space && wrote)
            rc = co_buf_append(b, " ", 1);
        if (rc == CO_OK)
            rc = co_buf_append(b, p, 1);
        pending_space = false;
        wrote = true;
    }
    return rc;
}

/* True if value, trimmed and collapsed, equals expected. */
static bool trimmed_equals(const char *value, const char *expected)
{
    co_buf b = {.cap = CANON_MAX};
    bool same;
    if (add_trimmed(&b, value) != CO_OK) {
        co_buf_free(&b);
        return false;
    }
    same = strcmp(b.data ? b.data : "", expected) == 0;
    co_buf_free(&b);
    return same;
}

static char *steal_or_empty(co_buf *b)
{
    char *s = co_buf_steal(b);
    return s ? s : strdup("");
}

static co_status hmac_sha256(const void *key, size_t key_len, const void *data,
                             size_t len, unsigned char out[32])
{
    unsigned int out_len = 0;
    if (key_len > INT_MAX)
        return CO_ERR_INVALID;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) ||
        out_len != 32)
        return CO_ERR_CRYPTO;
    return CO_OK;
}

co_status co_sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    static const unsigned char empty = 0;
    if (!EVP_Digest(data ? data : &empty, len, md, &md_len, EVP_sha256(), NULL) ||
        md_len != 32)
        return CO_ERR_CRYPTO;
    co_hex_encode(md, md_len, hex);
    return CO_OK;
}

/* ---- task 1: the canonical request ------------------------------------ */

/* Canonical URI. Non-S3: RFC 3986 remove_dot_segments, empty segments
 * dropped (suite: normalize-path/get-slash, get-slashes), trailing slash
 * kept, then each segment encoded (a second time for wire-encoded input).
 * S3: the path as given, encoded once. */
static co_status canonical_uri(const co_sigv4_request *req, co_buf *out)
{
    const char *path = (req->path && *req->path) ? req->path : "/";
    size_t n = strlen(path), nsegs = 0, start = 0;
    size_t(*segs)[2] = NULL;
    bool trailing;
    co_status rc = CO_OK;

    if (req->s3_path) {
        if (path[0] != '/')
            rc = co_buf_append(out, "/", 1);
        if (rc == CO_OK)
            rc = add_encoded(out, path, n, true, true);
        return rc;
    }

    /* A path ending in "/", "/." or "/.." names a directory. */
    trailing = path[n - 1] == '/' ||
               (n >= 2 && strcmp(path + n - 2, "/.") == 0) ||
               (n >= 3 && strcmp(path + n - 3, "/..") == 0);

    segs = calloc(n / 2 + 1, sizeof *segs);
    if (!segs)
        return CO_ERR_NOMEM;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && path[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && path[start] == '.')) {
            /* empty or "." segment: dropped */
        } else if (len == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (nsegs > 0)
                nsegs--;
        } else {
            segs[nsegs][0] = start;
            segs[nsegs][1] = len;
            nsegs++;
        }
        start = i + 1;
    }

    rc = co_buf_append(out, "/", 1);
    for (size_t s = 0; s < nsegs && rc == CO_OK; s++) {
        if (s > 0)
            rc = co_buf_append(out, "/", 1);
        if (rc == CO_OK)
            rc = add_encoded(out, path + segs[s][0], segs[s][1], false, false);
    }
    if (rc == CO_OK && trailing && nsegs > 0)
        rc = co_buf_append(out, "/", 1);
    free(segs);
    return rc;
}

/* Decodes n bytes of s (%XX escapes, '+' as space) and appends them
 * re-encoded with the AWS rules into a fresh string *out. */
static co_status reencode_component(const char *s, size_t n, char **out)
{
    co_buf b = {.cap = CANON_MAX};
    co_status rc = CO_OK;
    for (size_t i = 0; i < n && rc == CO_OK; i++) {
        unsigned char c = (unsigned char)s[i], d;
        if (c == '%' && i + 2 < n && co_hex_decode(s + i + 1, &d, 1) == 0) {
            c = d;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (is_unreserved(c))
            rc = co_buf_append(&b, &c, 1);
        else
            rc = add_pct(&b, c);
    }
    if (rc != CO_OK) {
        co_buf_free(&b);
        return rc;
    }
    *out = steal_or_empty(&b);
    return *out ? CO_OK : CO_ERR_NOMEM;
}

static int query_param_cmp(const void *a, const void *b)
{
    const query_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Canonical query string: pairs encoded, sorted by key then value. */
static co_status canonical_query(const char *query, co_buf *out)
{
    query_param *params = NULL;
    size_t nparams = 0, cap = 0;
    co_status rc = CO_OK;
    const char *p = query ? query : "";

    if (!*p)
        return CO_OK;
    for (const char *q = p; *q; q++)
        if (*q == '&')
            cap++;
    cap++;
    params = calloc(cap, sizeof *params);
    if (!params)
        return CO_ERR_NOMEM;

    while (*p && rc == CO_OK) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (len > 0) {
            query_param *qp = &params[nparams++];
            rc = reencode_component(p, klen, &qp->key);
            if (rc == CO_OK)
                rc = eq ? reencode_component(eq + 1, len - klen - 1, &qp->value)
                        : reencode_component("", 0, &qp->value);
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (rc != CO_OK)
        goto fail;

    qsort(params, nparams, sizeof *params, query_param_cmp);
    for (size_t i = 0; i < nparams && rc == CO_OK; i++) {
        rc = co_buf_printf(out, "%s%s=%s", i ? "&" : "", params[i].key,
                           params[i].value);
    }

fail:
    for (size_t i = 0; i < nparams; i++) {
        free(params[i].key);
        free(params[i].value);
    }
    free(params);
    return rc;
}

static int canon_header_cmp(const void *a, const void *b)
{
    const canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static char *lowercase_dup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        d[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    d[n] = '\0';
    return d;
}

/* Canonical headers and the signed-headers list, from the sorted array:
 * "name:v1,v2\n" per distinct name; names joined with ';'. */
static co_status emit_headers(const canon_header *h, size_t n, co_buf *canon,
                              co_buf *signed_list)
{
    co_status rc = CO_OK;
    for (size_t i = 0; i < n && rc == CO_OK; i++) {
        bool same_as_prev = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (same_as_prev) {
            rc = co_buf_append(canon, ",", 1);
        } else {
            if (i > 0)
                rc = co_buf_append(canon, "\n", 1);
            if (rc == CO_OK)
                rc = co_buf_printf(canon, "%s:", h[i].name);
            if (rc == CO_OK)
                rc = co_buf_printf(signed_list, "%s%s", i ? ";" : "", h[i].name);
        }
        if (rc == CO_OK)
            rc = add_trimmed(canon, h[i].value);
    }
    if (rc == CO_OK && n > 0)
        rc = co_buf_append(canon, "\n", 1);
    return rc;
}

/* ---- validation -------------------------------------------------------- */

static co_status check_inputs(const co_sigv4_request *req,
                              const co_sigv4_params *params, co_error *err)
{
    const co_sigv4_credentials *cr = params ? params->creds : NULL;
    if (!req || !params || !cr)
        return co_error_set(err, CO_ERR_INVALID, "sigv4: request, params and credentials are required");
    if (!is_scope_token(req->method))
        return co_error_set(err, CO_ERR_INVALID, "sigv4: missing or malformed HTTP method");
    if (!is_scope_token(cr->access_key_id))
        return co_error_set(err, CO_ERR_INVALID, "sigv4: missing or malformed access key id");
    if (!cr->secret_access_key || !*cr->secret_access_key)
        return co_error_set(err, CO_ERR_INVALID, "sigv4: missing secret access key");
    if (!is_scope_token(params->region))
        return co_error_set(err, CO_ERR_INVALID, "sigv4: missing or malformed region");
    if (!is_scope_token(params->service))
        return co_error_set(err, CO_ERR_INVALID, "sigv4: missing or malformed service");
    if ((unsigned)params->token_mode >= CO_SIGV4_TOKEN_MODE_LAST)
        return co_error_set(err, CO_ERR_INVALID, "sigv4: unknown token mode");
    if (params->timestamp < 0 || params->timestamp > LAST_EPOCH_SECOND)
        return co_error_set(err, CO_ERR_INVALID, "sigv4: timestamp out of range");
    if (req->nheaders > CO_SIGV4_MAX_HEADERS || (req->nheaders && !req->headers))
        return co_error_set(err, CO_ERR_INVALID, "sigv4: too many headers (max %d)",
                            CO_SIGV4_MAX_HEADERS);
    if (req->payload_len && !req->payload && !req->payload_hash)
        return co_error_set(err, CO_ERR_INVALID, "sigv4: payload_len without payload");
    if (req->payload_hash &&
        (!is_scope_token(req->payload_hash) || strlen(req->payload_hash) > PAYLOAD_HASH_MAX))
        return co_error_set(err, CO_ERR_INVALID, "sigv4: malformed payload hash");
    if (cr->session_token && strpbrk(cr->session_token, "\r\n"))
        return co_error_set(err, CO_ERR_INVALID, "sigv4: session token contains a line break");
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!is_header_name(req->headers[i].name))
            return co_error_set(err, CO_ERR_INVALID, "sigv4: malformed header name at index %zu", i);
    }
    return CO_OK;
}

/* Formats the request time; fills out->amz_date and out->date_stamp. */
static co_status format_dates(int64_t timestamp, co_sigv4_result *out)
{
    time_t t = (time_t)timestamp;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return CO_ERR_INVALID;
    if (strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm) !=
        sizeof out->amz_date - 1)
        return CO_ERR_INVALID;
    memcpy(out->date_stamp, out->amz_date, 8);
    out->date_stamp[8] = '\0';
    return CO_OK;
}

/* Collects the request headers plus the ones the signer adds (X-Amz-Date,
 * X-Amz-Security-Token when signed), lower-cased and sorted. Records in
 * *add_date / *add_token whether the caller must add them. */
static co_status collect_headers(const co_sigv4_request *req,
                                 const co_sigv4_params *params,
                                 const co_sigv4_result *out, canon_header **headers,
                                 size_t *nheaders, bool *add_date,
                                 bool *add_token, co_error *err)
{
    const char *token = params->creds->session_token;
    bool have_host = false, have_date = false, have_token = false;
    canon_header *h;
    size_t n = 0;

    if (token && !*token)
        token = NULL;
    h = calloc(req->nheaders + 2, sizeof *h);
    if (!h)
        return co_error_set(err, CO_ERR_NOMEM, "sigv4: out of memory");
    *headers = h;
    for (size_t i = 0; i < req->nheaders; i++, n++) {
        h[n].name = lowercase_dup(req->headers[i].name);
        h[n].value = req->headers[i].value ? req->headers[i].value : "";
        h[n].order = n;
        *nheaders = n + 1;
        if (!h[n].name)
            return co_error_set(err, CO_ERR_NOMEM, "sigv4: out of memory");
        if (strcmp(h[n].name, "host") == 0) {
            have_host = true;
        } else if (strcmp(h[n].name, "x-amz-date") == 0) {
            have_date = true;
            if (!trimmed_equals(h[n].value, out->amz_date))
                return co_error_set(err, CO_ERR_INVALID,
                                    "sigv4: X-Amz-Date header differs from the signing time %s",
                                    out->amz_date);
        } else if (strcmp(h[n].name, "x-amz-security-token") == 0) {
            have_token = true;
            if (token && !trimmed_equals(h[n].value, token))
                return co_error_set(err, CO_ERR_INVALID,
                                    "sigv4: X-Amz-Security-Token header differs from the session token");
        }
    }
    if (!have_host)
        return co_error_set(err, CO_ERR_INVALID, "sigv4: the request has no Host header");

    *add_date = !have_date;
    *add_token = token && !have_token;
    if (*add_date) {
        h[n].name = strdup("x-amz-date");
        h[n].value = out->amz_date;
        h[n].order = n;
        *nheaders = ++n;
        if (!h[n - 1].name)
            return co_error_set(err, CO_ERR_NOMEM, "sigv4: out of memory");
    }
    if (*add_token && params->token_mode == CO_SIGV4_TOKEN_SIGNED) {
        h[n].name = strdup("x-amz-security-token");
        h[n].value = token;
        h[n].order = n;
        *nheaders = ++n;
        if (!h[n - 1].name)
            return co_error_set(err, CO_ERR_NOMEM, "sigv4: out of memory");
    }
    qsort(h, n, sizeof *h, canon_header_cmp);
    return CO_OK;
}

/* ---- tasks 3 and 4: signing key and signature -------------------------- */

static co_status compute_signature(const char *secret, const co_sigv4_result *res,
                                   const co_sigv4_params *params, char sig[65])
{
    static const char prefix[] = "AWS4";
    size_t slen = strlen(secret);
    unsigned char *k_secret = NULL;
    unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], mac[32];
    co_status rc = CO_ERR_NOMEM;

    if (slen > (size_t)INT_MAX - sizeof prefix)
        return CO_ERR_INVALID;
    k_secret = malloc(slen + sizeof prefix - 1);
    if (!k_secret)
        goto fail;
    memcpy(k_secret, prefix, sizeof prefix - 1);
    memcpy(k_secret + sizeof prefix - 1, secret, slen);

    rc = hmac_sha256(k_secret, slen + sizeof prefix - 1, res->date_stamp,
                     strlen(res->date_stamp), k_date);
    if (rc == CO_OK)
        rc = hmac_sha256(k_date, 32, params->region, strlen(params->region), k_region);
    if (rc == CO_OK)
        rc = hmac_sha256(k_region, 32, params->service, strlen(params->service), k_service);
    if (rc == CO_OK)
        rc = hmac_sha256(k_service, 32, "aws4_request", 12, k_signing);
    if (rc == CO_OK)
        rc = hmac_sha256(k_signing, 32, res->string_to_sign,
                         strlen(res->string_to_sign), mac);
    if (rc == CO_OK)
        co_hex_encode(mac, 32, sig);

fail:
    if (k_secret) {
        OPENSSL_cleanse(k_secret, slen + sizeof prefix - 1);
        free(k_secret);
    }
    OPENSSL_cleanse(k_date, sizeof k_date);
    OPENSSL_cleanse(k_region, sizeof k_region);
    OPENSSL_cleanse(k_service, sizeof k_service);
    OPENSSL_cleanse(k_signing, sizeof k_signing);
    return rc;
}

/* ---- the entry point --------------------------------------------------- */

co_status co_sigv4_sign(const co_sigv4_request *req, const co_sigv4_params *params,
                        co_sigv4_result *out, co_error *err)
{
    co_buf creq = {.cap = CANON_MAX}, signed_list = {.cap = CANON_MAX};
    co_buf canon_headers = {.cap = CANON_MAX}, tmp = {.cap = CANON_MAX};
    canon_header *headers = NULL;
    size_t nheaders = 0;
    bool add_date = false, add_token = false;
    char payload_hex[65], creq_hex[65];
    const char *payload_hash;
    co_status rc;

    if (!out)
        return co_error_set(err, CO_ERR_INVALID, "sigv4: no result");
    co_sigv4_result_clear(out);
    rc = check_inputs(req, params, err);
    if (rc != CO_OK)
        goto fail;
    rc = format_dates(params->timestamp, out);
    if (rc != CO_OK) {
        co_error_set(err, rc, "sigv4: cannot format the timestamp");
        goto fail;
    }

    rc = collect_headers(req, params, out, &headers, &nheaders, &add_date,
                         &add_token, err);
    if (rc != CO_OK)
        goto fail;

    /* Task 1: canonical request. */
    payload_hash = req->payload_hash;
    if (!payload_hash) {
        rc = co_sigv4_sha256_hex(req->payload, req->payload_len, payload_hex);
        if (rc != CO_OK) {
            co_error_set(err, rc, "sigv4: SHA-256 of the payload failed");
            goto fail;
        }
        payload_hash = payload_hex;
    }
    rc = co_buf_printf(&creq, "%s\n", req->method);
    if (rc == CO_OK)
        rc = canonical_uri(req, &creq);
    if (rc == CO_OK)
        rc = co_buf_append(&creq, "\n", 1);
    if (rc == CO_OK)
        rc = canonical_query(req->query, &creq);
    if (rc == CO_OK)
        rc = co_buf_append(&creq, "\n", 1);
    if (rc == CO_OK)
        rc = emit_headers(headers, nheaders, &canon_headers, &signed_list);
    if (rc == CO_OK)
        rc = co_buf_printf(&creq, "%s\n%s\n%s", canon_headers.data ? canon_headers.data : "",
                           signed_list.data ? signed_list.data : "",
                           payload_hash);
    if (rc != CO_OK) {
        co_error_set(err, rc, "sigv4: cannot build the canonical request (%s)",
                     co_status_str(rc));
        goto fail;
    }

    /* Task 2: string to sign. */
    rc = co_buf_printf(&tmp, "%s/%s/%s/aws4_request", out->date_stamp,
                       params->region, params->service);
    if (rc != CO_OK)
        goto nomem;
    out->credential_scope = co_buf_steal(&tmp);
    rc = co_sigv4_sha256_hex(creq.data, creq.len, creq_hex);
    if (rc != CO_OK) {
        co_error_set(err, rc, "sigv4: SHA-256 of the canonical request failed");
        goto fail;
    }
    rc = co_buf_printf(&tmp, ALGORITHM "\n%s\n%s\n%s", out->amz_date,
                       out->credential_scope, creq_hex);
    if (rc != CO_OK)
        goto nomem;
    out->string_to_sign = co_buf_steal(&tmp);

    /* Tasks 3 and 4: signing key, signature. */
    rc = compute_signature(params->creds->secret_access_key, out, params,
                           out->signature);
    if (rc != CO_OK) {
        co_error_set(err, rc, "sigv4: HMAC-SHA256 failed");
        goto fail;
    }

    rc = co_buf_printf(&tmp, ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                       params->creds->access_key_id, out->credential_scope,
                       signed_list.data, out->signature);
    if (rc != CO_OK)
        goto nomem;
    out->authorization = co_buf_steal(&tmp);
    out->canonical_request = co_buf_steal(&creq);
    out->signed_headers = co_buf_steal(&signed_list);

    if (add_date)
        out->add[out->nadd++] = (co_sigv4_header){"X-Amz-Date", out->amz_date};
    if (add_token)
        out->add[out->nadd++] =
            (co_sigv4_header){"X-Amz-Security-Token", params->creds->session_token};
    out->add[out->nadd++] = (co_sigv4_header){"Authorization", out->authorization};
    rc = CO_OK;
    goto done;

nomem:
    co_error_set(err, rc, "sigv4: cannot build the signature (%s)", co_status_str(rc));
fail:
    co_sigv4_result_clear(out);
done:
    for (size_t i = 0; i < nheaders; i++)
        free(headers[i].name);
    free(headers);
    co_buf_free(&creq);
    co_buf_free(&signed_list);
    co_buf_free(&canon_headers);
    co_buf_free(&tmp);
    return rc;
}

void co_sigv4_result_clear(co_sigv4_result *res)
{
    if (!res)
        return;
    char *owned[] = {res->credential_scope, res->canonical_request, res->string_to_sign,
                     res->signed_headers, res->authorization};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        free(owned[i]);
    memset(res, 0, sizeof *res);
}
