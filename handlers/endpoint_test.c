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
 * STATEMENT_TIMEOUT_MS (statement_timeout): at most about 5 seconds. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/validate.h"
#include "engine/app.h"
#include "handlers/handlers.h"
#include "pg/pg_conn.h"
#include "store/resources.h"
#include "store/runs_query.h"
#include "store/secret.h"

#define CONNECT_TIMEOUT_S 3
#define STATEMENT_TIMEOUT_MS 2000

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

co_status h_endpoints_test(co_request *req, co_response *resp)
{
    co_resource ep;
    pg_conn_spec spec;
    PGconn *c = NULL;
    char *password = NULL, when[32];
    size_t len = 0;
    json_t *findings = json_array(), *out;
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
    if (!engine || strcmp(engine, "postgres") != 0 || !ep.secret) {
        rc = co_error_set(&resp->err, CO_ERR_UNPROCESSABLE,
                          "endpoint %s: only PostgreSQL endpoints with a stored password "
                          "can be tested directly (engine %s)", ep.id, engine ? engine : "?");
        goto out;
    }
    if ((rc = co_secret_open_endpoint(&req->app->key, ep.id, ep.doc, ep.secret,
                                      ep.secret_len, &password, &len, &resp->err)) != CO_OK)
        goto out;
    memset(&spec, 0, sizeof spec);
    spec.host = v_str(ep.doc, "host");
    spec.port = (int)json_integer_value(json_object_get(ep.doc, "port"));
    spec.dbname = v_str(ep.doc, "database");
    spec.user = v_str(ep.doc, "username");
    spec.password = password;
    spec.sslmode = v_str(ep.doc, "sslmode");
    spec.sslrootcert = v_str(ep.doc, "sslrootcert");
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
    co_resource_clear(&ep);
    return rc;
}
