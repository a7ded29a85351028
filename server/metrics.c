/* metrics.c - see metrics.h. */
#include "server/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/owner.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
#define MAX_OPS 96
#define MAX_STATUS 16

typedef struct op_stats {
    const char *op;
    int statuses[MAX_STATUS];
    unsigned long long status_counts[MAX_STATUS];
    int nstatus;
    unsigned long long hist[NBUCKETS];
    unsigned long long count;
    double sum;
} op_stats;

struct co_metrics {
    pthread_mutex_t mu; /* first: co_locked_new (core/owner.h) sets it up */
    op_stats ops[MAX_OPS];
    int nops;
};

co_metrics *co_metrics_new(void)
{
    return co_locked_new(sizeof(co_metrics));
}

void co_metrics_free(co_metrics *m)
{
    co_locked_free(m);
}

static op_stats *find_op(co_metrics *m, const char *op)
{
    for (int i = 0; i < m->nops; i++)
        if (m->ops[i].op == op || strcmp(m->ops[i].op, op) == 0)
            return &m->ops[i];
    if (m->nops == MAX_OPS)
        return NULL;
    m->ops[m->nops].op = op;
    return &m->ops[m->nops++];
}

void co_metrics_observe_request(co_metrics *m, const char *op, int status,
                                double seconds)
{
    op_stats *s;
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    s = find_op(m, op);
    if (s) {
        int i;
        for (i = 0; i < s->nstatus; i++)
            if (s->statuses[i] == status)
                break;
        if (i == s->nstatus && s->nstatus < MAX_STATUS)
            s->statuses[s->nstatus++] = status;
        if (i < s->nstatus)
            s->status_counts[i]++;
        for (size_t b = 0; b < NBUCKETS; b++)
            if (seconds <= buckets[b])
                s->hist[b]++;
        s->count++;
        s->sum += seconds;
    }
    pthread_mutex_unlock(&m->mu);
}

co_status co_metrics_render(co_metrics *m, co_buf *out)
{
    co_status rc = CO_OK;
    pthread_mutex_lock(&m->mu);
    rc |= co_buf_printf(out, "# HELP cutover_http_requests_total HTTP requests "
                             "by operation and status.\n"
                             "# TYPE cutover_http_requests_total counter\n");
    for (int i = 0; i < m->nops; i++)
        for (int j = 0; j < m->ops[i].nstatus; j++)
            rc |= co_buf_printf(out,
                                "cutover_http_requests_total{operation=\"%s\","
                                "status=\"%d\"} %llu\n",
                                m->ops[i].op, m->ops[i].statuses[j],
                                m->ops[i].status_counts[j]);
    rc |= co_buf_printf(out, "# HELP cutover_http_request_duration_seconds Time "
                             "from request start to response queued.\n"
                             "# TYPE cutover_http_request_duration_seconds "
                             "histogram\n");
    for (int i = 0; i < m->nops; i++) {
        const op_stats *s = &m->ops[i];
        for (size_t b = 0; b < NBUCKETS; b++)
            rc |= co_buf_printf(out,
                                "cutover_http_request_duration_seconds_bucket{"
                                "operation=\"%s\",le=\"%g\"} %llu\n",
                                s->op, buckets[b], s->hist[b]);
        rc |= co_buf_printf(out,
                            "cutover_http_request_duration_seconds_bucket{"
                            "operation=\"%s\",le=\"+Inf\"} %llu\n"
                            "cutover_http_request_duration_seconds_sum{"
                            "operation=\"%s\"} %.6f\n"
                            "cutover_http_request_duration_seconds_count{"
                            "operation=\"%s\"} %llu\n",
                            s->op, s->count, s->op, s->sum, s->op, s->count);
    }
    pthread_mutex_unlock(&m->mu);
    return rc == CO_OK ? CO_OK : CO_ERR_NOMEM;
}

co_status co_metrics_render_runner(const co_runner_counters *c, co_buf *out)
{
    co_status rc = co_buf_printf(out, "# HELP cutover_step_attempts_total Step function "
                                      "calls by verdict.\n"
                                      "# TYPE cutover_step_attempts_total counter\n");
    for (int k = CO_VERDICT_NONE + 1; k < CO_VERDICT_LAST && rc == CO_OK; k++)
        rc = co_buf_printf(out, "cutover_step_attempts_total{verdict=\"%s\"} %llu\n",
                           co_verdict_name((co_verdict_kind)k), c->verdicts[k]);
    if (rc == CO_OK)
        rc = co_buf_printf(out, "# HELP cutover_step_retries_total Step attempts that "
                                "asked for a retry.\n"
                                "# TYPE cutover_step_retries_total counter\n"
                                "cutover_step_retries_total %llu\n"
                                "# HELP cutover_step_attempt_duration_seconds Time of one "
                                "step attempt.\n"
                                "# TYPE cutover_step_attempt_duration_seconds histogram\n",
                           c->verdicts[CO_VERDICT_RETRY]);
    for (size_t b = 0; b < c->ndur && rc == CO_OK; b++)
        rc = co_buf_printf(out, "cutover_step_attempt_duration_seconds_bucket{le=\"%g\"} %llu\n",
                           c->dur_buckets[b], c->dur_hist[b]);
    if (rc == CO_OK)
        rc = co_buf_printf(out,
                           "cutover_step_attempt_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                           "cutover_step_attempt_duration_seconds_sum %.3f\n"
                           "cutover_step_attempt_duration_seconds_count %llu\n",
                           c->dur_count, (double)c->dur_sum_ms / 1000.0, c->dur_count);
    return rc;
}

co_status co_metrics_render_gauges(co_buf *out, const char *name, const char *help,
                                   const char *label, const char *const *values_of,
                                   const int64_t *values, size_t n)
{
    co_status rc = co_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (size_t i = 0; i < n && rc == CO_OK; i++)
        rc = co_buf_printf(out, "%s{%s=\"%s\"} %lld\n", name, label, values_of[i],
                           (long long)values[i]);
    return rc;
}

co_status co_metrics_render_dms(const co_dms_counters *c, co_buf *out)
{
    co_status rc;
    rc = co_buf_printf(out, "# HELP cutover_dms_requests_total DMS API HTTP requests by "
                            "operation and outcome.\n"
                            "# TYPE cutover_dms_requests_total counter\n");
    for (size_t i = 0; rc == CO_OK && i < CO_DMS_METRIC_OPS; i++)
        for (int o = 0; rc == CO_OK && o < CO_DMS_OUTCOMES; o++)
            if (c->requests[i][o])
                rc = co_buf_printf(out,
                                   "cutover_dms_requests_total{operation=\"%s\","
                                   "outcome=\"%s\"} %llu\n",
                                   c->ops[i], c->outcomes[o], c->requests[i][o]);
    if (rc == CO_OK)
        rc = co_buf_printf(out, "# HELP cutover_dms_retries_total DMS API requests "
                                "retried inside a call (throttling, 5xx, network).\n"
                                "# TYPE cutover_dms_retries_total counter\n");
    for (size_t i = 0; rc == CO_OK && i < CO_DMS_METRIC_OPS; i++)
        if (c->retries[i])
            rc = co_buf_printf(out, "cutover_dms_retries_total{operation=\"%s\"} %llu\n",
                               c->ops[i], c->retries[i]);
    return rc;
}
