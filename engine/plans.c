/* plans.c - see plans.h. */
#include "engine/plans.h"
#include "engine/steps.h"

#include <string.h>

/* The step tables of the two plans, in the order the steps run. */
static const co_step_def
    /* ---- oracle-to-postgres: AWS's eight steps with the sub-steps of 7 and 8 */
    o2p_steps[] = {
        {"preflight", "Preflight checks", 1, false, "", "cutover",
         co_step_preflight,
         "credentials resolve, the replication engine is reachable, source and target answer"},
        {"configure_source", "Configure the source", 2, false, "", "source",
         co_step_configure_source,
         "prerequisite script for the source (Oracle: DMS user, grants, ARCHIVELOG, supplemental logging; PostgreSQL: wal_level=logical, replication role); Oracle waits for an operator's approval"},
        {"configure_target", "Configure the target", 3, false, "", "target",
         co_step_configure_target,
         "schemas, the migration role and its grants, extensions"},
        {"review_schema", "Review the schema SQL", 4, true, "converted_schema_sql", "operator",
         NULL,
         "when converted_schema_sql is given: an admin reads it (artifact review_schema.sql) and approves it by quoting its SHA-256"},
        {"convert_schema", "Convert the schema", 4, false, "", "target",
         co_step_convert_schema,
         "apply the converted schema DDL, or copy the schema from a PostgreSQL source"},
        {"create_replication_instance", "Create the replication instance", 5, false, "", "engine",
         co_step_create_replication_instance,
         "create it and wait until available"},
        {"create_endpoints", "Create the endpoints", 6, false, "", "engine",
         co_step_create_endpoints,
         "source and target endpoints, connection tests, schema refresh"},
        {"prepare_target", "Prepare the target for the load", 7, false, "", "target",
         co_step_prepare_target,
         "capture then drop foreign keys and secondary indexes, disable triggers (DDL kept as artifacts)"},
        {"full_load", "Full load", 7, false, "", "engine",
         co_step_full_load,
         "full-load-and-cdc task that stops after cached changes are applied"},
        {"restore_constraints", "Restore constraints", 7, false, "", "target",
         co_step_restore_constraints,
         "recreate indexes and foreign keys (NOT VALID, then VALIDATE)"},
        {"resume_cdc", "Resume CDC", 7, false, "", "engine",
         co_step_resume_cdc,
         "resume the task to apply ongoing changes"},
        {"await_cdc_sync", "Wait for CDC to catch up", 7, false, "", "engine",
         co_step_await_cdc_sync,
         "wait until CDC latency is under the threshold"},
        {"cutover_gate", "Cutover approval", 8, true, "", "operator",
         co_step_cutover_gate,
         "source and target schemas compared, then an operator confirms the source is quiesced"},
        {"final_sync", "Final sync", 8, false, "", "engine",
         co_step_final_sync,
         "last changes applied (latency zero)"},
        {"stop_task", "Stop the replication task", 8, false, "", "engine",
         co_step_stop_task,
         "stop and clean up the replication task"},
        {"enable_triggers", "Enable triggers", 8, false, "", "target",
         co_step_enable_triggers,
         "restore every trigger's captured state"},
        {"reset_sequences", "Reset sequences", 8, false, "", "target",
         co_step_reset_sequences,
         "set sequences past the migrated values with a gap"},
        {"rollback_task", "Start the rollback task", 8, false, "rollback_task", "engine",
         co_step_rollback_task,
         "optional reverse CDC-only task, target to source"},
    },
    /* ---- view-migration: the two-stage view migration, eight steps (a
     * ninth row does not compile; a missing one fails test_plans) */
    view_steps[8] = {
        {"configure_source", "Configure the source", 0, false, "", "source",
         co_step_view_configure_source,
         "aws-dms with an Oracle source: supplemental logging (ALL) COLUMNS script for the staged table, then an operator's approval; nothing to do otherwise"},
        {"stage_load", "Stage the source table", 0, false, "", "engine",
         co_step_stage_load,
         "replication task 1: source table into the staging schema"},
        {"link_remote", "Link the remote table", 0, false, "", "target",
         co_step_link_remote,
         "postgres_fdw server, user mapping, foreign table (no key constraints)"},
        {"create_view", "Create the cross-database view", 0, false, "", "target",
         co_step_create_view,
         "join of the staging and foreign tables"},
        {"create_final_table", "Create the final table", 0, false, "", "target",
         co_step_create_final_table,
         "shaped from the view, with its primary key and migration_timestamp"},
        {"load_final", "Load the final table", 0, false, "", "target",
         co_step_load_final,
         "INSERT ... SELECT in key-ordered batches"},
        {"ongoing_sync", "Keep in sync", 0, false, "ongoing_sync", "target",
         co_step_ongoing_sync,
         "trigger on the staging table upserting into the final table"},
        {"validate", "Validate", 0, false, "", "target",
         co_step_validate,
         "counts, missing keys and checksums of view and final table"},
    };

#define N_OF(a) (sizeof(a) / sizeof *(a))

static const co_plan_def plans[] = {
    [CO_PLAN_ORACLE_TO_POSTGRES] = {"oracle-to-postgres",
        "Oracle (or PostgreSQL) to PostgreSQL in eight steps", o2p_steps, N_OF(o2p_steps)},
    [CO_PLAN_VIEW_MIGRATION] = {"view-migration",
        "Two-stage migration through a cross-database view", view_steps, N_OF(view_steps)},
};
_Static_assert(sizeof plans / sizeof plans[0] == CO_PLAN_LAST,
               "plans must cover co_plan_id");

const co_plan_def *co_plan_get(co_plan_id id)
{
    return (unsigned)id < CO_PLAN_LAST ? &plans[id] : NULL;
}

const co_plan_def *co_plan_find(const char *id)
{
    for (int i = 0; i < CO_PLAN_LAST; i++)
        if (id && strcmp(plans[i].id, id) == 0)
            return &plans[i];
    return NULL;
}

int co_plan_step_index(const co_plan_def *plan, const char *step_id)
{
    for (size_t i = 0; i < plan->nsteps; i++)
        if (strcmp(plan->steps[i].id, step_id) == 0)
            return (int)i;
    return -1;
}

co_step_fn co_plan_step_fn(const co_plan_def *plan, size_t index)
{
    return index < plan->nsteps ? plan->steps[index].fn : NULL;
}
