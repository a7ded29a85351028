/* endpoint_test.c - POST /v1/endpoints/{id}/test-connection.
 *
 * For a PostgreSQL endpoint: connects with libpq (PQconnectdbParams through
 * pg_conn_open) with the stored credentials, reads the server version and
 * checks what the plans need of an endpoint in its role (source: wal_level
 * logical, a free replication slot and WAL sender, REPLICATION or superuser,
 * SELECT on the user tables; target: superuser for CREATE SUBSCRIPTION on
 * PostgreSQL 15, CREATE on the database). Problems are findings, not
 * errors: the answer is 200 with "status": "succeeded" or "failed".
 *
 * Bounded time: this runs on the HTTP thread, so the connection attempt
 * is limited to CONNECT_TIMEOUT_S (libpq connect_timeout) and each query to
 * STATEMENT_TIMEOUT_MS (statement_timeout): at most about 5 seconds.
 *
 * Other engines (and PostgreSQL when the body names replication_instance_id)
 * are tested by AWS DMS, per DMS API TestConnection and DescribeConnections
 * through the aws-dms engine (co_awsdms_endpoint_test), on a replication
 * instance of the endpoint's project: the one the body names, else the
 * first with a known DMS ARN, else the first. The handler polls the
 * connection status for at most DMS_BUDGET_MS; a test still "testing" then
 * answers 202 with "status": "testing", and the caller POSTs again (the
 * running test is read, not restarted). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/validate.h"
#include "engine/app.h"
#include "engine/awsdms.h"
#include "engine/step.h"
#include "handlers/handlers.h"
#include "pg/pg_conn.h"
#include "store/resources.h"
#include "store/runs_query.h"
#include "store/secret.h"

#define CONNECT_TIMEOUT_S 3
#define STATEMENT_TIMEOUT_MS 2000
#define DMS_BUDGET_MS 3000
#define DMS_POLL_MS 250

static void finding(json_t *findings, const char *check, const char *found,
                    const char *expected)
{
    json_array_append_new(findings, json_pack("{s:s, s:s, s:s}", "check", check, "found",
                                              found, "expected", expected));
}

/* The prerequisite checks of the endpoint's role on an open connection. */
static co_status check_role(PGconn *c, const char *role, json_t *findings, co_error *err)
{
    static const char source_sql[] =
        "SELECT current_setting('wal_level'),"
        " current_setting('max_replication_slots')::int -"
        "   (SELECT count(*) FROM pg_replication_slots),"
        " current_setting('max_wal_senders')::int -"
        "   (SELECT count(*) FROM pg_stat_replication),"
        " (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),"
        " (SELECT count(*) FROM pg_tables WHERE schemaname NOT IN"
        "   ('pg_catalog', 'information_schema')"
        "   AND NOT has_table_privilege(format('%I.%I', schemaname, tablename), 'SELECT'))";
    static const char target_sql[] =
        "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
        " has_database_privilege(current_database(), 'CREATE')";
    PGresult *res = NULL;
    bool source = strcmp(role, "source") == 0;
    co_status rc = pg_exec(c, "checking the prerequisites", source ? source_sql : target_sql,
                           0, NULL, &res, err);
    if (rc != CO_OK)
        return rc;
    if (source) {
        if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0)
            finding(findings, "wal_level", PQgetvalue(res, 0, 0), "logical");
        if (atoi(PQgetvalue(res, 0, 1)) < 1)
            finding(findings, "max_replication_slots", "no free replication slot",
                    "at least one free slot");
        if (atoi(PQgetvalue(res, 0, 2)) < 1)
            finding(findings, "max_wal_senders", "no free WAL sender",
                    "at least one free WAL sender");
        if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
            finding(findings, "role REPLICATION", "not granted",
                    "a role with REPLICATION (or superuser)");
        if (atoi(PQgetvalue(res, 0, 4)) > 0)
            finding(findings, "SELECT privilege", PQgetvalue(res, 0, 4),
                    "SELECT on every table to migrate (count of tables without it)");
    } else {
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
            finding(findings, "role SUPERUSER", "not granted",
                    "a superuser (PostgreSQL 15 requires it for CREATE SUBSCRIPTION)");
        if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
            finding(findings, "CREATE privilege", "not granted",
                    "CREATE on the target database");
    }
    PQclear(res);
    return CO_OK;
}

