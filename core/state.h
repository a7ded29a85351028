/* state.h - run and step states, their legal transitions, verdicts and the
 * retry backoff schedule. Pure functions: no I/O, no locks.
 *
 * Run states:  pending running paused awaiting_approval succeeded failed
 *              cancelled
 * Step states: pending running waiting awaiting_approval succeeded failed
 *              skipped
 * The tables in state.c are the single source of which transitions are
 * legal; engine/transition.c is the single function that applies one.
 */
#ifndef CUTOVER_CORE_STATE_H
#define CUTOVER_CORE_STATE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum co_run_state {
    CO_RUN_PENDING,
    CO_RUN_RUNNING,
    CO_RUN_PAUSED,
    CO_RUN_AWAITING_APPROVAL,
    CO_RUN_SUCCEEDED,
    CO_RUN_FAILED,
    CO_RUN_CANCELLED,
    CO_RUN_STATE_LAST
} co_run_state;

typedef enum co_step_state {
    CO_STEP_PENDING,
    CO_STEP_RUNNING,
    CO_STEP_WAITING,
    CO_STEP_AWAITING_APPROVAL,
    CO_STEP_SUCCEEDED,
    CO_STEP_FAILED,
    CO_STEP_SKIPPED,
    CO_STEP_STATE_LAST
} co_step_state;

/* What one attempt of a step function concluded. */
typedef enum co_verdict_kind {
    CO_VERDICT_NONE,  /* no verdict was set (a zeroed co_verdict): the runner
                         fails the step, naming it, rather than take it as done */
    CO_VERDICT_DONE,  /* the step is complete */
    CO_VERDICT_WAIT,  /* not yet: poll again after after_ms (e.g. a task loading) */
    CO_VERDICT_GATE,  /* wait for an operator's approval; from a gate's own
                         function with after_ms > 0, also call it again every
                         after_ms while the run awaits the approval (its watch,
                         with ctx->state_before = CO_STEP_AWAITING_APPROVAL) */
    CO_VERDICT_RETRY, /* transient failure: retry after a backoff */
    CO_VERDICT_FAIL,  /* terminal failure: the run fails */
    CO_VERDICT_LAST
} co_verdict_kind;

typedef struct co_verdict {
    co_verdict_kind kind;
    int64_t after_ms;     /* WAIT: poll interval; RETRY: 0 = use the backoff */
    char error[1024];     /* RETRY/FAIL: what went wrong (no secrets) */
    char sqlstate[6];     /* PostgreSQL SQLSTATE if the error came from it */
} co_verdict;

/* Names ("running", ...) — static; "unknown" out of range. */
const char *co_run_state_name(co_run_state s);
const char *co_step_state_name(co_step_state s);
const char *co_verdict_name(co_verdict_kind k);

/* Parses a state name; returns the LAST sentinel for unknown names. */
co_run_state co_run_state_parse(const char *name);
co_step_state co_step_state_parse(const char *name);

/* True if a run (step) may go from one state to the other. Staying in the
 * same state is not a transition and is never "legal" here. */
bool co_run_transition_ok(co_run_state from, co_run_state to);
bool co_step_transition_ok(co_step_state from, co_step_state to);

/* True for succeeded, failed and cancelled runs (no worker touches them). */
bool co_run_state_final(co_run_state s);

/* Retry delay in ms before attempt number `attempt` (1 = first retry):
 * exponential base_ms * 2^(attempt-1), capped at cap_ms, with "equal
 * jitter": the result lies in [d/2, d] where d is the capped delay, chosen
 * by rand01 in [0, 1). Never negative; attempt < 1 counts as 1. */
int64_t co_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double rand01);

/* Fills a verdict. error may be NULL. */
void co_verdict_set(co_verdict *v, co_verdict_kind kind, int64_t after_ms,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The one error -> verdict mapping (PostgreSQL work and DMS calls alike):
 * RETRY (the runner's backoff) for CO_ERR_TRANSIENT, FAIL otherwise, with
 * "<what>: <err message>" and err's SQLSTATE. err->status must be set (it
 * is whenever a co_error_set/co_error_field recorded the failure). */
struct co_error;
void co_verdict_from_error(co_verdict *v, const char *what, const struct co_error *err);

#endif
