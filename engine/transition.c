/* transition.c - see transition.h. */
#include "engine/transition.h"

#include <stdio.h>
#include <string.h>

#include "engine/plans.h"
#include "core/clock.h"
#include "events/events.h"
#include "core/log.h"
#include "store/cleanup.h"

typedef struct tx {
    co_app *app;
    co_evb batch;
    co_run_row run;
    const co_plan_def *plan;
} tx;

static co_status set_run(tx *t, co_run_state to, int current, const char *error,
                         const char *actor, co_error *err)
{
    co_run_state from = t->run.state;
    json_t *data;
    co_status rc;
    if (from != to && !co_run_transition_ok(from, to))
        return co_error_set(err, CO_ERR_CONFLICT, "run %s is %s and cannot become %s",
                            t->run.id, co_run_state_name(from), co_run_state_name(to));
    rc = co_runs_write_run(t->app->store, t->run.id, to, current, error, err);
    if (rc != CO_OK || from == to)
        goto done;
    data = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "run_id", t->run.id, "from",
                     co_run_state_name(from), "to", co_run_state_name(to), "error",
                     error && *error ? error : NULL, "actor", actor);
    rc = co_evb_add(&t->batch, t->app->store, t->run.id, t->run.project_id,
                    "run.state", data, err);
    if (rc == CO_OK)
        co_log(CO_LOG_INFO, "runner", "run %s: %s -> %s%s%s", t->run.id,
               co_run_state_name(from), co_run_state_name(to),
               error && *error ? ": " : "", error ? error : "");
done:
    t->run.state = to;
    t->run.current_step = current;
    return rc;
}

static co_status set_step(tx *t, int idx, co_step_state from, co_step_write *w,
                          int attempt, const char *actor, co_error *err)
{
    co_step_state to = w->state;
    json_t *data;
    co_status rc;
    if (to < CO_STEP_STATE_LAST && to != from && !co_step_transition_ok(from, to))
        return co_error_set(err, CO_ERR_CONFLICT,
                            "step %s of run %s is %s and cannot become %s",
                            t->plan->steps[idx].id, t->run.id, co_step_state_name(from),
                            co_step_state_name(to));
    if (to == from)
        w->state = CO_STEP_STATE_LAST;
    rc = co_runs_write_step(t->app->store, t->run.id, idx, w, err);
    if (rc != CO_OK || to >= CO_STEP_STATE_LAST || to == from)
        return rc;
    data = json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:s?, s:s?}", "run_id", t->run.id,
                     "step", t->plan->steps[idx].id, "index", idx, "from",
                     co_step_state_name(from), "to", co_step_state_name(to), "attempt",
                     attempt, "error", w->error && *w->error ? w->error : NULL,
                     "actor", actor);
    if (t->plan->steps[idx].aws_step)
        json_object_set_new(data, "aws_step", json_integer(t->plan->steps[idx].aws_step));
    rc = co_evb_add(&t->batch, t->app->store, t->run.id, t->run.project_id,
                    "step.state", data, err);
    if (rc == CO_OK)
        co_log(CO_LOG_INFO, "runner", "run %s step %s: %s -> %s", t->run.id,
               t->plan->steps[idx].id, co_step_state_name(from), co_step_state_name(to));
    return rc;
}

/* True if optional step idx is enabled by the run's parameters. */
static bool step_enabled(const tx *t, size_t idx)
{
    const char *p = t->plan->steps[idx].optional_param;
    json_t *v = p[0] ? json_object_get(t->run.params, p) : NULL;
    return !p[0] || json_is_true(v) || (json_is_string(v) && json_string_length(v) > 0);
}

/* After step idx succeeded: skip disabled optional steps, move the run to
 * the next step, or finish it. */
