/* awsdms_cleanup.c - what a run leaves behind in DMS once its tasks are
 * gone (see awsdms_int.h awsdms_cleanup_after). Resources are found by the
 * identifiers derived from the run id (cutover-<run suffix>...), never by
 * the recorded ARNs alone: the cancel clean-up runs without the steps'
 * outputs. Those identifiers carry 128 random bits of the run id, so a DMS
 * resource with one of them was made for this run; nothing else is ever
 * deleted.
 */
#include <stdio.h>
#include <string.h>

#include "engine/awsdms_int.h"
#include "core/log.h"

/* Deletes the endpoint named by identifier role (e.g. "source"), if it
 * exists. false with v set on a DMS error. */
static bool delete_endpoint(co_step_ctx *ctx, co_dms_client *cli, const char *id_role,
                            co_verdict *v)
{
    char ident[AWSDMS_ID_MAX];
    co_dms_result res = {0};
    co_error err;
    co_status rc;
    const char *arn;
    bool ok;
    co_error_clear(&err);
    if ((rc = awsdms_ident(ctx, id_role, 255, ident, &err)) == CO_OK)
        rc = awsdms_call(cli, "DescribeEndpoints", awsdms_filter("endpoint-id", ident), &res,
                         &err);
    arn = json_string_value(json_object_get(
        json_array_get(json_object_get(res.body, "Endpoints"), 0), "EndpointArn"));
    if (rc == CO_OK && arn) {
        rc = awsdms_call(cli, "DeleteEndpoint", json_pack("{s:s}", "EndpointArn", arn), &res,
                         &err);
        if (rc == CO_OK)
            co_log(CO_LOG_INFO, "dms", "run %s: deleting endpoint %s", ctx->run->id, ident);
    }
    ok = rc == CO_OK || rc == CO_ERR_NOT_FOUND || res.cls == CO_DMS_INVALID_STATE;
    co_dms_result_clear(&res);
    if (!ok) /* an endpoint already being deleted is as good as deleted */
        awsdms_verdict_error(v, "delete endpoint", rc, &err);
    return ok;
}

/* Deletes the run's replication instance, if it exists (DMS goes on
 * deleting it; nothing waits for that). */
static void delete_instance(co_step_ctx *ctx, co_dms_client *cli, co_verdict *v)
{
    char ident[AWSDMS_ID_MAX];
    co_dms_result res = {0};
    co_error err;
    co_status rc;
    json_t *inst;
    const char *arn, *status;
    co_error_clear(&err);
    if ((rc = awsdms_ident(ctx, NULL, 63, ident, &err)) == CO_OK)
        rc = awsdms_call(cli, "DescribeReplicationInstances",
                         awsdms_filter("replication-instance-id", ident), &res, &err);
    inst = json_array_get(json_object_get(res.body, "ReplicationInstances"), 0);
    arn = json_string_value(json_object_get(inst, "ReplicationInstanceArn"));
    status = json_string_value(json_object_get(inst, "ReplicationInstanceStatus"));
    if (rc == CO_OK && arn && !awsdms_streq(status, "deleting")) {
        rc = awsdms_call(cli, "DeleteReplicationInstance",
                         json_pack("{s:s}", "ReplicationInstanceArn", arn), &res, &err);
        if (rc == CO_OK)
            co_log(CO_LOG_INFO, "dms", "run %s: deleting replication instance %s",
                   ctx->run->id, ident);
    }
    if (rc != CO_OK && rc != CO_ERR_NOT_FOUND && res.cls != CO_DMS_INVALID_STATE)
        awsdms_verdict_error(v, "delete replication instance", rc, &err);
    co_dms_result_clear(&res);
}

void awsdms_cleanup_after(co_step_ctx *ctx, co_dms_client *cli, const char *role,
                          co_verdict *v)
{
    bool rollback = awsdms_streq(role, "rollback");
    if (rollback) { /* the reverse endpoints only the rollback task uses */
        if (!delete_endpoint(ctx, cli, "rollback-source", v) ||
            !delete_endpoint(ctx, cli, "rollback-target", v))
            return;
    }
    if (!co_param_bool(ctx, "cleanup", true))
        return;
    if (!rollback && (!delete_endpoint(ctx, cli, "source", v) ||
                      !delete_endpoint(ctx, cli, "target", v)))
        return;
    /* the instance also runs the rollback task, when one is asked for */
    if (rollback || !co_param_bool(ctx, "rollback_task", false))
        delete_instance(ctx, cli, v);
}
