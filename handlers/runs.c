/* runs.c - /v1/projects/{id}/runs and /v1/runs/{id}: create a run of a
 * plan, read it with every step, and act on it (pause, resume, cancel,
 * approve a gate, retry a failed step); its artifacts. State changes go
 * through engine/transition.c; illegal ones answer 409 with the current
 * run and step states. */
#include <string.h>

#include "engine/engine.h"
#include "engine/params.h"
#include "engine/plans.h"
#include "engine/runner.h"
#include "engine/transition.h"
#include "handlers/handlers.h"
#include "handlers/audit.h"
#include "handlers/review.h"
#include "core/validate.h"
#include "engine/app.h"
#include "events/events.h"
#include "handlers/readiness.h"
#include "store/cleanup.h"
#include "store/resources.h"
#include "store/runs.h"

static const char *const create_fields[] = {"plan", "engine", "parameters", NULL};

co_status h_runs_create(co_request *req, co_response *resp)
{
    co_error *err = &resp->err;
    co_resource project;
    json_t *body = NULL, *params, *run_json = NULL;
    const co_plan_def *plan = NULL;
    const char *engine;
    co_run_row run;
    const char *step_ids[64];
    co_evb b;
    co_status rc;

    memset(&run, 0, sizeof run);
    if ((rc = co_res_get(req->app->store, CO_KIND_PROJECT, req->params[0], &project,
                         err)) != CO_OK)
        return rc;
    if ((rc = co_req_json(req, &body, err)) != CO_OK)
        goto out;
    v_only_known(body, "", create_fields, err);
    v_no_nulls(body, "", err);
    if (v_string(body, "", "plan", 1, 64, NULL, err) &&
        !(plan = co_plan_find(v_str(body, "plan"))))
        co_error_field(err, "/plan", "must be oracle-to-postgres or view-migration");
    v_string(body, "", "engine", 1, 32, v_str(project.doc, "default_engine"), err);
    engine = v_str(body, "engine");
    if (engine && !co_engine_find(engine))
        co_error_field(err, "/engine", "must be pg-logical or aws-dms");
    v_object(body, "", "parameters", false, err);
    params = json_object_get(body, "parameters");
    if (plan && json_is_object(params) &&
        (rc = co_review_check_create(req, plan, params, err)) != CO_OK)
        goto out;
    if (plan && engine && json_is_object(params))
        co_params_validate(req->app->store, plan, engine, project.id, params, err);
    if ((rc = err->status) != CO_OK)
        goto out;
    if ((rc = co_id_new("run_", run.id, err)) != CO_OK)
        goto out;
    snprintf(run.project_id, sizeof run.project_id, "%s", project.id);
    snprintf(run.plan, sizeof run.plan, "%s", plan->id);
    snprintf(run.engine, sizeof run.engine, "%s", engine);
    snprintf(run.created_by, sizeof run.created_by, "%s", req->principal);
    run.params = json_incref(params);
    for (size_t i = 0; i < plan->nsteps && i < 64; i++)
        step_ids[i] = plan->steps[i].id;
    if ((rc = co_evb_begin(&b, req->app->events, req->app->store, err)) != CO_OK)
        goto out;
    rc = co_runs_insert(req->app->store, &run, step_ids, plan->nsteps, err);
    if (rc == CO_OK)
        rc = co_evb_add(&b, req->app->store, run.id, run.project_id, "run.state",
                        json_pack("{s:s, s:n, s:s, s:s, s:s, s:s}", "run_id", run.id,
                                  "from", "to", "pending", "plan", plan->id, "engine",
                                  engine, "actor", req->principal),
                        err);
    if (rc == CO_OK)
        rc = co_review_add_artifact(&b, req->app->store, &run, plan, err);
    if (rc != CO_OK) {
        co_evb_abort(&b, req->app->store);
        goto out;
    }
    if ((rc = co_evb_commit(&b, req->app->store, err)) != CO_OK)
        goto out;
    co_runner_wake(req->app->runner);
    co_audit(req, "run", "create", run.id, run.project_id, run.id,
             json_pack("{s:s, s:s, s:o}", "plan", plan->id, "engine", engine,
                       "parameters", co_audit_changed(NULL, params)));
    if ((rc = co_runs_json(req->app->store, run.id, &run_json, err)) != CO_OK)
        goto out;
    co_run_etag(run_json, resp->etag);
    co_resp_json(resp, 201, run_json);
    snprintf(resp->location, sizeof resp->location, "/v1/runs/%s", run.id);
out:
    json_decref(body);
    co_run_row_clear(&run);
    co_resource_clear(&project);
    return rc;
}

