/* handlers.h - every REST handler, one file per resource under handlers/.
 * All follow co_handler_fn (server/http.h): they run on an HTTP pool
 * thread, read the request, touch only SQLite and in-memory state, and
 * either fill the response or return an error status with resp->err set.
 */
#ifndef CUTOVER_HANDLERS_HANDLERS_H
#define CUTOVER_HANDLERS_HANDLERS_H

#include "handlers/request.h"

#define CO_DECLARE_CRUD(prefix)                                          \
    co_status prefix##_create(co_request *req, co_response *resp);       \
    co_status prefix##_list(co_request *req, co_response *resp);         \
    co_status prefix##_get(co_request *req, co_response *resp);          \
    co_status prefix##_update(co_request *req, co_response *resp);       \
    co_status prefix##_delete(co_request *req, co_response *resp)

CO_DECLARE_CRUD(h_projects);
CO_DECLARE_CRUD(h_endpoints);
CO_DECLARE_CRUD(h_instances);
CO_DECLARE_CRUD(h_tasks);

/* GET /v1/plans and /v1/plans/{id}: the plans and their steps. */
co_status h_plans_list(co_request *req, co_response *resp);
co_status h_plans_get(co_request *req, co_response *resp);

/* Runs: create/list/get, actions, artifacts (handlers/runs.c). */
co_status h_runs_create(co_request *req, co_response *resp);
co_status h_runs_list(co_request *req, co_response *resp);
co_status h_runs_get(co_request *req, co_response *resp);
co_status h_runs_pause(co_request *req, co_response *resp);
co_status h_runs_resume(co_request *req, co_response *resp);
co_status h_runs_cancel(co_request *req, co_response *resp);
/* POST /v1/runs/{id}/rollback-task/stop: for a succeeded run with
 * rollback_task, marks the engine clean-up pending (the runner then stops
 * and deletes the rollback task and, on aws-dms, its endpoints and the
 * replication instance) and publishes run.cleanup {result: pending}.
 * 202 with the run; 409 when the run did not succeed or has no rollback
 * task. */
co_status h_runs_rollback_stop(co_request *req, co_response *resp);
co_status h_runs_cleanup(co_request *req, co_response *resp);
co_status h_runs_approve(co_request *req, co_response *resp);
co_status h_runs_retry(co_request *req, co_response *resp);
co_status h_artifacts_list(co_request *req, co_response *resp);
co_status h_artifacts_get(co_request *req, co_response *resp);

/* Events: JSON pages or SSE (handlers/events.c). */
co_status h_run_events(co_request *req, co_response *resp);
co_status h_events(co_request *req, co_response *resp);

/* Operations endpoints. */
co_status h_healthz(co_request *req, co_response *resp);
co_status h_readyz(co_request *req, co_response *resp);
co_status h_openapi(co_request *req, co_response *resp);

#endif
