/* metrics_route.c - GET /metrics: every module's counters as Prometheus
 * text format 0.0.4 (HTTP requests, stored resources, runs by state, the
 * runner, the DMS client, event streams, uptime). Modules export counters;
 * this file and metrics.c alone render them. */
#include "server/metrics.h"

#include <stdlib.h>

#include "aws/dms.h"
#include "core/buf.h"
#include "core/clock.h"
#include "engine/app.h"
#include "engine/runner.h"
#include "events/events.h"
#include "store/resources.h"
#include "store/runs.h"

co_status h_metrics(co_request *req, co_response *resp)
{
    co_buf out = {0};
    int64_t counts[CO_KIND_LAST], runs[CO_RUN_STATE_LAST];
    const char *kinds[CO_KIND_LAST], *states[CO_RUN_STATE_LAST];
    co_status rc = co_metrics_render(req->app->metrics, &out);
    for (int k = 0; k < CO_KIND_LAST; k++)
        kinds[k] = co_kind_name((co_kind)k);
    for (int s = 0; s < CO_RUN_STATE_LAST; s++)
        states[s] = co_run_state_name((co_run_state)s);
    if (rc == CO_OK && co_res_count(req->app->store, counts, &resp->err) == CO_OK)
        rc = co_metrics_render_gauges(&out, "cutover_resources", "Stored resources by kind.",
                                      "kind", kinds, counts, CO_KIND_LAST);
    if (rc == CO_OK && co_runs_count(req->app->store, runs, &resp->err) == CO_OK)
        rc = co_metrics_render_gauges(&out, "cutover_runs", "Runs by state.", "state", states,
                                      runs, CO_RUN_STATE_LAST);
    if (rc == CO_OK) {
        co_runner_counters rc_counters;
        co_dms_counters dms;
        co_runner_counters_read(req->app->runner, &rc_counters);
        rc = co_metrics_render_runner(&rc_counters, &out);
        co_dms_counters_read(&dms);
        if (rc == CO_OK)
            rc = co_metrics_render_dms(&dms, &out);
    }
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
