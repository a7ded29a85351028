/* step.c - see step.h. */
#include "engine/step.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "events/events.h"
#include "store/secret.h"

co_status co_step_event(co_step_ctx *ctx, const char *type, json_t *data,
                        co_error *err)
{
    co_evb b;
    co_status rc;
    if (!data)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (!ctx->step) {
        /* an operation outside a run (co_op_ctx_init): no run to publish on */
        json_decref(data);
        return CO_OK;
    }
    json_object_set_new(data, "run_id", json_string(ctx->run->id));
    json_object_set_new(data, "step", json_string(ctx->step->id));
    if ((rc = co_evb_begin(&b, ctx->app->events, ctx->app->store, err)) != CO_OK) {
        json_decref(data);
        return rc;
    }
    if ((rc = co_evb_add(&b, ctx->app->store, ctx->run->id, ctx->run->project_id, type,
                         data, err)) != CO_OK) {
        co_evb_abort(&b, ctx->app->store);
        return rc;
    }
    return co_evb_commit(&b, ctx->app->store, err);
}

void co_step_notify(co_step_ctx *ctx, const char *type, json_t *data)
{
    co_error err;
    co_error_clear(&err);
    if (co_step_event(ctx, type, data, &err) != CO_OK)
        co_log(CO_LOG_WARN, "runner", "run %s: publishing %s: %s", ctx->run->id, type,
               err.message);
}

co_status co_step_artifact(co_step_ctx *ctx, const char *name, const char *content_type,
                           const void *data, size_t len, co_error *err)
{
    co_evb b;
    if (!ctx->step)
        return co_error_set(err, CO_ERR_INVALID, "artifact %s: no run to store it in", name);
    co_status rc;
    if ((rc = co_evb_begin(&b, ctx->app->events, ctx->app->store, err)) != CO_OK)
        return rc;
    rc = co_artifact_put(ctx->app->store, ctx->run->id, name, ctx->step->id, content_type,
                         data, len, err);
    if (rc == CO_OK)
        rc = co_evb_add(&b, ctx->app->store, ctx->run->id, ctx->run->project_id,
                        "artifact.created",
                        json_pack("{s:s, s:s, s:s, s:s, s:I}", "run_id", ctx->run->id,
                                  "step", ctx->step->id, "name", name, "content_type",
                                  content_type, "size", (json_int_t)len),
                        err);
    if (rc != CO_OK) {
        co_evb_abort(&b, ctx->app->store);
        return rc;
    }
    return co_evb_commit(&b, ctx->app->store, err);
}

co_status co_step_password(co_step_ctx *ctx, const co_resource *ep, char **out,
                           co_error *err)
{
    size_t len;
    if (!ep->secret)
        return co_error_set(err, CO_ERR_NOT_FOUND, "endpoint %s has no password", ep->id);
    return co_secret_open_endpoint(&ctx->app->key, ep->id, ep->doc, ep->secret,
                                   ep->secret_len, out, &len, err);
}

int64_t co_param_int(const co_step_ctx *ctx, const char *name, int64_t def)
{
    json_t *v = json_object_get(ctx->run->params, name);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

bool co_param_bool(const co_step_ctx *ctx, const char *name, bool def)
{
    json_t *v = json_object_get(ctx->run->params, name);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

const char *co_param_str(const co_step_ctx *ctx, const char *name, const char *def)
{
    const char *s = json_string_value(json_object_get(ctx->run->params, name));
    return s ? s : def;
}

co_status co_op_ctx_init(co_op_ctx *op, co_app *app, const char *engine_name,
                         const char *project_id, const char *scope_id, const json_t *params,
                         const co_resource *source, const co_resource *target,
                         co_error *err)
{
    memset(op, 0, sizeof *op);
    snprintf(op->run.id, sizeof op->run.id, "%s", scope_id);
    snprintf(op->run.project_id, sizeof op->run.project_id, "%s", project_id);
    snprintf(op->run.engine, sizeof op->run.engine, "%s", engine_name);
    op->run.params = params ? json_deep_copy(params) : json_object();
    op->ctx.app = app;
    op->ctx.run = &op->run;
    op->ctx.outputs = json_object();
    op->ctx.all_outputs = json_object();
    op->ctx.engine = co_engine_find(engine_name);
    if (source)
        op->ctx.source = *source;
    if (target)
        op->ctx.target = *target;
    if (!op->run.params || !op->ctx.outputs || !op->ctx.all_outputs) {
        co_op_ctx_release(op);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    if (!op->ctx.engine) {
        co_op_ctx_release(op);
        return co_error_set(err, CO_ERR_INVALID, "engine %s is not available", engine_name);
    }
    return CO_OK;
}

void co_op_ctx_release(co_op_ctx *op)
{
    json_decref(op->run.params);
    json_decref(op->ctx.outputs);
    json_decref(op->ctx.all_outputs);
    op->run.params = op->ctx.outputs = op->ctx.all_outputs = NULL;
}

double co_param_num(const co_step_ctx *ctx, const char *name, double def)
{
    json_t *v = json_object_get(ctx->run->params, name);
    return json_is_number(v) ? json_number_value(v) : def;
}

int64_t co_step_waiting(co_step_ctx *ctx, const char *what, const char *detail,
                        int64_t period_ms)
{
    json_t *w = json_object_get(ctx->outputs, "waiting_for");
    const char *prev = json_string_value(json_object_get(w, "what"));
    int64_t now = co_clock_now_ms();
    int64_t since = (int64_t)json_integer_value(json_object_get(w, "since_ms"));
    int64_t last = (int64_t)json_integer_value(json_object_get(w, "notified_ms"));
    char since_text[40];
    if (!prev || strcmp(prev, what) != 0 || since <= 0 || since > now) {
        since = now;
        last = 0;
    }
    co_clock_rfc3339(since, since_text, sizeof since_text);
    if (last <= 0 || (period_ms > 0 && now - last >= period_ms)) {
        co_step_notify(ctx, "step.waiting",
                       json_pack("{s:s, s:s?, s:s, s:I}", "what", what, "detail", detail,
                                 "since", since_text,
                                 "waited_seconds", (json_int_t)((now - since) / 1000)));
        co_log(CO_LOG_INFO, "runner", "run %s: step %s waiting for %s since %s%s%s",
               ctx->run->id, ctx->step ? ctx->step->id : "-", what, since_text,
               detail ? ": " : "",
               detail ? detail : "");
        last = now;
    }
    json_object_set_new(ctx->outputs, "waiting_for",
                        json_pack("{s:s, s:s?, s:s, s:I, s:I}", "what", what, "detail",
                                  detail, "since", since_text, "since_ms", (json_int_t)since,
                                  "notified_ms", (json_int_t)last));
    return since;
}

void co_step_waiting_clear(co_step_ctx *ctx)
{
    json_object_del(ctx->outputs, "waiting_for");
}

static void load_endpoint(co_step_ctx *ctx, const char *param, co_resource *out)
{
    const char *id = json_string_value(json_object_get(ctx->run->params, param));
    co_error err;
    memset(out, 0, sizeof *out);
    co_error_clear(&err);
    if (id && co_res_get(ctx->app->store, CO_KIND_ENDPOINT, id, out, &err) != CO_OK)
        memset(out, 0, sizeof *out);
}

void co_step_load_endpoints(co_step_ctx *ctx)
{
    load_endpoint(ctx, "source_endpoint_id", &ctx->source);
    load_endpoint(ctx, "target_endpoint_id", &ctx->target);
}