co_status h_runs_list(co_request *req, co_response *resp)
{
    json_t *items = NULL;
    int64_t after, last;
    int limit;
    bool more;
    co_status rc;
    if ((rc = co_req_page(req, &limit, &after, &resp->err)) != CO_OK)
        return rc;
    if ((rc = co_res_exists(req->app->store, CO_KIND_PROJECT, req->params[0], &resp->err)) !=
        CO_OK)
        return rc;
    if ((rc = co_runs_list_json(req->app->store, req->params[0], after, limit, &items,
                                &last, &more, &resp->err)) != CO_OK)
        return rc;
    co_resp_page(resp, items, more, last);
    return CO_OK;
}

/* Applies an API action (audited as audit.run.<verb>; step names the step
 * acted on or is NULL) and answers with the run as it is afterwards. */
static co_status act(co_request *req, co_response *resp, co_action action,
                     int step_index, const char *verb, const char *step)
{
    co_change c;
    json_t *state = NULL, *run = NULL;
    co_status rc;
    memset(&c, 0, sizeof c);
    c.action = action;
    c.step_index = step_index;
    c.actor = req->principal;
    rc = co_transition(req->app, req->params[0], &c, &state, &resp->err);
    if (rc != CO_OK) {
        resp->problem_extra = state;
        return rc;
    }
    co_runner_wake(req->app->runner);
    if ((rc = co_runs_json(req->app->store, req->params[0], &run, &resp->err)) != CO_OK)
        return rc;
    co_audit(req, "run", verb, req->params[0],
             json_string_value(json_object_get(run, "project_id")), req->params[0],
             step ? json_pack("{s:s}", "step", step) : NULL);
    co_resp_json(resp, 200, run);
    return CO_OK;
}

co_status h_runs_pause(co_request *req, co_response *resp)
{
    return act(req, resp, CO_ACT_PAUSE, -1, "pause", NULL);
}

co_status h_runs_resume(co_request *req, co_response *resp)
{
    return act(req, resp, CO_ACT_RESUME, -1, "resume", NULL);
}

co_status h_runs_cancel(co_request *req, co_response *resp)
{
    return act(req, resp, CO_ACT_CANCEL, -1, "cancel", NULL);
}

co_status h_runs_rollback_stop(co_request *req, co_response *resp)
{
    co_run_row run;
    co_evb b;
    json_t *out = NULL;
    co_error *err = &resp->err;
    co_status rc = co_runs_load(req->app->store, req->params[0], &run, err);
    if (rc != CO_OK)
        return rc;
    if (!json_is_true(json_object_get(run.params, "rollback_task")))
        rc = co_error_set(err, CO_ERR_CONFLICT,
                          "run %s has no rollback task (parameters.rollback_task is false)",
                          run.id);
    else if (run.state != CO_RUN_SUCCEEDED)
        rc = co_error_set(err, CO_ERR_CONFLICT,
                          "run %s is %s: its rollback task runs only after the run succeeded "
                          "(cancel a run that did not succeed)",
                          run.id, co_run_state_name(run.state));
    else if ((rc = co_evb_begin(&b, req->app->events, req->app->store, err)) == CO_OK) {
        rc = co_runs_mark_cleanup(req->app->store, run.id, err);
        if (rc == CO_OK)
            rc = co_evb_add(&b, req->app->store, run.id, run.project_id, "run.cleanup",
                            json_pack("{s:s, s:s, s:s, s:s}", "run_id", run.id, "result",
                                      "pending", "reason", "rollback-task/stop", "actor",
                                      req->principal),
                            err);
        if (rc != CO_OK)
            co_evb_abort(&b, req->app->store);
        else
            rc = co_evb_commit(&b, req->app->store, err);
    }
    co_run_row_clear(&run);
    if (rc != CO_OK)
        return rc;
    co_runner_wake(req->app->runner);
    if ((rc = co_runs_json(req->app->store, req->params[0], &out, err)) != CO_OK)
        return rc;
    co_resp_json(resp, 202, out);
    return CO_OK;
}

