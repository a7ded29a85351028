/* plans.c - see plans.h. */
#include "engine/plans.h"
#include "engine/steps.h"

#include <string.h>

/* ---- oracle-to-postgres: AWS's eight steps with the sub-steps of 7 and 8 */

typedef enum o2p_step {
    O2P_PREFLIGHT,
    O2P_CONFIGURE_SOURCE,
    O2P_CONFIGURE_TARGET,
    O2P_REVIEW_SCHEMA,
    O2P_CONVERT_SCHEMA,
    O2P_CREATE_REPLICATION_INSTANCE,
    O2P_CREATE_ENDPOINTS,
    O2P_PREPARE_TARGET,
    O2P_FULL_LOAD,
    O2P_RESTORE_CONSTRAINTS,
    O2P_RESUME_CDC,
    O2P_AWAIT_CDC_SYNC,
    O2P_CUTOVER_GATE,
    O2P_FINAL_SYNC,
    O2P_STOP_TASK,
    O2P_ENABLE_TRIGGERS,
    O2P_RESET_SEQUENCES,
    O2P_ROLLBACK_TASK,
    O2P_LAST
} o2p_step;

static const co_step_def o2p_steps[] = {
    [O2P_PREFLIGHT] = {"preflight", "Preflight checks", 1, false, NULL, "cutover",
                       "credentials resolve, the replication engine is reachable, "
                       "source and target answer", co_step_preflight},
    [O2P_CONFIGURE_SOURCE] = {"configure_source", "Configure the source", 2, false,
                              NULL, "source",
                              "prerequisite script for the source (Oracle: DMS user, "
                              "grants, ARCHIVELOG, supplemental logging; PostgreSQL: "
                              "wal_level=logical, replication role); Oracle waits for "
                              "an operator's approval", co_step_configure_source},
    [O2P_CONFIGURE_TARGET] = {"configure_target", "Configure the target", 3, false,
                              NULL, "target",
                              "schemas, the migration role and its grants, "
                              "extensions", co_step_configure_target},
    [O2P_REVIEW_SCHEMA] = {"review_schema", "Review the schema SQL", 4, true,
                           "converted_schema_sql", "operator",
                           "when converted_schema_sql is given: an admin reads it "
                           "(artifact review_schema.sql) and approves it by quoting "
                           "its SHA-256",
                           NULL},
    [O2P_CONVERT_SCHEMA] = {"convert_schema", "Convert the schema", 4, false, NULL,
                            "target",
                            "apply the converted schema DDL, or copy the schema "
                            "from a PostgreSQL source", co_step_convert_schema},
    [O2P_CREATE_REPLICATION_INSTANCE] = {"create_replication_instance",
                                         "Create the replication instance", 5,
                                         false, NULL, "engine",
                                         "create it and wait until available", co_step_create_replication_instance},
    [O2P_CREATE_ENDPOINTS] = {"create_endpoints", "Create the endpoints", 6, false,
                              NULL, "engine",
                              "source and target endpoints, connection tests, "
                              "schema refresh", co_step_create_endpoints},
    [O2P_PREPARE_TARGET] = {"prepare_target", "Prepare the target for the load", 7,
                            false, NULL, "target",
                            "capture then drop foreign keys and secondary indexes, "
                            "disable triggers (DDL kept as artifacts)", co_step_prepare_target},
    [O2P_FULL_LOAD] = {"full_load", "Full load", 7, false, NULL, "engine",
                       "full-load-and-cdc task that stops after cached changes "
                       "are applied", co_step_full_load},
    [O2P_RESTORE_CONSTRAINTS] = {"restore_constraints", "Restore constraints", 7,
                                 false, NULL, "target",
                                 "recreate indexes and foreign keys (NOT VALID, "
                                 "then VALIDATE)", co_step_restore_constraints},
    [O2P_RESUME_CDC] = {"resume_cdc", "Resume CDC", 7, false, NULL, "engine",
                        "resume the task to apply ongoing changes", co_step_resume_cdc},
    [O2P_AWAIT_CDC_SYNC] = {"await_cdc_sync", "Wait for CDC to catch up", 7, false,
                            NULL, "engine",
                            "wait until CDC latency is under the threshold", co_step_await_cdc_sync},
    [O2P_CUTOVER_GATE] = {"cutover_gate", "Cutover approval", 8, true, NULL,
                          "operator",
                          "source and target schemas compared, then an operator "
                          "confirms the source is quiesced", co_step_cutover_gate},
    [O2P_FINAL_SYNC] = {"final_sync", "Final sync", 8, false, NULL, "engine",
                        "last changes applied (latency zero)", co_step_final_sync},
    [O2P_STOP_TASK] = {"stop_task", "Stop the replication task", 8, false, NULL,
                       "engine", "stop and clean up the replication task", co_step_stop_task},
    [O2P_ENABLE_TRIGGERS] = {"enable_triggers", "Enable triggers", 8, false, NULL,
                             "target", "restore every trigger's captured state", co_step_enable_triggers},
    [O2P_RESET_SEQUENCES] = {"reset_sequences", "Reset sequences", 8, false, NULL,
                             "target",
                             "set sequences past the migrated values with a gap", co_step_reset_sequences},
    [O2P_ROLLBACK_TASK] = {"rollback_task", "Start the rollback task", 8, false,
                           "rollback_task", "engine",
                           "optional reverse CDC-only task, target to source", co_step_rollback_task},
};
_Static_assert(sizeof o2p_steps / sizeof o2p_steps[0] == O2P_LAST,
               "o2p_steps must cover o2p_step");

