/* session.h - browser sessions: a bearer token exchanged once for a cookie.
 *
 * DESIGN
 * With a tokens file, POST /v1/sessions takes {"token", "ttl_seconds"},
 * checks the token like a bearer token (server/auth.h) and answers with
 * Set-Cookie: cutover_session=<64 hex of 32 random bytes>; Path=/; HttpOnly;
 * SameSite=Strict; Max-Age=<ttl> (attributes per RFC 6265 and the SameSite
 * draft, RFC 6265bis), and a body carrying the session's CSRF token (the
 * "synchronizer token" pattern of OWASP's CSRF prevention cheat sheet). Only the SHA-256 of the cookie value is kept (in memory: sessions
 * end when the daemon restarts), with the token's role and name and the
 * expiry. A request without Authorization but with the cookie is
 * authenticated by the session; when it changes anything (any method but
 * GET, HEAD and OPTIONS) it must also carry X-CSRF-Token with the session's
 * CSRF token, which a page on another site cannot read (403 otherwise).
 * The cookie is SameSite=Strict, so other sites' pages do not send it at
 * all; the header is the second lock. EventSource sends the cookie like any
 * same-origin GET. DELETE /v1/sessions/current ends the session and clears
 * the cookie. Without a tokens file there is nothing to sign in to: POST
 * answers 404 and GET /v1/sessions/current says auth "none".
 *
 * THREADS: the session table is guarded by one mutex; lookups compare
 * hashes in constant time. At most CO_SESSIONS_MAX live sessions; expired
 * ones are dropped when a session is created.
 */
#ifndef CUTOVER_SERVER_SESSION_H
#define CUTOVER_SERVER_SESSION_H

#include "server/http.h"

struct co_auth;
struct co_auth_caller;

#define CO_SESSION_COOKIE "cutover_session"
#define CO_SESSION_CSRF_HEADER "X-CSRF-Token"
#define CO_SESSIONS_MAX 4096

/* Authenticates a request on its headers alone, before any body is read
 * (server/http.c precheck): with an Authorization header (header, may be
 * NULL) or without a session cookie through co_auth_check; otherwise through
 * the session cookie of conn, enforcing the CSRF header on changing methods
 * (method: any but GET, HEAD and OPTIONS). On success fills *out (role,
 * token name and project scope, copied). Errors: CO_ERR_UNAUTHORIZED (no
 * credentials, an unknown or expired token, an unknown or expired session),
 * CO_ERR_FORBIDDEN (CSRF header missing or wrong). */
CO_MUST_CHECK co_status co_session_auth(struct co_auth *auth, struct MHD_Connection *conn,
                                        const char *method, const char *header,
                                        struct co_auth_caller *out, co_error *err);

/* Frees every session (at shutdown, after the HTTP server stopped). */
void co_sessions_free(void);

/* POST /v1/sessions, GET and DELETE /v1/sessions/current. */
co_status h_sessions_create(co_request *req, co_response *resp);
co_status h_sessions_current(co_request *req, co_response *resp);
co_status h_sessions_delete(co_request *req, co_response *resp);

#endif