static co_status advance(tx *t, int idx, const char *actor, co_error *err)
{
    size_t next = (size_t)idx + 1;
    co_status rc = CO_OK;
    for (; next < t->plan->nsteps && rc == CO_OK; next++) {
        co_step_write w = co_step_write_keep();
        if (step_enabled(t, next))
            break;
        w.state = CO_STEP_SKIPPED;
        rc = set_step(t, (int)next, CO_STEP_PENDING, &w, 0, actor, err);
    }
    if (rc != CO_OK)
        return rc;
    if (next >= t->plan->nsteps)
        return set_run(t, CO_RUN_SUCCEEDED, (int)t->plan->nsteps - 1, NULL, actor, err);
    {
        /* the next step is due now */
        co_step_write w = co_step_write_keep();
        w.due_at = 0;
        rc = co_runs_write_step(t->app->store, t->run.id, (int)next, &w, err);
    }
    if (rc != CO_OK)
        return rc;
    return set_run(t, t->run.state == CO_RUN_PENDING ? CO_RUN_RUNNING : t->run.state,
                   (int)next, NULL, actor, err);
}

static co_status apply_verdict(tx *t, const co_change *c, co_step_row *step,
                               co_error *err)
{
    const co_verdict *v = c->verdict;
    co_step_write w = co_step_write_keep();
    int64_t now = co_clock_now_ms();
    bool live = t->run.state == CO_RUN_RUNNING || t->run.state == CO_RUN_PENDING;
    co_status rc;

    w.release_lease = true;
    w.outputs = c->outputs;
    if (step->state == CO_STEP_AWAITING_APPROVAL || c->step_index != t->run.current_step) {
        /* a gate's watch (or a step the run has left meanwhile, e.g. a gate
         * approved while its watch ran): keep what it learned; a watch asks
         * to be called again after_ms later (a GATE verdict with after_ms),
         * a failed one again in 5 s, anything else ends the watch */
        if (step->state == CO_STEP_AWAITING_APPROVAL)
            w.due_at = v->kind == CO_VERDICT_GATE && v->after_ms > 0 ? now + v->after_ms
                       : v->kind == CO_VERDICT_RETRY ? now + 5000
                                                     : 0;
        return co_runs_write_step(t->app->store, t->run.id, c->step_index, &w, err);
    }
    if (!live) {
        /* paused or cancelled meanwhile: keep what the step learned, no state change */
        if (v->kind == CO_VERDICT_DONE && t->run.state == CO_RUN_PAUSED) {
            w.state = CO_STEP_SUCCEEDED;
            w.mark_finished = true;
            w.error = "";
            if ((rc = set_step(t, c->step_index, step->state, &w, step->attempts, NULL,
                               err)) != CO_OK)
                return rc;
            /* the paused run continues at the next step when resumed */
            {
                co_run_state keep = t->run.state;
                size_t next = (size_t)c->step_index + 1;
                while (next < t->plan->nsteps && !step_enabled(t, next)) {
                    co_step_write s = co_step_write_keep();
                    s.state = CO_STEP_SKIPPED;
                    if ((rc = set_step(t, (int)next, CO_STEP_PENDING, &s, 0, NULL, err)) != CO_OK)
                        return rc;
                    next++;
                }
                if (next >= t->plan->nsteps)
                    next = t->plan->nsteps - 1;
                return co_runs_write_run(t->app->store, t->run.id, keep, (int)next,
                                         NULL, err);
            }
        }
        return co_runs_write_step(t->app->store, t->run.id, c->step_index, &w, err);
    }
    switch (v->kind) {
    case CO_VERDICT_DONE:
        w.state = CO_STEP_SUCCEEDED;
        w.mark_finished = true;
        w.error = "";
        w.progress = 100;
        if ((rc = set_step(t, c->step_index, step->state, &w, step->attempts, NULL, err)) != CO_OK)
            return rc;
        return advance(t, c->step_index, NULL, err);
    case CO_VERDICT_WAIT:
        w.state = CO_STEP_WAITING;
        w.due_at = now + (v->after_ms > 0 ? v->after_ms : 1000);
        return set_step(t, c->step_index, step->state, &w, step->attempts, NULL, err);
    case CO_VERDICT_GATE:
        w.state = CO_STEP_AWAITING_APPROVAL;
        /* with after_ms the gate is called again while it waits (its watch) */
        w.due_at = v->after_ms > 0 ? now + v->after_ms : 0;
        if ((rc = set_step(t, c->step_index, step->state, &w, step->attempts, NULL, err)) != CO_OK)
            return rc;
        return set_run(t, CO_RUN_AWAITING_APPROVAL, c->step_index, NULL, NULL, err);
    case CO_VERDICT_RETRY:
        if (step->attempts < c->max_attempts) {
            json_t *data;
            w.due_at = now + c->backoff_ms;
            w.error = v->error;
            w.sqlstate = v->sqlstate;
            if ((rc = co_runs_write_step(t->app->store, t->run.id, c->step_index, &w,
                                         err)) != CO_OK)
                return rc;
            data = json_pack("{s:s, s:s, s:i, s:i, s:I, s:s}", "run_id", t->run.id,
                             "step", t->plan->steps[c->step_index].id, "attempt",
                             step->attempts, "max_attempts", c->max_attempts,
                             "retry_in_ms", (json_int_t)c->backoff_ms, "error", v->error);
            co_log(CO_LOG_WARN, "runner", "run %s step %s attempt %d: %s (retry in %lld ms)",
                   t->run.id, t->plan->steps[c->step_index].id, step->attempts, v->error,
                   (long long)c->backoff_ms);
            return co_evb_add(&t->batch, t->app->store, t->run.id, t->run.project_id,
                              "step.retry", data, err);
        }
        /* out of attempts: fail */
        /* fall through */
    case CO_VERDICT_FAIL:
    default: {
        char msg[1300];
        w.state = CO_STEP_FAILED;
        w.mark_finished = true;
        w.error = v->error[0] ? v->error : "failed";
        w.sqlstate = v->sqlstate;
        if ((rc = set_step(t, c->step_index, step->state, &w, step->attempts, NULL, err)) != CO_OK)
            return rc;
        snprintf(msg, sizeof msg, "step %s failed%s: %s", t->plan->steps[c->step_index].id,
                 v->kind == CO_VERDICT_RETRY ? " after all attempts" : "", w.error);
        return set_run(t, CO_RUN_FAILED, c->step_index, msg, NULL, err);
    }
    }
}

