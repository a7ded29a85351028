/* steps_pg.c - see steps_pg.h. */
#include "engine/steps_pg.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "core/buf.h"

static co_status open_endpoint(co_step_ctx *ctx, const co_resource *ep, bool replication,
                               PGconn **out, co_error *err)
{
    pg_conn_spec spec;
    char *password = NULL;
    co_status rc;
    const char *engine = v_str(ep->doc, "engine");

    if (!ep->id[0])
        return co_error_set(err, CO_ERR_INVALID, "the run names no such endpoint");
    if (!engine || strcmp(engine, "postgres") != 0)
        return co_error_set(err, CO_ERR_INVALID,
                            "endpoint %s is %s: only postgres endpoints can be reached "
                            "directly", ep->id, engine ? engine : "?");
    if ((rc = co_step_password(ctx, ep, &password, err)) != CO_OK) {
        if (rc == CO_ERR_NOT_FOUND) {
            co_error_clear(err);
            return co_error_set(err, CO_ERR_INVALID,
                                "endpoint %s has no password (a Secrets Manager "
                                "secret is only resolved by aws-dms)", ep->id);
        }
        return rc;
    }
    pg_conn_spec_from_endpoint(ep->doc, password, &spec);
    spec.connect_timeout_s = 10;
    spec.run_id = ctx->run->id;
    spec.statement_timeout_ms = (int)co_param_int(ctx, "statement_timeout_ms", 300000);
    spec.replication = replication;
    rc = pg_conn_open(&spec, out, err);
    OPENSSL_cleanse(password, strlen(password));
    free(password);
    return rc;
}

co_status co_step_pg_open(co_step_ctx *ctx, const co_resource *ep, PGconn **out,
                          co_error *err)
{
    return open_endpoint(ctx, ep, false, out, err);
}

co_status co_step_pg_open_replication(co_step_ctx *ctx, const co_resource *ep, PGconn **out,
                                      co_error *err)
{
    return open_endpoint(ctx, ep, true, out, err);
}

co_status co_step_pg_query(co_step_ctx *ctx, const co_resource *ep, const char *what,
                           const char *sql, int nparams, const char *const *params,
                           PGresult **res, co_error *err)
{
    PGconn *c = NULL;
    co_status rc = co_step_pg_open(ctx, ep, &c, err);
    *res = NULL;
    if (rc != CO_OK)
        return rc;
    rc = pg_exec(c, what, sql, nparams, params, res, err);
    pg_conn_close(c);
    return rc;
}

/* Sets the target setting name to the run's integer parameter param
 * followed by unit, or to def when the run does not set param; nothing
 * when neither is given (def -1). */
static co_status set_from_param(co_step_ctx *ctx, PGconn *conn, const char *param,
                                const char *name, const char *unit, int64_t def,
                                co_error *err)
{
    char value[32];
    int64_t n = co_param_int(ctx, param, def);
    if (n < 0)
        return CO_OK;
    snprintf(value, sizeof value, "%lld%s", (long long)n, unit);
    return pg_conn_set_config(conn, name, value, err);
}

co_status co_step_pg_build_session(co_step_ctx *ctx, PGconn *conn, co_error *err)
{
    co_status rc = pg_conn_set_statement_timeout(conn, 0, err);
    if (rc != CO_OK)
        return rc;
    return set_from_param(ctx, conn, "maintenance_work_mem_mb", "maintenance_work_mem", "MB",
                          CO_BUILD_MAINTENANCE_WORK_MEM_MB, err);
}

co_status co_step_pg_restore_session(co_step_ctx *ctx, PGconn *conn, co_error *err)
{
    co_status rc = co_step_pg_build_session(ctx, conn, err);
    if (rc != CO_OK)
        return rc;
    return set_from_param(ctx, conn, "restore_index_workers", "max_parallel_maintenance_workers",
                          "", -1, err);
}

co_status co_step_endpoint(co_step_ctx *ctx, const char *param, co_resource *out,
                           co_error *err)
{
    const char *id = co_param_str(ctx, param, NULL);
    memset(out, 0, sizeof *out);
    if (!id)
        return co_error_set(err, CO_ERR_INVALID, "run parameter %s is not set", param);
    return co_res_get(ctx->app->store, CO_KIND_ENDPOINT, id, out, err);
}

static co_status add_kv(co_buf *b, const char *key, const char *value)
{
    co_status rc = co_buf_printf(b, "%s%s='", b->len ? " " : "", key);
    for (const char *p = value; rc == CO_OK && *p; p++) {
        if (*p == '\'' || *p == '\\')
            rc = co_buf_append(b, "\\", 1);
        if (rc == CO_OK)
            rc = co_buf_append(b, p, 1);
    }
    if (rc == CO_OK)
        rc = co_buf_append(b, "'", 1);
    return rc;
}

char *co_step_conninfo_new(co_step_ctx *ctx, const co_resource *ep, co_error *err)
{
    co_buf b = {0};
    char *password = NULL, port[16];
    co_status rc;
    if ((rc = co_step_password(ctx, ep, &password, err)) != CO_OK)
        return NULL;
    snprintf(port, sizeof port, "%lld",
             (long long)json_integer_value(json_object_get(ep->doc, "port")));
    rc = add_kv(&b, "host", v_str(ep->doc, "host"));
    if (rc == CO_OK)
        rc = add_kv(&b, "port", port);
    if (rc == CO_OK)
        rc = add_kv(&b, "dbname", v_str(ep->doc, "database"));
    if (rc == CO_OK)
        rc = add_kv(&b, "user", v_str(ep->doc, "username"));
    if (rc == CO_OK)
        rc = add_kv(&b, "password", password);
    if (rc == CO_OK)
        rc = add_kv(&b, "sslmode", v_str(ep->doc, "sslmode"));
    OPENSSL_cleanse(password, strlen(password));
    free(password);
    if (rc != CO_OK) {
        if (b.data)
            OPENSSL_cleanse(b.data, b.len);
        co_buf_free(&b);
        co_error_set(err, CO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return co_buf_steal(&b);
}

