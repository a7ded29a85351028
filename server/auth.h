/* auth.h - bearer-token authentication and roles.
 *
 * The tokens file holds one token per line:
 *   "<sha256-hex> <role> <name> [expires=<date>] [project=<project id>]"
 * where role is viewer, operator or admin; name (unique in the file)
 * identifies the caller in logs, approvals and the audit trail; expires= is
 * YYYY-MM-DD (through the end of that day, UTC) or YYYY-MM-DDTHH:MM:SSZ;
 * project= limits the token to one project (handlers/scope.h enforces it
 * on every route). '#' starts a comment. Only SHA-256 hashes are stored;
 * `cutoverd --hash-token` prints the hash of a token read on stdin. A
 * presented token is hashed and compared in constant time. The file must
 * not be writable by group or others. co_auth_reload (SIGHUP) reads it
 * again and swaps the table: removed tokens fail from the next request on,
 * open event streams stay open.
 *
 * THREADS: checks take a read lock, a reload the write lock.
 */
#ifndef CUTOVER_SERVER_AUTH_H
#define CUTOVER_SERVER_AUTH_H

#include "server/http.h"

typedef struct co_auth co_auth;

/* Who a valid token belongs to. */
typedef struct co_auth_caller {
    co_role role;
    char name[64];
    char project[40];   /* "" = every project */
} co_auth_caller;

/* Loads the tokens file at path into a new co_auth (caller frees with
 * co_auth_free). Errors: CO_ERR_IO (unreadable, or writable by group or
 * others), CO_ERR_INVALID (a bad line or a duplicate name, named by line
 * number). */
CO_MUST_CHECK co_status co_auth_load(const char *path, co_auth **out,
                                     co_error *err);

/* Reads the file auth was loaded from again and, if it is valid, replaces
 * the tokens (*count: how many); otherwise keeps the current ones. Errors:
 * as co_auth_load. */
CO_MUST_CHECK co_status co_auth_reload(co_auth *auth, size_t *count, co_error *err);

void co_auth_free(co_auth *auth);

/* Checks an Authorization header value ("Bearer <token>"; may be NULL) and
 * fills *out. Errors: CO_ERR_UNAUTHORIZED (absent, malformed, unknown or
 * expired token). */
CO_MUST_CHECK co_status co_auth_check(co_auth *auth, const char *header,
                                      co_auth_caller *out, co_error *err);

/* Name of a role ("viewer", ...). Static. */
const char *co_role_name(co_role role);

/* Writes the lower-case hex SHA-256 of token into out[65]. */
void co_auth_hash(const char *token, size_t len, char out[65]);

#endif
