/* metrics.h - Prometheus text rendering of every module's counters.
 *
 * HTTP requests are counted here per (operation name, status code) and
 * their latency observed in one histogram per operation. Thread-safe (one
 * mutex; the critical sections are a few additions). Other modules export
 * counter snapshots (co_runner_counters_read, co_dms_counters_read, the
 * event hub's gauges) and only this module turns them into text.
 */
#ifndef CUTOVER_SERVER_METRICS_H
#define CUTOVER_SERVER_METRICS_H

#include "aws/dms.h"
#include "core/buf.h"
#include "engine/runner.h"
#include "handlers/request.h"

typedef struct co_metrics co_metrics;

/* New registry (caller frees with co_metrics_free), NULL if out of memory. */
co_metrics *co_metrics_new(void);
void co_metrics_free(co_metrics *m);

/* Records one request of operation op (a static string, e.g. the route
 * name, or "unmatched") answered with status after seconds. */
void co_metrics_observe_request(co_metrics *m, const char *op, int status,
                                double seconds);

/* Appends the HTTP metrics in Prometheus text format 0.0.4 to out.
 * Errors: CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_metrics_render(co_metrics *m, co_buf *out);

/* Appends the runner's counters as cutover_step_attempts_total{verdict},
 * cutover_step_retries_total and the cutover_step_attempt_duration_seconds
 * histogram. Errors: CO_ERR_NOMEM, CO_ERR_TOO_LARGE (buffer cap). */
CO_MUST_CHECK co_status co_metrics_render_runner(const co_runner_counters *c,
                                                 co_buf *out);

/* Appends the DMS client's counters as cutover_dms_requests_total
 * {operation,outcome} and cutover_dms_retries_total{operation}; series still
 * at zero are left out. Errors: CO_ERR_NOMEM, CO_ERR_TOO_LARGE. */
CO_MUST_CHECK co_status co_metrics_render_dms(const co_dms_counters *c, co_buf *out);

/* Appends one gauge family with one label in Prometheus text 0.0.4:
 * "# HELP name help", "# TYPE name gauge", then `name{label="values_of[i]"}
 * values[i]` for i in [0, n). All strings are borrowed; label values must
 * need no escaping (state and kind names). Errors: CO_ERR_NOMEM,
 * CO_ERR_TOO_LARGE. */
CO_MUST_CHECK co_status co_metrics_render_gauges(co_buf *out, const char *name,
                                                 const char *help, const char *label,
                                                 const char *const *values_of,
                                                 const int64_t *values, size_t n);

/* GET /metrics (route "metrics"): all counters as Prometheus text 0.0.4.
 * Errors: CO_ERR_STORE when the store cannot be counted, CO_ERR_NOMEM. */
co_status h_metrics(co_request *req, co_response *resp);

#endif
