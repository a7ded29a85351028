/* steps_cutover.c - the checks and copies of the cutover itself (plan
 * oracle-to-postgres, PostgreSQL sources): the schema fingerprint compared
 * at the cutover gate and again at final_sync, large objects copied and
 * materialized views refreshed at final_sync. See steps.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "engine/steps.h"
#include "engine/steps_pg.h"
#include "pg/pg_cutover.h"

static bool source_is_postgres(const co_step_ctx *ctx)
{
    const char *e = v_str(ctx->source.doc, "engine");
    return e && strcmp(e, "postgres") == 0;
}

/* Compares the schema fingerprints of source and target (schemas of the
 * run); a difference fails with it (outputs.schema_difference). */
static void compare_schemas(co_step_ctx *ctx, PGconn *src, PGconn *tgt, co_verdict *v)
{
    const json_t *schemas = json_object_get(ctx->run->params, "schemas");
    json_t *a = NULL, *b = NULL, *diff;
    co_error err;
    co_error_clear(&err);
    if (pg_schema_fingerprint(src, schemas, &a, &err) != CO_OK ||
        pg_schema_fingerprint(tgt, schemas, &b, &err) != CO_OK) {
        co_verdict_from_error(v, "comparing the schemas", &err);
    } else if (json_array_size(diff = pg_schema_fingerprint_diff(a, b))) {
        char *text = json_dumps(diff, JSON_COMPACT);
        json_object_set(ctx->outputs, "schema_difference", diff);
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "the source schema changed during CDC (not replicated): apply the "
                       "same change on the target, then retry this step: %.700s",
                       text ? text : "");
        free(text);
        json_decref(diff);
    } else {
        json_decref(diff);
        json_object_del(ctx->outputs, "schema_difference");
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    }
    json_decref(a);
    json_decref(b);
}

static co_status open_both(co_step_ctx *ctx, PGconn **src, PGconn **tgt, co_verdict *v)
{
    co_error err;
    co_error_clear(&err);
    *src = *tgt = NULL;
    if (co_step_pg_open(ctx, &ctx->source, src, &err) != CO_OK ||
        co_step_pg_open(ctx, &ctx->target, tgt, &err) != CO_OK) {
        co_verdict_from_error(v, "connecting", &err);
        pg_conn_close(*src);
        *src = NULL;
        return err.status;
    }
    return CO_OK;
}

/* How often the gate's watch validates while the run awaits approval (ms). */
#define WATCH_MS 1000

/* The gate's watch: the continuous validation goes on while the run awaits
 * approval, so that final_sync finds only the changes made since its last
 * attempt. Always asks for approval again (GATE): with after_ms while there
 * is work, 0 (the watch ends) once a mismatch is found -- final_sync then
 * fails with it, and readiness shows it from validation.progress. */
static void gate_watch(co_step_ctx *ctx, co_verdict *v)
{
    co_verdict w;
    memset(&w, 0, sizeof w);
    ctx->engine->validate_task(ctx, "main", false, &w);
    switch (w.kind) {
    case CO_VERDICT_WAIT:
        co_verdict_set(v, CO_VERDICT_GATE, w.after_ms > 0 ? w.after_ms : WATCH_MS, NULL);
        break;
    case CO_VERDICT_DONE:
        co_verdict_set(v, CO_VERDICT_GATE, WATCH_MS, NULL);
        break;
    case CO_VERDICT_RETRY:
        json_object_set_new(ctx->outputs, "watch_error", json_string(w.error));
        co_verdict_set(v, CO_VERDICT_RETRY, 0, "%s", w.error);
        break;
    default:
        json_object_set_new(ctx->outputs, "watch_error", json_string(w.error));
        co_verdict_set(v, CO_VERDICT_GATE, 0, NULL);
    }
}

void co_step_cutover_gate(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *src, *tgt;
    if (!source_is_postgres(ctx)) {
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        return;
    }
    if (ctx->state_before == CO_STEP_AWAITING_APPROVAL) {
        gate_watch(ctx, v);
        return;
    }
    if (open_both(ctx, &src, &tgt, v) != CO_OK)
        return;
    compare_schemas(ctx, src, tgt, v);
    pg_conn_close(src);
    pg_conn_close(tgt);
    /* schemas equal: ask for approval, validating on while it is awaited
     * (pg-logical; DMS validates inside the replication task by itself) */
    if (v->kind == CO_VERDICT_DONE && co_step_continuous_validation(ctx) &&
        strcmp(ctx->engine->name, "pg-logical") == 0)
        co_verdict_set(v, CO_VERDICT_GATE, WATCH_MS, NULL);
}

void co_step_cutover_objects(co_step_ctx *ctx, co_verdict *v)
{
    PGconn *src, *tgt;
    json_t *report = NULL;
    co_error err;
    const json_t *schemas = json_object_get(ctx->run->params, "schemas");

    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
    if (!source_is_postgres(ctx) || open_both(ctx, &src, &tgt, v) != CO_OK)
        return;
    co_error_clear(&err);
    compare_schemas(ctx, src, tgt, v);
    if (v->kind != CO_VERDICT_DONE)
        goto out;
    if (co_param_bool(ctx, "copy_large_objects", false)) {
        if (pg_large_objects_copy(src, tgt, &report, &err) != CO_OK) {
            co_verdict_from_error(v, "copying large objects", &err);
            goto out;
        }
        json_object_set_new(ctx->outputs, "large_objects", report);
    }
    if (pg_conn_set_statement_timeout(tgt, 0, &err) != CO_OK ||
        pg_matviews_refresh(tgt, schemas, &report, &err) != CO_OK) {
        co_verdict_from_error(v, "refreshing materialized views", &err);
        goto out;
    }
    json_object_set_new(ctx->outputs, "materialized_views", report);
out:
    pg_conn_close(src);
    pg_conn_close(tgt);
}