/* ---- view-migration: the two-stage view migration */

typedef enum view_step {
    VIEW_CONFIGURE_SOURCE,
    VIEW_STAGE_LOAD,
    VIEW_LINK_REMOTE,
    VIEW_CREATE_VIEW,
    VIEW_CREATE_FINAL_TABLE,
    VIEW_LOAD_FINAL,
    VIEW_ONGOING_SYNC,
    VIEW_VALIDATE,
    VIEW_LAST
} view_step;

static const co_step_def view_steps[] = {
    [VIEW_CONFIGURE_SOURCE] = {"configure_source", "Configure the source", 0, false, NULL,
                               "source",
                               "aws-dms with an Oracle source: supplemental logging "
                               "(ALL) COLUMNS script for the staged table, then an "
                               "operator's approval; nothing to do otherwise",
                               co_step_view_configure_source},
    [VIEW_STAGE_LOAD] = {"stage_load", "Stage the source table", 0, false, NULL,
                         "engine", "replication task 1: source table into the "
                                   "staging schema", co_step_stage_load},
    [VIEW_LINK_REMOTE] = {"link_remote", "Link the remote table", 0, false, NULL,
                          "target", "postgres_fdw server, user mapping, foreign "
                                    "table (no key constraints)", co_step_link_remote},
    [VIEW_CREATE_VIEW] = {"create_view", "Create the cross-database view", 0, false,
                          NULL, "target",
                          "join of the staging and foreign tables", co_step_create_view},
    [VIEW_CREATE_FINAL_TABLE] = {"create_final_table", "Create the final table", 0,
                                 false, NULL, "target",
                                 "shaped from the view, with its primary key and "
                                 "migration_timestamp", co_step_create_final_table},
    [VIEW_LOAD_FINAL] = {"load_final", "Load the final table", 0, false, NULL,
                         "target", "INSERT ... SELECT in key-ordered batches", co_step_load_final},
    [VIEW_ONGOING_SYNC] = {"ongoing_sync", "Keep in sync", 0, false, "ongoing_sync",
                           "target",
                           "trigger on the staging table upserting into the final "
                           "table", co_step_ongoing_sync},
    [VIEW_VALIDATE] = {"validate", "Validate", 0, false, NULL, "target",
                       "counts, missing keys and checksums of view and final "
                       "table", co_step_validate},
};
_Static_assert(sizeof view_steps / sizeof view_steps[0] == VIEW_LAST,
               "view_steps must cover view_step");

static const co_plan_def plans[] = {
    [CO_PLAN_ORACLE_TO_POSTGRES] = {"oracle-to-postgres",
                                    "Oracle (or PostgreSQL) to PostgreSQL in eight "
                                    "steps",
                                    o2p_steps, O2P_LAST},
    [CO_PLAN_VIEW_MIGRATION] = {"view-migration",
                                "Two-stage migration through a cross-database view",
                                view_steps, VIEW_LAST},
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
