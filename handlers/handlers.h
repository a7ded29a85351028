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

/* POST /v1/endpoints/{id}/test-connection (handlers/endpoint_test.c):
 * connects to a PostgreSQL endpoint within about 5 s and reports the server
 * version and the plans' prerequisites as findings. */
co_status h_endpoints_test(co_request *req, co_response *resp);

/* Webhooks (handlers/webhooks.c): create/list under a project, get,
 * update, delete, deliveries. */
CO_DECLARE_CRUD(h_webhooks);
co_status h_webhook_deliveries(co_request *req, co_response *resp);

struct sockaddr;
/* True for a private (10/8, 172.16/12, 192.168/16, 100.64/10), loopback,
 * link-local, unspecified or unique-local address, or an unknown family. */
bool co_addr_private(const struct sockaddr *sa);

/* True when url may be a webhook target: https:// (http:// only when
 * allow_private) with a host that is not "localhost" nor a literal private
 * address (unless allow_private). *why receives a static reason when not. */
bool co_webhook_url_ok(const char *url, bool allow_private, const char **why);

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
/* GET /v1/runs/{id}/readiness: the cutover readiness checks with an ETag
 * (handlers/readiness.c). */
co_status h_runs_readiness(co_request *req, co_response *resp);
co_status h_artifacts_list(co_request *req, co_response *resp);
co_status h_artifacts_get(co_request *req, co_response *resp);

/* Run reads for automation (handlers/runs_query.c): GET /v1/runs with
 * filters, GET /v1/runs/{id} with ETag/If-None-Match/?wait=, and
 * GET /v1/runs/{id}/tables. */
co_status h_runs_query(co_request *req, co_response *resp);
co_status h_run_tables(co_request *req, co_response *resp);

/* The ETag of a run document (borrowed): hex of a SHA-256 digest of its
 * canonical JSON (sorted keys) into out[64]; "" when out of memory. */
void co_run_etag(const json_t *run, char out[64]);

/* Events: JSON pages or SSE (handlers/events.c). */
co_status h_run_events(co_request *req, co_response *resp);
co_status h_events(co_request *req, co_response *resp);

/* The dashboard (handlers/ui.c): / and /ui redirect to /ui/; /ui/ is the
 * page; /ui/{file} and /ui/{dir}/{file} its embedded files. */
co_status h_ui_redirect(co_request *req, co_response *resp);
co_status h_ui_index(co_request *req, co_response *resp);
co_status h_ui_asset(co_request *req, co_response *resp);

/* Operations endpoints. */
co_status h_healthz(co_request *req, co_response *resp);
co_status h_readyz(co_request *req, co_response *resp);
co_status h_openapi(co_request *req, co_response *resp);

#endif