/* The replication instance to test through: body's replication_instance_id
 * (a resource of the endpoint's project; 422 naming the field otherwise),
 * else the project's first instance with a DMS ARN, else its first. Writes
 * its ARN, or its name as the DMS identifier, to out; *found false when
 * the project has none. */
static co_status pick_instance(co_request *req, const co_resource *ep, const char *named,
                               char *out, size_t size, bool *found, co_error *err)
{
    co_resource *items = NULL;
    size_t n = 0, pick = 0;
    bool more = false;
    co_status rc;
    *found = false;
    if (named) {
        co_resource r;
        memset(&r, 0, sizeof r);
        if (co_res_get(req->app->store, CO_KIND_INSTANCE, named, &r, err) != CO_OK ||
            strcmp(r.project_id, ep->project_id) != 0) {
            co_resource_clear(&r);
            co_error_clear(err);
            return co_error_field(err, "/replication_instance_id",
                                  "no replication instance %s in the endpoint's project",
                                  named);
        }
        snprintf(out, size, "%s", v_str(r.doc, "arn") ? v_str(r.doc, "arn") : r.name);
        co_resource_clear(&r);
        *found = true;
        return CO_OK;
    }
    rc = co_res_list(req->app->store, CO_KIND_INSTANCE, ep->project_id, NULL, 0, 100, &items,
                     &n, &more, err);
    if (rc != CO_OK)
        return rc;
    for (size_t i = n; i-- > 0;)
        if (v_str(items[i].doc, "arn"))
            pick = i;
    if (n) {
        snprintf(out, size, "%s",
                 v_str(items[pick].doc, "arn") ? v_str(items[pick].doc, "arn")
                                               : items[pick].name);
        *found = true;
    }
    for (size_t i = 0; i < n; i++)
        co_resource_clear(&items[i]);
    free(items);
    return CO_OK;
}

/* The DMS connection test of ep on instance, polled for at most
 * DMS_BUDGET_MS: 200 with succeeded/failed, 202 with testing. */
