/* dms.h - the AWS DMS JSON 1.1 API client (libcurl + SigV4).
 *
 * One request is `POST <path>` to the region endpoint
 * https://dms.<region>.amazonaws.com (or an override URL, e.g. the loopback
 * fake in tests) with the headers
 *   Content-Type: application/x-amz-json-1.1
 *   X-Amz-Target: AmazonDMSv20160101.<Operation>
 * signed with SigV4 (service "dms", aws/sigv4.h) using credentials from the
 * credential provider (aws/creds.h; a session token is signed).
 *
 * Errors answered by DMS are parsed from the body's "__type" (a
 * "namespace#" prefix is stripped) or the X-Amzn-ErrorType header (a ":..."
 * suffix is stripped), the message from "message" or "Message", and
 * classified once (co_dms_classify):
 *   CO_DMS_RETRYABLE      throttling (ThrottlingException, Throttling,
 *                         RequestLimitExceeded, KMSThrottlingFault, ...),
 *                         any 5xx or 429, network errors, dropped
 *                         connections, timeouts, unparsable 2xx bodies.
 *                         Retried inside the call (bounded: max_attempts
 *                         tries, full-jitter delays of at most
 *                         retry_cap_ms); if every try fails the call returns
 *                         CO_ERR_TRANSIENT so that the runner's RETRY verdict
 *                         (with its own longer backoff) takes over. A worker
 *                         therefore never sleeps long here.
 *   CO_DMS_INVALID_STATE  InvalidResourceStateFault: re-read the state.
 *   CO_DMS_ALREADY_EXISTS ResourceAlreadyExistsFault: describe and adopt
 *                         (the error body carries "resourceArn").
 *   CO_DMS_NOT_FOUND      ResourceNotFoundFault (also what Describe* answers
 *                         when nothing matches its filters).
 *   CO_DMS_TERMINAL       anything else (AccessDeniedFault,
 *                         KMSKeyNotAccessibleFault, ResourceQuotaExceededFault,
 *                         InvalidParameterValueException, signature errors...).
 * ExpiredTokenException makes the client drop the provider's cached
 * credentials and try again (counted as a retry).
 *
 * THREADS: a client is shared by every runner worker. Each call borrows a
 * CURL easy handle from a small pool guarded by the client's mutex and
 * returns it afterwards, so connections are reused across calls (libcurl
 * keeps the connection cache in the handle). A call blocks for at most
 * max_attempts * timeout_ms plus the retry delays: call it from worker
 * threads, never from an HTTP thread.
 *
 * SECRETS: request bodies may carry endpoint passwords (CreateEndpoint).
 * The client never logs a body or a header value, wipes the serialized
 * request body before freeing it, and error messages only quote what DMS
 * answered.
 *
 * METRICS: process-wide atomic counters per operation, rendered by
 * co_dms_counters_read() as a snapshot.
 */
#ifndef CUTOVER_AWS_DMS_H
#define CUTOVER_AWS_DMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

struct co_aws_provider;

/* How a DMS answer is to be handled. */
typedef enum co_dms_class {
    CO_DMS_OK,            /* 2xx with a JSON body */
    CO_DMS_RETRYABLE,     /* transient: retry with backoff */
    CO_DMS_INVALID_STATE, /* InvalidResourceStateFault: re-read state */
    CO_DMS_ALREADY_EXISTS,/* ResourceAlreadyExistsFault: describe and adopt */
    CO_DMS_NOT_FOUND,     /* ResourceNotFoundFault */
    CO_DMS_TERMINAL,      /* any other error: do not retry */
    CO_DMS_CLASS_LAST
} co_dms_class;

/* Client options; zero-initialize and set what you need. */
typedef struct co_dms_options {
    /* Override URL ("http://127.0.0.1:PORT" or "https://host[:port][/path]").
     * NULL or "": https://dms.<region>.amazonaws.com/. Copied. */
    const char *endpoint;
    /* Region for the default URL and the SigV4 scope. Required. Copied. */
    const char *region;
    /* Credential provider, borrowed: must outlive the client. Required. */
    struct co_aws_provider *creds;
    /* libcurl timeouts per HTTP attempt, in ms. 0: 5000 connect, 20000
     * total. */
    long connect_timeout_ms;
    long timeout_ms;
    /* Tries per call for retryable failures (>= 1). 0: 3. */
    int max_attempts;
    /* Full-jitter backoff between tries: a uniform delay in
     * [0, min(cap, base * 2^(try-1))] ms. 0: base 100, cap 400. */
    int64_t retry_base_ms;
    int64_t retry_cap_ms;
} co_dms_options;

