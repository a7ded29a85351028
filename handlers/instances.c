/* instances.c - /v1/projects/{id}/replication-instances and
 * /v1/replication-instances/{id}: what DMS CreateReplicationInstance needs.
 * status and arn are set by the engine once known. */
#include <stdio.h>
#include <string.h>

#include "handlers/crud.h"
#include "handlers/handlers.h"
#include "core/validate.h"

static const char *const fields[] = {
    "name", "replication_instance_class", "allocated_storage", "multi_az",
    "engine_version", "publicly_accessible", "replication_subnet_group_id",
    "vpc_security_group_ids", "kms_key_arn", "status", "arn", NULL};
static const char *const read_only[] = {"status", "arn", NULL};

static co_status validate(co_request *req, const char *project_id, json_t *doc,
                          bool password_set, const char **refs, size_t *nrefs,
                          co_error *err)
{
    const char *cls;
    json_t *sgs, *sg;
    size_t i;
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
    /* networking and encryption, passed to CreateReplicationInstance */
    if (json_object_get(doc, "replication_subnet_group_id"))
        v_name(doc, "", "replication_subnet_group_id", 1, 255, NULL, err);
    if (json_object_get(doc, "kms_key_arn") &&
        v_name(doc, "", "kms_key_arn", 5, 2048, NULL, err) &&
        strncmp(v_str(doc, "kms_key_arn"), "arn:", 4) != 0)
        co_error_field(err, "/kms_key_arn", "must be a KMS key ARN (arn:...)");
    sgs = json_object_get(doc, "vpc_security_group_ids");
    if (sgs && (!json_is_array(sgs) || json_array_size(sgs) > 16))
        co_error_field(err, "/vpc_security_group_ids",
                       "must be an array of at most 16 security group ids");
    json_array_foreach(sgs, i, sg) {
        char ptr[64];
        if (json_is_string(sg) && strncmp(json_string_value(sg), "sg-", 3) == 0 &&
            json_string_length(sg) <= 64 && !v_has_control(json_string_value(sg)))
            continue;
        snprintf(ptr, sizeof ptr, "/vpc_security_group_ids/%zu", i);
        co_error_field(err, ptr, "must be a VPC security group id (sg-...)");
    }
    return err->status;
}

CO_DEFINE_CRUD(h_instances, .kind = CO_KIND_INSTANCE, .collection = "replication-instances",
               .read_only = read_only, .validate = validate)
