/* ops.c - operations endpoints: /healthz (the process is alive), /readyz
 * (the store answers), /metrics (Prometheus text), /openapi.json (the
 * contract, compiled in from openapi/openapi.yaml). */
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers.h"
#include "openapi/openapi_json.h"
#include "engine/app.h"
#include "core/buf.h"
#include "core/clock.h"
#include "server/metrics.h"
#include "store/resources.h"
#include "store/runs.h"
#include "engine/runner.h"
#include "aws/creds.h"
#include "aws/dms.h"
#include "server/events.h"

co_status h_healthz(co_request *req, co_response *resp)
{
    (void)req;
    co_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
    return CO_OK;
}

co_status h_readyz(co_request *req, co_response *resp)
{
    int64_t counts[CO_KIND_LAST];
    co_error err;
    json_t *body;
    co_error_clear(&err);
    if (co_res_count(req->app->store, counts, &err) != CO_OK)
        return co_error_set(&resp->err, CO_ERR_TRANSIENT, "store not usable: %s",
                            err.message);
    body = json_pack("{s:s, s:{s:s, s:i}, s:s}", "status", "ready", "store",
                     "status", "ok", "schema_version",
                     co_store_schema_version(req->app->store), "version",
                     CUTOVER_VERSION);
    if (req->app->aws_creds) {
        char source[160];
        /* the source of the credentials in use, never the secret */
        json_object_set_new(body, "aws_credentials",
                            json_string(co_aws_provider_source(req->app->aws_creds, source,
                                                               sizeof source)));
    }
    co_resp_json(resp, 200, body);
    return CO_OK;
}

co_status h_metrics(co_request *req, co_response *resp)
{
    co_buf out = {0};
    int64_t counts[CO_KIND_LAST];
    co_status rc = co_metrics_render(req->app->metrics, &out);
    if (rc == CO_OK && co_res_count(req->app->store, counts, &resp->err) == CO_OK) {
        rc = co_buf_printf(&out, "# HELP cutover_resources Stored resources by kind.\n"
                                 "# TYPE cutover_resources gauge\n");
        for (int k = 0; k < CO_KIND_LAST && rc == CO_OK; k++)
            rc = co_buf_printf(&out, "cutover_resources{kind=\"%s\"} %lld\n",
                               co_kind_name((co_kind)k), (long long)counts[k]);
    }
    if (rc == CO_OK) {
        int64_t runs[CO_RUN_STATE_LAST];
        if (co_runs_count(req->app->store, runs, &resp->err) == CO_OK) {
            rc = co_buf_printf(&out, "# HELP cutover_runs Runs by state.\n"
                                     "# TYPE cutover_runs gauge\n");
            for (int s = 0; s < CO_RUN_STATE_LAST && rc == CO_OK; s++)
                rc = co_buf_printf(&out, "cutover_runs{state=\"%s\"} %lld\n",
                                   co_run_state_name((co_run_state)s), (long long)runs[s]);
        }
    }
    if (rc == CO_OK && req->app->runner)
        rc = co_runner_metrics(req->app->runner, &out);
    if (rc == CO_OK)
        rc = co_dms_metrics_render(&out);
    if (rc == CO_OK && req->app->events)
        rc = co_buf_printf(&out,
                           "# HELP cutover_sse_subscribers Open event streams.\n"
                           "# TYPE cutover_sse_subscribers gauge\n"
                           "cutover_sse_subscribers %d\n"
                           "# HELP cutover_events_last_id Highest event id.\n"
                           "# TYPE cutover_events_last_id gauge\n"
                           "cutover_events_last_id %lld\n",
                           co_events_subscribers(req->app->events),
                           (long long)co_events_latest(req->app->events));
    if (rc == CO_OK)
        rc = co_buf_printf(&out,
                           "# HELP cutover_uptime_seconds Seconds since start.\n"
                           "# TYPE cutover_uptime_seconds gauge\n"
                           "cutover_uptime_seconds %.3f\n",
                           (double)(co_clock_now_ms() - req->app->started_ms) / 1000);
    if (rc != CO_OK) {
        co_buf_free(&out);
        return co_error_set(&resp->err, rc, "cannot render metrics");
    }
    resp->raw_len = out.len;
    resp->raw = co_buf_steal(&out);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->status = 200;
    return CO_OK;
}

co_status h_openapi(co_request *req, co_response *resp)
{
    (void)req;
    resp->raw = malloc(co_openapi_json_len);
    if (!resp->raw)
        return co_error_set(&resp->err, CO_ERR_NOMEM, "out of memory");
    memcpy(resp->raw, co_openapi_json, co_openapi_json_len);
    resp->raw_len = co_openapi_json_len;
    resp->content_type = "application/json";
    resp->status = 200;
    return CO_OK;
}