typedef struct co_dms_client co_dms_client;

/* What one call produced. Zero-initialize before the first use
 * (`co_dms_result res = {0};`); release with co_dms_result_clear(). A
 * result may be reused: co_dms_call() clears it first. */
typedef struct co_dms_result {
    co_dms_class cls;        /* CO_DMS_OK on success */
    long http_status;        /* of the last attempt; 0 when no answer came */
    char error_type[128];    /* "" on success, DMS's error code (no prefix),
                              * or "NetworkError" / "Timeout" / "BadResponse" */
    char message[512];       /* DMS's message or the transport error; "" on success */
    char request_id[80];     /* x-amzn-RequestId of the last answer, or "" */
    json_t *body;            /* owned: the parsed success body, or the error
                              * body when it was JSON (e.g. with resourceArn);
                              * NULL otherwise */
    int attempts;            /* HTTP attempts made (>= 1 once a request left) */
} co_dms_result;

/* Frees r->body and zeroes r. NULL-safe. */
void co_dms_result_clear(co_dms_result *r);

/* Creates a client. Parses and copies the URL; does no I/O. *out is owned
 * by the caller (co_dms_client_free). Call after curl_global_init().
 * Errors: CO_ERR_INVALID (no region/creds, a URL that is not http(s) or has
 * a query, user info or fragment), CO_ERR_NOMEM, CO_ERR_INTERNAL. */
CO_MUST_CHECK co_status co_dms_client_new(const co_dms_options *opts,
                                          co_dms_client **out, co_error *err);

/* Frees the client and its pooled CURL handles. NULL-safe. No call may be
 * in progress. */
void co_dms_client_free(co_dms_client *c);

/* The URL requests go to (static for the client's life). */
const char *co_dms_client_url(const co_dms_client *c);

/* Calls DMS operation op (e.g. "DescribeReplicationTasks", per DMS API
 * <op>) with input (borrowed JSON object; NULL means {}), retrying
 * retryable failures as described at the top of this file. *res is cleared
 * first and filled in every case (class, error type and message, the body).
 * Returns:
 *   CO_OK              success (res->body is the output object);
 *   CO_ERR_TRANSIENT   retryable failures on every attempt;
 *   CO_ERR_CONFLICT    InvalidResourceStateFault or ResourceAlreadyExistsFault
 *                      (res->cls tells which);
 *   CO_ERR_NOT_FOUND   ResourceNotFoundFault;
 *   CO_ERR_REMOTE      any other DMS error (terminal);
 *   others             from the credential provider (e.g. CO_ERR_NOT_FOUND
 *                      when no credentials exist, with res->cls
 *                      CO_DMS_TERMINAL), CO_ERR_NOMEM, CO_ERR_INVALID.
 * On failure err holds "DMS <op>: <type>: <message>". Thread-safe. */
CO_MUST_CHECK co_status co_dms_call(co_dms_client *c, const char *op,
                                    const json_t *input, co_dms_result *res,
                                    co_error *err);

/* Calls Describe* operation op repeatedly with Marker until DMS stops
 * returning one (or max_pages pages were read: then CO_ERR_REMOTE), and
 * concatenates the arrays found under list_key (e.g. "TableStatistics")
 * into *items (new array owned by the caller). input is borrowed and not
 * modified. ResourceNotFoundFault on the first page yields CO_OK with an
 * empty array only when not_found_empty is set. res holds the last page's
 * result. Errors: as co_dms_call, CO_ERR_REMOTE for a page without the
 * array. Per DMS API pagination (Marker / MaxRecords). */
CO_MUST_CHECK co_status co_dms_paginate(co_dms_client *c, const char *op,
                                        const json_t *input, const char *list_key,
                                        int max_pages, bool not_found_empty,
                                        json_t **items, co_dms_result *res,
                                        co_error *err);

/* Classifies an answer: http_status (0 = no answer: network error) and the
 * error type (NULL or "" when none could be parsed). Pure. */
co_dms_class co_dms_classify(long http_status, const char *error_type);

