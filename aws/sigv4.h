/* sigv4.h - AWS Signature Version 4 request signing (header form).
 *
 * Computes the canonical request, the string to sign, the signature and the
 * Authorization header value for one HTTP request, as described in the AWS
 * docs "Create a signed AWS API request" (Signature Version 4, algorithm
 * AWS4-HMAC-SHA256), using OpenSSL's EVP SHA-256 and HMAC. The rules for the
 * corner cases (header folding, duplicate headers, repeated query keys,
 * path normalization, UTF-8) follow the aws-sig-v4-test-suite, which
 * tests/unit/test_sigv4.c runs case by case.
 *
 * Pure computation: no I/O, no global state, no locks. Every function is
 * safe to call from any thread. The secret access key is only used to derive
 * the signing key; intermediate keys are wiped (OPENSSL_cleanse) before
 * returning, and nothing here logs.
 *
 * Layout follows curl's lib/http_aws_sigv4.c: one entry point, status codes,
 * a single cleanup label.
 */
#ifndef CUTOVER_AWS_SIGV4_H
#define CUTOVER_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* One request header, borrowed. name is matched case-insensitively; value
 * is signed trimmed, with inner runs of whitespace (space, tab, CR, LF, so
 * also obsolete line folding) collapsed to one space. */
typedef struct co_sigv4_header {
    const char *name;
    const char *value;
} co_sigv4_header;

/* Where a session token goes (only matters when credentials carry one). */
typedef enum co_sigv4_token_mode {
    /* X-Amz-Security-Token is added to the request before signing and is
     * part of the signed headers. What STS, DMS and most services expect
     * (suite cases get-vanilla-with-session-token, post-sts-header-before). */
    CO_SIGV4_TOKEN_SIGNED = 0,
    /* X-Amz-Security-Token is added after the signature is computed and is
     * not signed (suite case post-sts-header-after). */
    CO_SIGV4_TOKEN_UNSIGNED,
    CO_SIGV4_TOKEN_MODE_LAST
} co_sigv4_token_mode;

/* The request to sign. Every pointer is borrowed for the duration of
 * co_sigv4_sign() only. */
typedef struct co_sigv4_request {
    /* HTTP method, e.g. "POST". Used verbatim (HTTP methods are
     * case-sensitive). Required. */
    const char *method;
    /* The path as sent on the wire, without the query: "/", "/a/b%20c".
     * NULL or "" means "/". Unless s3_path is set, the path is normalized
     * per RFC 3986 ("." and ".." segments resolved, empty segments from
     * repeated slashes removed, a trailing slash kept) and then every byte
     * other than the unreserved set A-Z a-z 0-9 - _ . ~ and '/' is
     * percent-encoded (upper-case hex). Because the input is the wire form,
     * an existing "%20" becomes "%2520": the double encoding the AWS docs
     * require for every service except S3. */
    const char *path;
    /* The raw query string without the leading '?', as sent on the wire;
     * NULL or "" for none. Parameters are split on '&' (empty ones
     * dropped) and at the first '='; keys and values are percent-decoded
     * ('+' is read as a space, as curl does), then re-encoded with the AWS
     * rules (unreserved bytes kept, everything else %XX) and sorted by key,
     * then by value; repeated keys stay separate pairs. */
    const char *query;
    /* Headers of the request; all of them are signed. Must contain Host.
     * May contain X-Amz-Date (it must then equal the date derived from
     * co_sigv4_params.timestamp) and X-Amz-Security-Token (it must then
     * equal the credentials' session token). At most CO_SIGV4_MAX_HEADERS. */
    const co_sigv4_header *headers;
    size_t nheaders;
    /* The body: payload_len bytes at payload (payload may be NULL when
     * payload_len is 0). Ignored when payload_hash is set. */
    const void *payload;
    size_t payload_len;
    /* Optional precomputed payload hash used verbatim in the canonical
     * request: 64 lower-case hex digits of SHA-256, or a marker such as
     * "UNSIGNED-PAYLOAD". NULL: hash payload. */
    const char *payload_hash;
    /* S3 rules for the path: no normalization, and no second encoding
     * (valid %XX escapes are kept, other bytes encoded as above). */
    bool s3_path;
} co_sigv4_request;

