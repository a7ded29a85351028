/* step.h - what a step function receives: the step context.
 *
 * A step function (engine/plans.h co_step_fn) runs on a runner thread with
 * a lease on its step. It reads the run's parameters and the outputs of
 * earlier steps, acts on remote systems (through ctx->engine or pg/),
 * records what later steps need in ctx->outputs (persisted with the
 * verdict, also across retries and restarts), may store artifacts and
 * publish progress events, and returns one verdict. It must be idempotent:
 * after a crash the same step runs again with the outputs it had saved at
 * its last verdict.
 */
#ifndef CUTOVER_ENGINE_STEP_H
#define CUTOVER_ENGINE_STEP_H

#include <jansson.h>

#include "engine/engine.h"
#include "engine/plans.h"
#include "core/state.h"
#include "engine/app.h"
#include "store/resources.h"
#include "store/runs.h"

typedef struct co_step_ctx {
    co_app *app;
    const co_run_row *run;        /* id, project_id, plan, engine, params */
    const co_plan_def *plan;
    const co_step_def *step;
    int index;                    /* step index in the plan */
    int attempt;                  /* attempts so far, this one included */
    co_step_state state_before;   /* pending on the first call */
    json_t *outputs;              /* this step's outputs: read/write */
    json_t *all_outputs;          /* {"<step id>": outputs} of every step */
    const co_engine *engine;
    co_resource source;           /* resolved endpoints ("" ids if absent) */
    co_resource target;
} co_step_ctx;

/* Stores artifact name (content_type e.g. "text/plain" for SQL scripts,
 * "application/json" for reports) for the run and publishes an
 * artifact.created event. Replaces an artifact of the same name. Errors:
 * CO_ERR_STORE, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_step_artifact(co_step_ctx *ctx, const char *name,
                                         const char *content_type, const void *data,
                                         size_t len, co_error *err);

/* Publishes an event of type (e.g. "step.progress", "table.statistics",
 * "engine.status") for the run; data is stolen and gets "step" added.
 * Errors: CO_ERR_STORE, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_step_event(co_step_ctx *ctx, const char *type,
                                      json_t *data, co_error *err);

/* co_step_event for progress and status events, which must never fail a
 * step: a failure is logged as a warning and otherwise ignored. */
void co_step_notify(co_step_ctx *ctx, const char *type, json_t *data);

/* Decrypts the password of endpoint ep into *out (caller wipes with
 * OPENSSL_cleanse and frees). Errors: CO_ERR_NOT_FOUND when the endpoint
 * has no password (Secrets Manager), CO_ERR_CRYPTO (also when the
 * endpoint's destination differs from the one the password was sealed
 * for: store/secret.h). */
CO_MUST_CHECK co_status co_step_password(co_step_ctx *ctx, const co_resource *ep,
                                         char **out, co_error *err);

/* Records that the step is waiting for `what` (a short text naming the
 * awaited thing, e.g. "replication instance cutover-x to become
 * available") with an optional `detail` (its last status; may be NULL),
 * in ctx->outputs.waiting_for = {what, detail, since (RFC 3339), since_ms,
 * notified_ms}; GET /v1/runs/{id} shows {what, detail, since} of the
 * current step as the run's waiting_for while that step is running or
 * waiting (store/runs.c). The since-time is kept while `what` stays the
 * same (also across restarts: outputs are persisted with the verdict) and
 * restarts when it changes. Publishes "step.waiting" {what, detail,
 * since, waited_seconds} when the wait begins and then at most every
 * period_ms (<= 0: only at the beginning); best effort. Returns the
 * since-time in epoch ms, for deadlines. */
int64_t co_step_waiting(co_step_ctx *ctx, const char *what, const char *detail,
                        int64_t period_ms);

/* Forgets the wait recorded by co_step_waiting (the next one starts a new
 * since-time). */
void co_step_waiting_clear(co_step_ctx *ctx);
/* Loads ctx->source and ctx->target from the run's source_endpoint_id and
 * target_endpoint_id parameters (zeroed when absent or unreadable); the
 * caller clears them with co_resource_clear. */
void co_step_load_endpoints(co_step_ctx *ctx);

/* Integer / boolean / string run parameter with a default. */
int64_t co_param_int(const co_step_ctx *ctx, const char *name, int64_t def);

/* Numeric run parameter (integer or fractional JSON number), or def. */
double co_param_num(const co_step_ctx *ctx, const char *name, double def);
bool co_param_bool(const co_step_ctx *ctx, const char *name, bool def);
const char *co_param_str(const co_step_ctx *ctx, const char *name, const char *def);

/* An engine operation outside a run: the same context, built from plain
 * inputs, so that a route (test a connection, describe or stop a
 * replication task) calls the engine operations a step calls.
 * ctx.step and ctx.plan are NULL: events and artifacts have no run to go
 * to (co_step_event does nothing, co_step_artifact fails). */
typedef struct co_op_ctx {
    co_step_ctx ctx;    /* pass &op.ctx to the engine operation */
    co_run_row run;     /* id = scope_id, project_id, engine, params */
} co_op_ctx;

/* Fills *op for engine engine_name within project_id. scope_id names what
 * the engine derives its resource identifiers from (a run id, or a task or
 * endpoint id). params (copied; NULL = {}) are read like run parameters;
 * source and target (copied by value; borrowed strings and secrets, so they
 * must outlive op; NULL = none) are the endpoints. The engine keeps what it
 * learns in op->ctx.outputs (owned by op). Release with co_op_ctx_release.
 * Errors: CO_ERR_NOMEM, CO_ERR_INVALID (no such engine). */
CO_MUST_CHECK co_status co_op_ctx_init(co_op_ctx *op, co_app *app, const char *engine_name,
                                       const char *project_id, const char *scope_id,
                                       const json_t *params, const co_resource *source,
                                       const co_resource *target, co_error *err);

/* Frees what co_op_ctx_init allocated. Safe to call twice. */
void co_op_ctx_release(co_op_ctx *op);

#endif