/* The run's state and its current step's state, for a 409 (new object). */
static json_t *run_states(const json_t *run)
{
    const char *cur = json_string_value(json_object_get(run, "current_step"));
    const char *step_state = "pending";
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(run, "steps"), i, st)
        if (cur && strcmp(cur, json_string_value(json_object_get(st, "id"))) == 0)
            step_state = json_string_value(json_object_get(st, "state"));
    return json_pack("{s:O, s:s}", "state", json_object_get(run, "state"), "step_state",
                     step_state);
}

co_status h_runs_cleanup(co_request *req, co_response *resp)
{
    json_t *run = NULL;
    co_status rc = co_runs_request_cleanup(req->app->store, req->params[0], &resp->err);
    if (rc != CO_OK && rc != CO_ERR_CONFLICT)
        return rc;
    {
        co_error err;
        co_error_clear(&err);
        if (co_runs_json(req->app->store, req->params[0], &run, &err) != CO_OK)
            return rc != CO_OK ? rc : co_error_set(&resp->err, err.status, "%s", err.message);
    }
    if (rc == CO_ERR_CONFLICT) {
        resp->problem_extra = run_states(run);
        json_decref(run);
        return rc;
    }
    co_runner_wake(req->app->runner);
    co_resp_json(resp, 200, run);
    return CO_OK;
}

static co_status step_action(co_request *req, co_response *resp, co_action action)
{
    co_run_row run;
    const co_plan_def *plan;
    int idx;
    co_status rc = co_runs_load(req->app->store, req->params[0], &run, &resp->err);
    if (rc != CO_OK)
        return rc;
    plan = co_plan_find(run.plan);
    idx = plan ? co_plan_step_index(plan, req->params[1]) : -1;
    if (idx >= 0 && action == CO_ACT_APPROVE)
        rc = co_review_check_approve(req, &run, req->params[1], &resp->err);
    co_run_row_clear(&run);
    if (idx < 0)
        return co_error_set(&resp->err, CO_ERR_NOT_FOUND, "plan %s has no step %s",
                            plan ? plan->id : "?", req->params[1]);
    if (rc != CO_OK)
        return rc;
    return act(req, resp, action, idx, action == CO_ACT_APPROVE ? "approve" : "retry",
               req->params[1]);
}

co_status h_runs_approve(co_request *req, co_response *resp)
{
    /* the cutover decision rests on the readiness the operator saw */
    if (strcmp(req->params[1], "cutover_gate") == 0) {
        co_status rc = co_readiness_if_match(req, req->params[0], &resp->err);
        if (rc != CO_OK)
            return rc;
    }
    return step_action(req, resp, CO_ACT_APPROVE);
}

co_status h_runs_retry(co_request *req, co_response *resp)
{
    return step_action(req, resp, CO_ACT_RETRY_STEP);
}

co_status h_artifacts_list(co_request *req, co_response *resp)
{
    return co_resp_list(req, resp, co_artifact_list);
}

co_status h_artifacts_get(co_request *req, co_response *resp)
{
    char ctype[64];
    co_status rc = co_artifact_get(req->app->store, req->params[0], req->params[1],
                                   &resp->raw, &resp->raw_len, ctype, &resp->err);
    if (rc != CO_OK)
        return rc;
    resp->content_type = strncmp(ctype, "application/json", 16) == 0
                             ? "application/json"
                             : "text/plain; charset=utf-8";
    resp->status = 200;
    return CO_OK;
}
