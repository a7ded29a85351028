/* readiness.h - the cutover readiness of a run (handlers/readiness.c has
 * the design: which checks, where each figure comes from, the ETag).
 */
#ifndef CUTOVER_HANDLERS_READINESS_H
#define CUTOVER_HANDLERS_READINESS_H

#include <jansson.h>

#include "handlers/request.h"

/* Builds the readiness document of run_id into *out (new reference:
 * {run_id, state, current_step, ready, etag, checked_at, checks[{id, title,
 * figure, unit, threshold, pass, status, detail}]}) and its ETag (unquoted,
 * "r-" and 32 hex digits) into etag[40]. For a PostgreSQL source of an
 * active run it queries the source (at most ~3 s: 2 s connect timeout, 1 s
 * statement timeout). Errors: CO_ERR_NOT_FOUND (no such run), CO_ERR_STORE,
 * CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_readiness_build(co_request *req, const char *run_id,
                                           json_t **out, char etag[40],
                                           co_error *err);

/* Checks the request's If-Match (absent or "*": CO_OK) against the current
 * readiness ETag of run_id (quoted or not). Errors: CO_ERR_PRECONDITION
 * (412, field "@If-Match") when the readiness changed, and those of
 * co_readiness_build. */
CO_MUST_CHECK co_status co_readiness_if_match(co_request *req, const char *run_id,
                                              co_error *err);

#endif
