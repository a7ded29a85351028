/* tasks.c - /v1/projects/{id}/tasks and /v1/tasks/{id}: replication tasks
 * (DMS CreateReplicationTask's members: endpoints, instance, migration
 * type, table mappings, task settings). status, arn and stop_reason are
 * set by the engine. */
#include <stdio.h>
#include <string.h>

#include "engine/table_mappings.h"
#include "handlers/crud.h"
#include "handlers/handlers.h"
#include "core/validate.h"
#include "engine/app.h"

static const char *const fields[] = {
    "name", "source_endpoint_id", "target_endpoint_id", "replication_instance_id",
    "migration_type", "table_mappings", "task_settings", "status", "arn",
    "stop_reason", NULL};
static const char *const read_only[] = {"status", "arn", "stop_reason", NULL};
static const char *const types[] = {"full-load", "cdc", "full-load-and-cdc", NULL};

static void check_endpoint(co_request *req, const char *project_id, json_t *doc,
                           const char *key, const char *role, const char **ref,
                           co_error *err)
{
    co_resource ep;
    char ptr[64];
    if (co_resource_ref(req->app->store, CO_KIND_ENDPOINT, project_id, doc, key, &ep, err) != CO_OK)
        return;
    if (strcmp(v_str(ep.doc, "role"), role) != 0) {
        v_pointer(ptr, sizeof ptr, "", key);
        co_error_field(err, ptr, "endpoint %s is a %s endpoint, not a %s", ep.id,
                       v_str(ep.doc, "role"), role);
    }
    *ref = v_str(doc, key);
    co_resource_clear(&ep);
}

/* PostgreSQL's native replication applies changes to tables of the same
 * name: in a project whose default engine is pg-logical, a transformation
 * that renames is refused when the task is created (per DMS rule). */
static void reject_renames_for_pg_logical(co_request *req, const char *project_id,
                                          json_t *doc, co_error *err)
{
    co_resource project;
    const char *rule = NULL;
    json_t *rules = json_object_get(json_object_get(doc, "table_mappings"), "rules"), *r;
    size_t i;
    co_error tmp;
    co_error_clear(&tmp);
    if (co_res_get(req->app->store, CO_KIND_PROJECT, project_id, &project, &tmp) != CO_OK)
        return;
    if (strcmp(v_str(project.doc, "default_engine"), "pg-logical") == 0 &&
        co_tm_has_renames(json_object_get(doc, "table_mappings"), &rule)) {
        json_array_foreach(rules, i, r) {
            if (v_str(r, "rule-name") && rule && strcmp(v_str(r, "rule-name"), rule) == 0) {
                char ptr[96];
                snprintf(ptr, sizeof ptr, "/table_mappings/rules/%zu/rule-action", i);
                co_error_field(err, ptr,
                               "rule '%s' renames objects, which pg-logical (PostgreSQL's "
                               "native replication) cannot honour: use the aws-dms engine "
                               "for this project", rule);
                break;
            }
        }
    }
    co_resource_clear(&project);
}

static co_status validate(co_request *req, const char *project_id, json_t *doc,
                          bool password_set, const char **refs, size_t *nrefs,
                          co_error *err)
{
    (void)password_set;
    *nrefs = 0;
    v_only_known(doc, "", fields, err);
    v_string(doc, "", "name", 1, 128, NULL, err);
    v_enum(doc, "", "migration_type", types, "full-load-and-cdc", err);
    if (v_string(doc, "", "source_endpoint_id", 1, 64, NULL, err))
        check_endpoint(req, project_id, doc, "source_endpoint_id", "source",
                       &refs[(*nrefs)++], err);
    if (v_string(doc, "", "target_endpoint_id", 1, 64, NULL, err))
        check_endpoint(req, project_id, doc, "target_endpoint_id", "target",
                       &refs[(*nrefs)++], err);
    if (json_object_get(doc, "replication_instance_id") &&
        v_string(doc, "", "replication_instance_id", 1, 64, NULL, err)) {
        co_resource inst;
        if (co_resource_ref(req->app->store, CO_KIND_INSTANCE, project_id, doc,
                       "replication_instance_id", &inst, err) == CO_OK) {
            refs[(*nrefs)++] = v_str(doc, "replication_instance_id");
            co_resource_clear(&inst);
        }
    }
    if (v_object(doc, "", "table_mappings", true, err) &&
        co_tm_validate(json_object_get(doc, "table_mappings"), "/table_mappings", err) ==
            CO_OK)
        reject_renames_for_pg_logical(req, project_id, doc, err);
    v_object(doc, "", "task_settings", false, err);
    return err->status;
}

CO_DEFINE_CRUD(h_tasks, .kind = CO_KIND_TASK, .collection = "tasks", .read_only = read_only,
               .validate = validate)