static co_status apply(tx *t, const co_change *c, co_step_row *step, co_error *err)
{
    co_step_write w = co_step_write_keep();
    co_run_state rs = t->run.state;
    co_status rc;

    switch (c->action) {
    case CO_ACT_START_STEP:
        w.state = CO_STEP_RUNNING;
        w.mark_started = true;
        if (rs == CO_RUN_PENDING &&
            (rc = set_run(t, CO_RUN_RUNNING, c->step_index, NULL, NULL, err)) != CO_OK)
            return rc;
        /* the attempt about to run */
        return set_step(t, c->step_index, step->state, &w, step->attempts + 1, NULL, err);
    case CO_ACT_VERDICT:
        return apply_verdict(t, c, step, err);
    case CO_ACT_PAUSE:
        if (rs != CO_RUN_RUNNING && rs != CO_RUN_PENDING && rs != CO_RUN_AWAITING_APPROVAL)
            return co_error_set(err, CO_ERR_CONFLICT, "run %s is %s: only a pending, "
                                "running or awaiting_approval run can be paused",
                                t->run.id, co_run_state_name(rs));
        return set_run(t, CO_RUN_PAUSED, t->run.current_step, NULL, c->actor, err);
    case CO_ACT_RESUME:
        if (rs != CO_RUN_PAUSED)
            return co_error_set(err, CO_ERR_CONFLICT,
                                "run %s is %s: only a paused run can be resumed",
                                t->run.id, co_run_state_name(rs));
        w.due_at = 0;
        if ((rc = co_runs_write_step(t->app->store, t->run.id, t->run.current_step, &w,
                                     err)) != CO_OK)
            return rc;
        return set_run(t, step->state == CO_STEP_AWAITING_APPROVAL
                              ? CO_RUN_AWAITING_APPROVAL
                              : CO_RUN_RUNNING,
                       t->run.current_step, NULL, c->actor, err);
    case CO_ACT_CANCEL:
        if (co_run_state_final(rs) && rs != CO_RUN_FAILED)
            return co_error_set(err, CO_ERR_CONFLICT, "run %s is already %s", t->run.id,
                                co_run_state_name(rs));
        if ((rc = co_runs_mark_cleanup(t->app->store, t->run.id, err)) != CO_OK)
            return rc;
        return set_run(t, CO_RUN_CANCELLED, t->run.current_step, NULL, c->actor, err);
    case CO_ACT_APPROVE:
        if (step->state != CO_STEP_AWAITING_APPROVAL || c->step_index != t->run.current_step)
            return co_error_set(err, CO_ERR_CONFLICT,
                                "step %s of run %s is %s, not awaiting_approval",
                                t->plan->steps[c->step_index].id, t->run.id,
                                co_step_state_name(step->state));
        if (rs != CO_RUN_AWAITING_APPROVAL)
            return co_error_set(err, CO_ERR_CONFLICT,
                                "run %s is %s: approve it once it is awaiting_approval",
                                t->run.id, co_run_state_name(rs));
        w.state = CO_STEP_SUCCEEDED;
        w.mark_finished = true;
        w.approved_by = c->actor;
        w.release_lease = true;
        if ((rc = set_step(t, c->step_index, step->state, &w, step->attempts, c->actor,
                           err)) != CO_OK)
            return rc;
        if ((rc = set_run(t, CO_RUN_RUNNING, c->step_index, NULL, c->actor, err)) != CO_OK)
            return rc;
        return advance(t, c->step_index, c->actor, err);
    case CO_ACT_RETRY_STEP:
        if (step->state != CO_STEP_FAILED || c->step_index != t->run.current_step ||
            rs != CO_RUN_FAILED)
            return co_error_set(err, CO_ERR_CONFLICT,
                                "step %s of run %s is %s (run %s): only the failed step "
                                "of a failed run can be retried",
                                t->plan->steps[c->step_index].id, t->run.id,
                                co_step_state_name(step->state), co_run_state_name(rs));
        w.state = CO_STEP_PENDING;
        w.attempts = 0;
        w.due_at = 0;
        w.error = "";
        w.sqlstate = "";
        w.release_lease = true;
        if ((rc = set_step(t, c->step_index, step->state, &w, 0, c->actor, err)) != CO_OK)
            return rc;
        return set_run(t, CO_RUN_RUNNING, c->step_index, NULL, c->actor, err);
    default:
        return co_error_set(err, CO_ERR_INTERNAL, "unknown action");
    }
}

