/* metrics.h - in-process counters rendered as Prometheus text.
 *
 * HTTP requests are counted per (operation name, status code) and their
 * latency observed in one histogram per operation. Thread-safe (one mutex;
 * the critical sections are a few additions).
 */
#ifndef CUTOVER_SERVER_METRICS_H
#define CUTOVER_SERVER_METRICS_H

#include "core/buf.h"

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

#endif
