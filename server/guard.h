/* guard.h - checks made on a request's headers alone, before its body is
 * read: the Host a browser was pointed at, the Origin of a cross-site
 * request and the media type of the body.
 *
 * DESIGN
 * A daemon without a tokens file treats every caller as admin, so the only
 * callers it must serve are local programs that name it by its own address.
 * DNS rebinding (a web page whose host name later resolves to 127.0.0.1)
 * is refused by the Host check (RFC 9110 section 7.4: 421 Misdirected
 * Request); cross-site requests a browser sends without a preflight (HTML
 * forms, fetch with mode no-cors: RFC 6454 Origin set, body text/plain,
 * multipart/form-data or application/x-www-form-urlencoded) are refused by
 * the Origin and media type checks. With a tokens file the bearer token is
 * the defence and only the media type check applies.
 *
 * THREADS: pure functions; any thread.
 */
#ifndef CUTOVER_SERVER_GUARD_H
#define CUTOVER_SERVER_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

/* Tells whether host (a Host header value, may be NULL) names this server:
 * "<name>:<port>" where name is the host part of listen ("127.0.0.1",
 * "[::1]", "localhost", as given to --listen), "localhost", "127.0.0.1" or
 * "[::1]" (case-insensitive) and port is the bound port; the bare name is
 * accepted too when port is 80. NULL or anything else is false. */
bool co_guard_host_ok(const char *host, const char *listen, uint16_t port);

/* Tells whether origin (an Origin header value, e.g.
 * "http://127.0.0.1:8080"; NULL when absent) may make a state-changing
 * request to a daemon without tokens: absent, or an http/https origin
 * whose host:port passes co_guard_host_ok. "null" and foreign origins are
 * false. */
bool co_guard_origin_ok(const char *origin, const char *listen, uint16_t port);

/* Checks the media type of a request body: when has_body, content_type
 * (may be NULL) must be application/json, or for PATCH also
 * application/merge-patch+json (RFC 7396); parameters such as
 * "; charset=utf-8" are allowed. Returns CO_OK, or CO_ERR_MEDIA_TYPE (415)
 * with the field "@Content-Type" in err. */
CO_MUST_CHECK co_status co_guard_media_type(const char *method,
                                            const char *content_type,
                                            bool has_body, co_error *err);

#endif
