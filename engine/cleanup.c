/* cleanup.c - see cleanup.h. */
#include "engine/cleanup.h"

#include <string.h>

#include "engine/engine.h"
#include "engine/plans.h"
#include "core/state.h"
#include "engine/step.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/cleanup.h"

static const char *const roles[] = {"main", "stage", "rollback"};
#define NROLES (sizeof roles / sizeof roles[0])

/* What roles[from..] may have left behind, as a new JSON array. */
static json_t *left_behind(co_step_ctx *ctx, size_t from)
{
    json_t *items = json_array();
    for (size_t i = from; i < NROLES && ctx->engine->left_behind; i++)
        ctx->engine->left_behind(ctx, roles[i], items);
    return items;
}

/* Records the outcome of the attempt and publishes its event. */
static void finish(co_step_ctx *ctx, const co_verdict *v, size_t role_idx, bool done,
                   double rand01)
{
    const co_run_row *run = ctx->run;
    int attempts = run->cleanup_attempts;
    int max = (int)co_param_int(ctx, "max_attempts", 5);
    int64_t now = co_clock_now_ms(), due = now;
    const char *state = "pending";
    json_t *ev = NULL;
    co_error err;

    if (done) {
        state = "done";
        attempts = 0;
        ev = json_pack("{s:s}", "result", "done");
    } else if (v->kind == CO_VERDICT_WAIT) {
        due = now + (v->after_ms > 0 ? v->after_ms : 5000);
    } else {
        attempts++;
        if (v->kind == CO_VERDICT_FAIL || attempts >= max) {
            state = "gave_up";
            ev = json_pack("{s:s, s:s, s:i, s:o, s:s}", "result", "gave_up", "error",
                           v->error, "attempts", attempts, "left_behind",
                           left_behind(ctx, role_idx), "retry",
                           "remove what is listed, or POST /v1/runs/{id}/cleanup to try again");
            co_log(CO_LOG_ERROR, "runner",
                   "run %s: clean-up gave up after %d attempts (%s); see its run.cleanup "
                   "event for what is left behind", run->id, attempts, v->error);
        } else {
            char ts[32];
            due = now + (v->after_ms > 0 ? v->after_ms
                                         : co_backoff_ms(attempts,
                                                         co_param_int(ctx, "retry_base_ms", 1000),
                                                         co_param_int(ctx, "retry_cap_ms", 60000),
                                                         rand01));
            co_clock_rfc3339(due, ts, sizeof ts);
            ev = json_pack("{s:s, s:s, s:i, s:i, s:s}", "result", "retrying", "error",
                           v->error, "attempt", attempts, "max_attempts", max,
                           "next_attempt_at", ts);
            co_log(CO_LOG_WARN, "runner", "run %s clean-up of %s (attempt %d of %d): %s",
                   run->id, roles[role_idx], attempts, max, v->error);
        }
    }
    co_error_clear(&err);
    if (co_runs_finish_cleanup(ctx->app->store, run->id, state, attempts, due,
                               done || v->kind == CO_VERDICT_WAIT ? NULL : v->error,
                               &err) != CO_OK) {
        co_log(CO_LOG_ERROR, "runner", "run %s: %s", run->id, err.message);
        json_decref(ev);
    } else if (ev) {
        co_step_notify(ctx, "run.cleanup", ev);
    }
}

void co_cleanup_attempt(co_app *app, const char *run_id, double rand01)
{
    co_step_ctx ctx;
    co_run_row run;
    co_verdict v;
    co_error err;
    size_t i = 0;

    memset(&ctx, 0, sizeof ctx);
    memset(&v, 0, sizeof v);
    co_error_clear(&err);
    if (co_runs_load(app->store, run_id, &run, &err) != CO_OK) {
        co_log(CO_LOG_ERROR, "runner", "clean-up of run %s: %s", run_id, err.message);
        return;
    }
    ctx.app = app;
    ctx.run = &run;
    ctx.plan = co_plan_find(run.plan);
    ctx.index = run.current_step;
    ctx.step = ctx.plan ? &ctx.plan->steps[run.current_step] : NULL;
    ctx.outputs = json_object();
    ctx.engine = co_engine_find(run.engine);
    if (co_runs_all_outputs(app->store, run.id, &ctx.all_outputs, &err) != CO_OK)
        ctx.all_outputs = json_object();
    co_step_load_endpoints(&ctx);
    co_verdict_set(&v, CO_VERDICT_DONE, 0, NULL);
    /* engines that run steps themselves (test engines) own nothing to remove */
    if (ctx.step && ctx.engine && ctx.engine->delete_task && !ctx.engine->run_step) {
        for (i = 0; i < NROLES && v.kind == CO_VERDICT_DONE; i++) {
            memset(&v, 0, sizeof v);
            ctx.engine->delete_task(&ctx, roles[i], &v);
        }
        if (v.kind != CO_VERDICT_DONE)
            i--;
    }
    if (ctx.step) {
        finish(&ctx, &v, i, v.kind == CO_VERDICT_DONE, rand01);
    } else {
        co_log(CO_LOG_ERROR, "runner", "run %s has an unknown plan: clean-up given up",
               run.id);
        if (co_runs_finish_cleanup(app->store, run.id, "gave_up", run.cleanup_attempts, 0,
                                   "the run's plan is unknown to this build", &err) != CO_OK)
            co_log(CO_LOG_ERROR, "runner", "run %s: %s", run.id, err.message);
    }
    json_decref(ctx.outputs);
    json_decref(ctx.all_outputs);
    co_resource_clear(&ctx.source);
    co_resource_clear(&ctx.target);
    co_run_row_clear(&run);
}
