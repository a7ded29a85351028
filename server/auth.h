/* auth.h - bearer-token authentication and roles.
 *
 * The tokens file holds one token per line: "<sha256-hex> <role> <name>",
 * where role is viewer, operator or admin and name identifies the caller in
 * logs and approvals; '#' starts a comment. Only SHA-256 hashes are stored;
 * `cutoverd --hash-token` prints the hash of a token read on stdin. A
 * presented token is hashed and compared in constant time.
 */
#ifndef CUTOVER_SERVER_AUTH_H
#define CUTOVER_SERVER_AUTH_H

#include "server/http.h"

typedef struct co_auth co_auth;

/* Loads the tokens file at path into a new co_auth (caller frees with
 * co_auth_free). Errors: CO_ERR_IO (unreadable), CO_ERR_INVALID (a bad line,
 * named by number). */
CO_MUST_CHECK co_status co_auth_load(const char *path, co_auth **out,
                                     co_error *err);

void co_auth_free(co_auth *auth);

/* Checks an Authorization header value ("Bearer <token>"; may be NULL).
 * On success sets *role and *name (borrowed from auth). Errors:
 * CO_ERR_UNAUTHORIZED (absent, malformed or unknown token). */
CO_MUST_CHECK co_status co_auth_check(const co_auth *auth, const char *header,
                                      co_role *role, const char **name,
                                      co_error *err);

/* Name of a role ("viewer", ...). Static. */
const char *co_role_name(co_role role);

/* Writes the lower-case hex SHA-256 of token into out[65]. */
void co_auth_hash(const char *token, size_t len, char out[65]);

#endif
