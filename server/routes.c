/* routes.c - the daemon's static route table: method, path pattern,
 * handler, the least role allowed, and the operation name used in logs and
 * metrics (the operationId in openapi/openapi.yaml).
 *
 * Roles: reads need viewer; run actions and task/instance/project changes
 * need operator; endpoint changes (they carry secrets) need admin.
 */
#include "handlers/handlers.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/session.h"

#define V CO_ROLE_VIEWER
#define O CO_ROLE_OPERATOR
#define A CO_ROLE_ADMIN
#define N CO_ROLE_NONE

const co_route co_routes[] = {
    {"GET", "/healthz", h_healthz, N, "healthz"},
    {"GET", "/readyz", h_readyz, N, "readyz"},
    {"GET", "/metrics", h_metrics, N, "metrics"},
    {"GET", "/openapi.json", h_openapi, N, "openapi"},

    {"GET", "/", h_ui_redirect, N, "getRoot"},
    {"GET", "/ui", h_ui_redirect, N, "getDashboardRedirect"},
    {"GET", "/ui/", h_ui_index, N, "getDashboard"},
    {"GET", "/ui/{file}", h_ui_asset, N, "getDashboardFile"},
    {"GET", "/ui/{dir}/{file}", h_ui_asset, N, "getDashboardVendorFile"},

    {"POST", "/v1/sessions", h_sessions_create, N, "createSession"},
    {"GET", "/v1/sessions/current", h_sessions_current, V, "getSession"},
    {"DELETE", "/v1/sessions/current", h_sessions_delete, V, "deleteSession"},

    {"GET", "/v1/plans", h_plans_list, V, "listPlans"},
    {"GET", "/v1/plans/{id}", h_plans_get, V, "getPlan"},

    {"POST", "/v1/projects", h_projects_create, O, "createProject"},
    {"GET", "/v1/projects", h_projects_list, V, "listProjects"},
    {"GET", "/v1/projects/{id}", h_projects_get, V, "getProject"},
    {"PATCH", "/v1/projects/{id}", h_projects_update, O, "updateProject"},
    {"DELETE", "/v1/projects/{id}", h_projects_delete, O, "deleteProject"},

    {"POST", "/v1/projects/{id}/endpoints", h_endpoints_create, A, "createEndpoint"},
    {"GET", "/v1/projects/{id}/endpoints", h_endpoints_list, V, "listEndpoints"},
    {"GET", "/v1/endpoints/{id}", h_endpoints_get, V, "getEndpoint"},
    {"PATCH", "/v1/endpoints/{id}", h_endpoints_update, A, "updateEndpoint"},
    {"DELETE", "/v1/endpoints/{id}", h_endpoints_delete, A, "deleteEndpoint"},
    {"POST", "/v1/endpoints/{id}/test-connection", h_endpoints_test, A, "testEndpointConnection"},

    {"POST", "/v1/projects/{id}/replication-instances", h_instances_create, O, "createReplicationInstance"},
    {"GET", "/v1/projects/{id}/replication-instances", h_instances_list, V, "listReplicationInstances"},
    {"GET", "/v1/replication-instances/{id}", h_instances_get, V, "getReplicationInstance"},
    {"PATCH", "/v1/replication-instances/{id}", h_instances_update, O, "updateReplicationInstance"},
    {"DELETE", "/v1/replication-instances/{id}", h_instances_delete, O, "deleteReplicationInstance"},

    {"POST", "/v1/projects/{id}/tasks", h_tasks_create, O, "createTask"},
    {"GET", "/v1/projects/{id}/tasks", h_tasks_list, V, "listTasks"},
    {"GET", "/v1/tasks/{id}", h_tasks_get, V, "getTask"},
    {"PATCH", "/v1/tasks/{id}", h_tasks_update, O, "updateTask"},
    {"DELETE", "/v1/tasks/{id}", h_tasks_delete, O, "deleteTask"},

    {"POST", "/v1/projects/{id}/webhooks", h_webhooks_create, A, "createWebhook"},
    {"GET", "/v1/projects/{id}/webhooks", h_webhooks_list, V, "listWebhooks"},
    {"GET", "/v1/webhooks/{id}", h_webhooks_get, V, "getWebhook"},
    {"PATCH", "/v1/webhooks/{id}", h_webhooks_update, A, "updateWebhook"},
    {"DELETE", "/v1/webhooks/{id}", h_webhooks_delete, A, "deleteWebhook"},
    {"GET", "/v1/webhooks/{id}/deliveries", h_webhook_deliveries, V, "listWebhookDeliveries"},

    {"POST", "/v1/projects/{id}/runs", h_runs_create, O, "createRun"},
    {"GET", "/v1/projects/{id}/runs", h_runs_list, V, "listRuns"},
    {"GET", "/v1/runs", h_runs_query, V, "queryRuns"},
    {"GET", "/v1/runs/{id}", h_runs_get, V, "getRun"},
    {"GET", "/v1/runs/{id}/tables", h_run_tables, V, "getRunTables"},
    {"POST", "/v1/runs/{id}/pause", h_runs_pause, O, "pauseRun"},
    {"POST", "/v1/runs/{id}/resume", h_runs_resume, O, "resumeRun"},
    {"POST", "/v1/runs/{id}/cancel", h_runs_cancel, O, "cancelRun"},
    {"POST", "/v1/runs/{id}/rollback-task/stop", h_runs_rollback_stop, O, "stopRollbackTask"},
    {"GET", "/v1/runs/{id}/readiness", h_runs_readiness, V, "getRunReadiness"},
    {"POST", "/v1/runs/{id}/cleanup", h_runs_cleanup, O, "cleanUpRun"},
    {"POST", "/v1/runs/{id}/steps/{step}/approve", h_runs_approve, O, "approveStep"},
    {"POST", "/v1/runs/{id}/steps/{step}/retry", h_runs_retry, O, "retryStep"},
    {"GET", "/v1/runs/{id}/artifacts", h_artifacts_list, V, "listArtifacts"},
    {"GET", "/v1/runs/{id}/artifacts/{name}", h_artifacts_get, V, "getArtifact"},
    {"GET", "/v1/runs/{id}/events", h_run_events, V, "listRunEvents"},
    {"GET", "/v1/events", h_events, V, "listEvents"},
};

const size_t co_routes_count = sizeof co_routes / sizeof co_routes[0];