/* Credentials, borrowed. session_token is NULL (or "") for long-term keys. */
typedef struct co_sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
} co_sigv4_credentials;

/* Signing parameters. */
typedef struct co_sigv4_params {
    const co_sigv4_credentials *creds; /* required */
    const char *region;                /* e.g. "us-east-1"; required */
    const char *service;               /* e.g. "dms"; required */
    int64_t timestamp;                 /* request time, Unix epoch seconds (UTC) */
    co_sigv4_token_mode token_mode;    /* default CO_SIGV4_TOKEN_SIGNED */
} co_sigv4_params;

#define CO_SIGV4_MAX_HEADERS 64
/* Headers co_sigv4_sign() asks the caller to add: X-Amz-Date,
 * X-Amz-Security-Token, Authorization. */
#define CO_SIGV4_MAX_ADDED 3

/* What co_sigv4_sign() produced. Zero-initialize before the first use
 * (`co_sigv4_result res = {0};`); release with co_sigv4_result_clear(). */
typedef struct co_sigv4_result {
    char amz_date[17];        /* "20150830T123600Z" (ISO 8601 basic, UTC) */
    char date_stamp[9];       /* "20150830" */
    char signature[65];       /* 64 lower-case hex digits */
    char *credential_scope;   /* owned: "20150830/us-east-1/service/aws4_request" */
    char *canonical_request;  /* owned: the six-part canonical request */
    char *string_to_sign;     /* owned: algorithm, date, scope, hash */
    char *signed_headers;     /* owned: "host;x-amz-date" */
    char *authorization;      /* owned: value of the Authorization header */
    /* Headers the caller must add to the request it sends, in this order:
     * X-Amz-Date (when the request lacked it), X-Amz-Security-Token (when
     * the credentials carry a token the request lacked), Authorization.
     * Names are static strings; values point into this result (or into the
     * borrowed credentials for the token) and live as long as both do. */
    size_t nadd;
    co_sigv4_header add[CO_SIGV4_MAX_ADDED];
} co_sigv4_result;

/* Signs req with params and fills *out (which must be zeroed or cleared;
 * on failure it is left cleared). Thread-safe, no I/O.
 *
 * Errors (details in err):
 *   CO_ERR_INVALID  missing or malformed input: no method, no Host header,
 *                   a header name with whitespace or ':', a region, service
 *                   or access key id containing '/' or whitespace, an
 *                   X-Amz-Date or X-Amz-Security-Token header that
 *                   disagrees with params, a timestamp out of range, more
 *                   than CO_SIGV4_MAX_HEADERS headers;
 *   CO_ERR_TOO_LARGE the canonical request would exceed 1 MiB;
 *   CO_ERR_NOMEM, CO_ERR_CRYPTO (OpenSSL failure).
 *
 * Behaviour: AWS SigV4 docs, tasks 1-4 (canonical request, string to sign,
 * signing key HMAC chain "AWS4"+secret -> date -> region -> service ->
 * "aws4_request", signature), checked against aws-sig-v4-test-suite. */
CO_MUST_CHECK co_status co_sigv4_sign(const co_sigv4_request *req,
                                      const co_sigv4_params *params,
                                      co_sigv4_result *out, co_error *err);

/* Frees the owned strings of res and zeroes it. NULL-safe; safe to call
 * on a zeroed or already-cleared result. */
void co_sigv4_result_clear(co_sigv4_result *res);

/* Writes the lower-case hex SHA-256 of len bytes at data (data may be NULL
 * when len is 0) into hex, which must hold 65 bytes (64 digits + NUL).
 * Errors: CO_ERR_CRYPTO. Thread-safe. */
CO_MUST_CHECK co_status co_sigv4_sha256_hex(const void *data, size_t len,
                                            char hex[65]);

#endif