co_status co_transition(co_app *app, const char *run_id, const co_change *c,
                        json_t **state_out, co_error *err)
{
    tx t;
    co_step_row step;
    co_status rc;

    memset(&t, 0, sizeof t);
    memset(&step, 0, sizeof step);
    t.app = app;
    if ((rc = co_evb_begin(&t.batch, app->events, app->store, err)) != CO_OK)
        return rc;
    if ((rc = co_runs_load(app->store, run_id, &t.run, err)) != CO_OK)
        goto fail;
    t.plan = co_plan_find(t.run.plan);
    if (!t.plan) {
        rc = co_error_set(err, CO_ERR_INTERNAL, "run %s has unknown plan %s", run_id,
                          t.run.plan);
        goto fail;
    }
    {
        int idx = c->step_index >= 0 ? c->step_index : t.run.current_step;
        co_change local = *c;
        local.step_index = idx;
        if (idx < 0 || (size_t)idx >= t.plan->nsteps) {
            rc = co_error_set(err, CO_ERR_NOT_FOUND, "run %s has no step %d", run_id, idx);
            goto fail;
        }
        if ((rc = co_runs_load_step(app->store, run_id, idx, &step, err)) != CO_OK)
            goto fail;
        if ((rc = apply(&t, &local, &step, err)) != CO_OK)
            goto fail;
    }
    rc = co_evb_commit(&t.batch, app->store, err);
    co_step_row_clear(&step);
    co_run_row_clear(&t.run);
    return rc;
fail:
    co_evb_abort(&t.batch, app->store);
    if (rc == CO_ERR_CONFLICT && state_out)
        *state_out = json_pack("{s:s, s:s}", "state", co_run_state_name(t.run.state),
                               "step_state", co_step_state_name(step.state));
    co_step_row_clear(&step);
    co_run_row_clear(&t.run);
    return rc;
}
