/* scope.c - see scope.h. */
#include "handlers/scope.h"

#include <string.h>

#include "engine/app.h"
#include "store/resources.h"
#include "store/runs.h"
#include "store/webhooks.h"

static bool starts(const char *path, const char *prefix)
{
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

/* The project of resource id of kind into out[40]; "" when it does not
 * exist. */
static co_status project_of(const co_request *req, co_kind kind, const char *id,
                            char out[40], co_error *err)
{
    co_resource r;
    co_error tmp;
    out[0] = '\0';
    co_error_clear(&tmp);
    if (co_res_get(req->app->store, kind, id, &r, &tmp) != CO_OK)
        return tmp.status == CO_ERR_NOT_FOUND ? CO_OK : co_error_set(err, tmp.status,
                                                                     "%s", tmp.message);
    snprintf(out, 40, "%s", r.project_id);
    co_resource_clear(&r);
    return CO_OK;
}

co_status co_scope_check(const co_request *req, co_error *err)
{
    const char *scope = req->scope_project, *path = req->path;
    char project[40] = "";
    const char *id = req->nparams ? req->params[0] : NULL;
    co_status rc = CO_OK;

    if (!scope)
        return CO_OK;
    if (strcmp(path, "/v1/projects") == 0)
        return co_error_set(err, CO_ERR_FORBIDDEN,
                            "token '%s' is limited to project %s: use /v1/projects/%s",
                            req->principal, scope, scope);
    if (starts(path, "/v1/projects/") && id) {
        snprintf(project, sizeof project, "%s", id);
    } else if (starts(path, "/v1/endpoints/") && id) {
        rc = project_of(req, CO_KIND_ENDPOINT, id, project, err);
    } else if (starts(path, "/v1/replication-instances/") && id) {
        rc = project_of(req, CO_KIND_INSTANCE, id, project, err);
    } else if (starts(path, "/v1/tasks/") && id) {
        rc = project_of(req, CO_KIND_TASK, id, project, err);
    } else if (starts(path, "/v1/runs/") && id) {
        co_run_row run;
        co_error tmp;
        co_error_clear(&tmp);
        if (co_runs_load(req->app->store, id, &run, &tmp) == CO_OK) {
            snprintf(project, sizeof project, "%s", run.project_id);
            co_run_row_clear(&run);
        }
    } else if (starts(path, "/v1/webhooks/") && id) {
        json_t *w = NULL;
        co_error tmp;
        co_error_clear(&tmp);
        if (co_webhooks_get(req->app->store, id, &w, &tmp) == CO_OK) {
            const char *pid = json_string_value(json_object_get(w, "project_id"));
            snprintf(project, sizeof project, "%s", pid ? pid : "");
            json_decref(w);
        }
    } else if (strcmp(path, "/v1/events") == 0 || strcmp(path, "/v1/runs") == 0) {
        const char *q = co_req_query(req, "project_id");
        if (!q || strcmp(q, scope) != 0)
            return co_error_set(err, CO_ERR_FORBIDDEN,
                                "token '%s' is limited to project %s: add "
                                "?project_id=%s", req->principal, scope, scope);
        return CO_OK;
    } else {
        return CO_OK; /* plans, health, metrics, the contract */
    }
    if (rc != CO_OK || !project[0] || strcmp(project, scope) == 0)
        return rc;
    return co_error_set(err, CO_ERR_FORBIDDEN,
                        "token '%s' is limited to project %s", req->principal, scope);
}
