/* instances.c - /v1/projects/{id}/replication-instances and
 * /v1/replication-instances/{id}: what DMS CreateReplicationInstance needs.
 * status and arn are set by the engine once known. */
#include <string.h>

#include "handlers/crud.h"
#include "handlers/handlers.h"
#include "core/validate.h"

static const char *const fields[] = {
    "name", "replication_instance_class", "allocated_storage", "multi_az",
    "engine_version", "publicly_accessible", "status", "arn", NULL};
static const char *const read_only[] = {"status", "arn", NULL};

static co_status validate(co_request *req, const char *project_id, json_t *doc,
                          bool password_set, const char **refs, size_t *nrefs,
                          co_error *err)
{
    const char *cls;
    (void)req;
    (void)project_id;
    (void)password_set;
    (void)refs;
    *nrefs = 0;
    v_only_known(doc, "", fields, err);
    v_string(doc, "", "name", 1, 128, NULL, err);
    if (v_string(doc, "", "replication_instance_class", 4, 64, "dms.t3.medium", err)) {
        cls = v_str(doc, "replication_instance_class");
        if (strncmp(cls, "dms.", 4) != 0)
            co_error_field(err, "/replication_instance_class",
                           "must be a DMS instance class such as dms.t3.medium");
    }
    v_int(doc, "", "allocated_storage", 5, 6144, true, 50, err);
    v_bool(doc, "", "multi_az", false, err);
    v_bool(doc, "", "publicly_accessible", false, err);
    v_string(doc, "", "engine_version", 1, 32, "3.5.3", err);
    return err->status;
}

static const co_kind_def instance_def = {
    .kind = CO_KIND_INSTANCE,
    .collection = "replication-instances",
    .has_password = false,
    .read_only = read_only,
    .validate = validate,
};

CO_DEFINE_CRUD(h_instances, instance_def)