static co_status dms_test(co_request *req, co_response *resp, const co_resource *ep,
                          const char *instance, int64_t start)
{
    co_op_ctx op;
    co_verdict v;
    char status[32], when[32];
    const char *engine = v_str(ep->doc, "engine");
    json_t *out;
    co_status rc = co_op_ctx_init(&op, req->app, "aws-dms", ep->project_id, ep->id, NULL, ep,
                                  NULL, &resp->err);
    if (rc != CO_OK)
        return rc;
    for (;;) {
        int64_t left;
        co_verdict_set(&v, CO_VERDICT_NONE, 0, NULL);
        co_awsdms_endpoint_test(&op.ctx, instance, status, sizeof status, &v);
        left = start + DMS_BUDGET_MS - co_clock_mono_ms();
        if ((v.kind != CO_VERDICT_WAIT && v.kind != CO_VERDICT_RETRY) || left <= 0)
            break;
        {
            int64_t ms = left < DMS_POLL_MS ? left : DMS_POLL_MS;
            struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    co_op_ctx_release(&op);
    if (v.kind == CO_VERDICT_RETRY)
        return co_error_set(&resp->err, CO_ERR_TRANSIENT, "AWS DMS: %s", v.error);
    if (v.kind == CO_VERDICT_FAIL && strcmp(status, "failed") != 0)
        return co_error_set(&resp->err, CO_ERR_REMOTE, "AWS DMS: %s", v.error);
    out = json_pack("{s:s, s:s, s:s, s:n, s:o, s:o, s:[], s:s}", "endpoint_id", ep->id,
                    "engine", engine ? engine : "", "status",
                    v.kind == CO_VERDICT_DONE ? "succeeded"
                    : v.kind == CO_VERDICT_WAIT ? "testing" : "failed",
                    "server_version", "message",
                    v.kind == CO_VERDICT_FAIL ? json_string(v.error) : json_null(), "reason",
                    v.kind == CO_VERDICT_FAIL
                        ? json_string(co_error_reason(v.error, NULL))
                        : json_null(),
                    "findings", "replication_instance", instance);
    json_object_set_new(out, "dms_status", json_string(status));
    json_object_set_new(out, "duration_ms", json_integer(co_clock_mono_ms() - start));
    json_object_set_new(out, "tested_at",
                        json_string(co_clock_rfc3339(co_clock_now_ms(), when, sizeof when)));
    co_resp_json(resp, v.kind == CO_VERDICT_WAIT ? 202 : 200, out);
    return CO_OK;
}

co_status h_endpoints_test(co_request *req, co_response *resp)
{
    co_resource ep;
    pg_conn_spec spec;
    PGconn *c = NULL;
    char *password = NULL, when[32];
    size_t len = 0;
    json_t *findings = json_array(), *out, *body = NULL;
    const char *named = NULL;
    int64_t start = co_clock_mono_ms();
    co_error perr;
    const char *engine;
    co_status rc = co_res_get(req->app->store, CO_KIND_ENDPOINT, req->params[0], &ep,
                              &resp->err);
    if (rc != CO_OK) {
        json_decref(findings);
        return rc;
    }
    engine = v_str(ep.doc, "engine");
    if (req->body && req->body_len) {
        json_t *x;
        if ((rc = co_req_json(req, &body, &resp->err)) != CO_OK)
            goto out;
        x = json_object_get(body, "replication_instance_id");
        if (x && !json_is_string(x)) {
            rc = co_error_field(&resp->err, "/replication_instance_id", "must be a string");
            goto out;
        }
        named = json_string_value(x);
    }
    if (!engine || strcmp(engine, "postgres") != 0 || named) {
        char instance[512];
        bool found;
        if ((rc = pick_instance(req, &ep, named, instance, sizeof instance, &found,
                                &resp->err)) != CO_OK)
            goto out;
        if (found) {
            rc = dms_test(req, resp, &ep, instance, start);
            goto out;
        }
    }
    if (!engine || strcmp(engine, "postgres") != 0 || !ep.secret) {
        rc = co_error_set(&resp->err, CO_ERR_UNPROCESSABLE,
                          "endpoint %s: only PostgreSQL endpoints with a stored password "
                          "can be tested directly (engine %s); other engines need a "
                          "replication instance in the project to test through AWS DMS",
                          ep.id, engine ? engine : "?");
        goto out;
    }
    if ((rc = co_secret_open_endpoint(&req->app->key, ep.id, ep.doc, ep.secret,
                                      ep.secret_len, &password, &len, &resp->err)) != CO_OK)
        goto out;
    pg_conn_spec_from_endpoint(ep.doc, password, &spec);
    spec.connect_timeout_s = CONNECT_TIMEOUT_S;
    spec.statement_timeout_ms = STATEMENT_TIMEOUT_MS;
    spec.application_name = "cutover/test-connection";
    co_error_clear(&perr);
    if (pg_conn_open(&spec, &c, &perr) == CO_OK)
        (void)!check_role(c, v_str(ep.doc, "role") ? v_str(ep.doc, "role") : "source",
                          findings, &perr);
    out = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "endpoint_id", ep.id, "engine",
                    engine, "status",
                    perr.status == CO_OK && json_array_size(findings) == 0 ? "succeeded"
                                                                          : "failed",
                    "server_version",
                    c && PQstatus(c) == CONNECTION_OK
                        ? json_string(PQparameterStatus(c, "server_version"))
                        : json_null(),
                    "message", perr.status ? json_string(perr.message) : json_null(),
                    "reason",
                    perr.status ? json_string(co_error_reason(perr.message, perr.sqlstate))
                    : json_array_size(findings) ? json_string("prerequisite_missing")
                                                : json_null(),
                    "findings", findings);
    findings = NULL;
    json_object_set_new(out, "duration_ms", json_integer(co_clock_mono_ms() - start));
    json_object_set_new(out, "tested_at",
                        json_string(co_clock_rfc3339(co_clock_now_ms(), when, sizeof when)));
    co_resp_json(resp, 200, out);
out:
    pg_conn_close(c);
    if (password) {
        OPENSSL_cleanse(password, len);
        free(password);
    }
    json_decref(findings);
    json_decref(body);
    co_resource_clear(&ep);
    return rc;
}
