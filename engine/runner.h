/* runner.h - the plan runner: a pool of worker threads advancing runs.
 *
 * DESIGN
 * Each worker loops: claim the most overdue runnable step with a lease in
 * SQLite (store/runs.h co_runs_claim), run one bounded attempt of its step
 * function, and record the verdict through co_transition(). With nothing
 * due, a worker waits on a condition variable until the next step's due
 * time or until co_runner_wake() (a new run, a resume, an approval). A
 * worker never sleeps waiting on a remote system: a step that must wait
 * returns WAIT(after_ms) and frees the worker.
 *
 * Leases carry a boot id: at start-up every lease of an earlier process is
 * expired at once, so a killed daemon resumes every run where it stood.
 * Because a step may have done part of its work before a crash, step
 * functions are idempotent.
 *
 * THREADS: mu/cv guard stop and the wake generation; metrics counters are
 * atomics.
 */
#ifndef CUTOVER_ENGINE_RUNNER_H
#define CUTOVER_ENGINE_RUNNER_H

#include "engine/app.h"
#include "core/buf.h"
#include "core/state.h"

typedef struct co_runner co_runner;

/* Starts n worker threads for app. *out is freed by co_runner_stop.
 * Errors: CO_ERR_NOMEM, CO_ERR_INTERNAL (thread creation). */
CO_MUST_CHECK co_status co_runner_start(co_app *app, int n, co_runner **out, co_error *err);

/* Wakes idle workers to look for due steps. NULL-safe; any thread. */
void co_runner_wake(co_runner *r);

/* Asks workers to stop after their current attempt and joins them.
 * NULL-safe. */
void co_runner_stop(co_runner *r);

/* A snapshot of the runner's counters (server/metrics.c renders them). */
#define CO_RUNNER_MAX_BUCKETS 16
typedef struct co_runner_counters {
    unsigned long long verdicts[CO_VERDICT_LAST]; /* step attempts by verdict */
    const double *dur_buckets;  /* upper bounds in seconds, static, ndur of them */
    size_t ndur;
    unsigned long long dur_hist[CO_RUNNER_MAX_BUCKETS]; /* cumulative per bound */
    unsigned long long dur_count;  /* attempts timed */
    unsigned long long dur_sum_ms; /* their total time, milliseconds */
} co_runner_counters;

/* Fills *out with the current counters (all zero when r is NULL). Reads
 * atomics; any thread. */
void co_runner_counters_read(co_runner *r, co_runner_counters *out);

#endif