/* True for throttling answers: HTTP 429 or a throttling error type
 * (ThrottlingException, Throttling, RequestLimitExceeded,
 * KMSThrottlingFault, ...). Pure. */
bool co_dms_is_throttling(long http_status, const char *error_type);

/* Static lower-case name of cls ("ok", "retryable", ...). */
const char *co_dms_class_name(co_dms_class cls);

/* Extracts the error type and message of an error answer: type from the
 * JSON body's "__type" (or "code"), else from header_error_type (the
 * X-Amzn-ErrorType header value, may be NULL); any "prefix#" is dropped
 * and so is a ":..." suffix. Message from "message", "Message" or
 * "errorMessage". body may be NULL or not JSON. Writes "" when nothing
 * was found; outputs are always NUL-terminated (truncated). Pure. */
void co_dms_parse_error(const char *body, size_t len, const char *header_error_type,
                        char *type, size_t type_size, char *message,
                        size_t message_size);

/* Parses a DMS timestamp: a JSON number of epoch seconds (also the Java
 * form 1.690000000123E9), a string holding such a number, or an ISO-8601 /
 * RFC 3339 string ("2023-07-22T04:26:40Z", with optional fraction and
 * "Z", "+hh:mm", "+hhmm" or "+hh" offset; a space may replace the 'T').
 * Returns epoch milliseconds (rounded), or -1 if v is NULL, null or not a
 * timestamp. Pure. */
int64_t co_dms_time_ms(const json_t *v);

/* Same for a C string. Returns -1 if malformed. */
int64_t co_dms_time_ms_str(const char *s);

/* Removes, in place and at every depth, the object members whose value is
 * JSON null, so that a member DMS sends as null reads as absent (the AWS
 * SDKs' reading of JSON 1.1 answers; e.g. "ReplicationTaskStartDate": null
 * for a task that never started). Array elements that are null are kept.
 * co_dms_call applies it to every success body. NULL-safe. */
void co_dms_drop_nulls(json_t *v);

/* A numeric member of obj as an integer: JSON integers as they are, reals
 * (100.0) truncated, strings of digits parsed; def when obj or the member
 * is absent, null or anything else. For counters and percentages DMS may
 * answer in either form. Pure. */
int64_t co_dms_int(const json_t *obj, const char *key, int64_t def);

/* Builds a DMS resource identifier from prefix (e.g. "cutover"), the run
 * id (only the part after its last '_' is used: "run_abc" -> "abc") and an
 * optional role (NULL or "" for none): "<prefix>-<suffix>[-<role>]",
 * lower-cased, every character other than a-z 0-9 turned into '-', runs of
 * '-' collapsed, no leading or trailing '-', an "x" prepended when it would
 * not start with a letter, cut to max_len (<= 255; 63 for replication
 * instances) without a trailing '-'. These are DMS's identifier rules:
 * letters, digits and hyphens, starting with a letter, no "--", no
 * trailing hyphen. Errors: CO_ERR_INVALID when size < max_len + 1 or
 * max_len < 1. */
CO_MUST_CHECK co_status co_dms_identifier(const char *prefix, const char *run_id,
                                          const char *role, size_t max_len,
                                          char *out, size_t size, co_error *err);

/* True if id follows the DMS identifier rules above with at most max_len
 * characters. */
bool co_dms_identifier_valid(const char *id, size_t max_len);

/* The DMS client's process-wide counters (server/metrics.c renders them as
 * cutover_dms_requests_total{operation,outcome}, one HTTP attempt each,
 * outcome ok | throttled | server_error | network_error | error, and
 * cutover_dms_retries_total{operation}, in-call retries). */
#define CO_DMS_METRIC_OPS 20
#define CO_DMS_OUTCOMES 5
typedef struct co_dms_counters {
    const char *const *ops;      /* CO_DMS_METRIC_OPS operation names, static */
    const char *const *outcomes; /* CO_DMS_OUTCOMES outcome names, static */
    unsigned long long requests[CO_DMS_METRIC_OPS][CO_DMS_OUTCOMES];
    unsigned long long retries[CO_DMS_METRIC_OPS];
} co_dms_counters;

/* Fills *out with a snapshot of the counters. Reads atomics; thread-safe. */
void co_dms_counters_read(co_dms_counters *out);

#endif
