/* scope.h - tokens limited to one project (project= in the tokens file,
 * server/auth.h) reach that project's resources only, on every route.
 *
 * DESIGN
 * The project a request touches is found from its path: the {id} of
 * /v1/projects/{id}/..., the project of the endpoint, replication
 * instance, task, run or webhook named by /v1/<kind>/{id}/..., or the
 * project_id filter of /v1/events and /v1/runs (required for a scoped
 * token, and only its project). Listing or creating
 * projects is refused; plans and the ops routes are not project data. A
 * resource that does not exist is left to the handler (404).
 *
 * THREADS: HTTP pool threads; reads the store.
 */
#ifndef CUTOVER_HANDLERS_SCOPE_H
#define CUTOVER_HANDLERS_SCOPE_H

#include "handlers/request.h"

/* Returns CO_OK when req->scope_project is NULL or the request stays in
 * that project; else CO_ERR_FORBIDDEN (403) saying which project the token
 * is limited to. Errors from the store are returned as they are. */
CO_MUST_CHECK co_status co_scope_check(const co_request *req, co_error *err);

#endif
