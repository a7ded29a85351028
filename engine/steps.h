/* steps.h - the step functions of both plans (engine/plans.c binds them to
 * the plan tables). Each runs one bounded unit of work on a runner thread
 * and sets a verdict (core/state.h); see engine/step.h for the context.
 *
 * Steps that act on PostgreSQL use pg/ through engine/steps_pg.h; steps
 * that move data call the run's replication engine (engine/engine.h). All
 * are idempotent: a step re-run after a crash converges, reading what it
 * saved in its outputs at its last verdict.
 */
#ifndef CUTOVER_ENGINE_STEPS_H
#define CUTOVER_ENGINE_STEPS_H

#include "engine/step.h"

/* oracle-to-postgres (steps_o2p.c) */
void co_step_preflight(co_step_ctx *ctx, co_verdict *v);
void co_step_configure_source(co_step_ctx *ctx, co_verdict *v);
void co_step_configure_target(co_step_ctx *ctx, co_verdict *v);
void co_step_convert_schema(co_step_ctx *ctx, co_verdict *v);
void co_step_create_replication_instance(co_step_ctx *ctx, co_verdict *v);
void co_step_create_endpoints(co_step_ctx *ctx, co_verdict *v);
void co_step_prepare_target(co_step_ctx *ctx, co_verdict *v);
void co_step_full_load(co_step_ctx *ctx, co_verdict *v);
void co_step_restore_constraints(co_step_ctx *ctx, co_verdict *v);
void co_step_resume_cdc(co_step_ctx *ctx, co_verdict *v);
void co_step_await_cdc_sync(co_step_ctx *ctx, co_verdict *v);
void co_step_final_sync(co_step_ctx *ctx, co_verdict *v);

/* steps_cutover.c (PostgreSQL sources; done at once for others).
 * co_step_cutover_gate runs before the cutover gate asks for approval:
 * it compares the schema fingerprints of source and target (pg_cutover.h)
 * and fails with the difference (outputs.schema_difference) when DDL ran on
 * the source during CDC. co_step_cutover_objects is called by final_sync
 * once the last changes are in: the same comparison, then the large
 * objects (copy_large_objects) and REFRESH MATERIALIZED VIEW on the target
 * (outputs.large_objects, outputs.materialized_views). Both re-runnable. */
void co_step_cutover_gate(co_step_ctx *ctx, co_verdict *v);
void co_step_cutover_objects(co_step_ctx *ctx, co_verdict *v);
void co_step_stop_task(co_step_ctx *ctx, co_verdict *v);
void co_step_enable_triggers(co_step_ctx *ctx, co_verdict *v);
void co_step_reset_sequences(co_step_ctx *ctx, co_verdict *v);
void co_step_rollback_task(co_step_ctx *ctx, co_verdict *v);

/* view-migration (steps_view.c) */
/* configure_source of the view plan: on aws-dms with an Oracle source,
 * stores the artifact oracle_view_supplemental_logging.sql
 * (co_oracle_view_logging_script_new for parameters.source_table) and
 * gates (CO_VERDICT_GATE) until an operator approves; DONE at once for a
 * PostgreSQL source or the pg-logical engine. Never runs the script. */
void co_step_view_configure_source(co_step_ctx *ctx, co_verdict *v);
void co_step_stage_load(co_step_ctx *ctx, co_verdict *v);
void co_step_link_remote(co_step_ctx *ctx, co_verdict *v);
void co_step_create_view(co_step_ctx *ctx, co_verdict *v);
void co_step_create_final_table(co_step_ctx *ctx, co_verdict *v);
void co_step_load_final(co_step_ctx *ctx, co_verdict *v);
void co_step_ongoing_sync(co_step_ctx *ctx, co_verdict *v);
void co_step_validate(co_step_ctx *ctx, co_verdict *v);

/* Runs a multi-phase engine step: phases are tracked in ctx->outputs
 * under "phase" so that each call resumes where the last verdict left it.
 * Exposed for steps_view.c. */
void co_step_engine_task(co_step_ctx *ctx, const char *role, bool start_fresh,
                         co_verdict *v);

/* True when the run validates continuously (pg-logical's validate_task, a
 * PostgreSQL source, validate_tables not false): await_cdc_sync runs it and
 * the cutover gate keeps it running while it awaits approval. */
bool co_step_continuous_validation(const co_step_ctx *ctx);

/* Publishes a "step.progress" event {object, done, total, percent}; best
 * effort (logs on failure). */
void co_step_progress(co_step_ctx *ctx, const char *object, size_t done, size_t total);

#endif
