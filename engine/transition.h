/* transition.h - the one function that changes a run's or a step's state.
 *
 * co_transition() applies one change in one SQLite transaction: it checks
 * the current states against the legal-transition tables (core/state.c),
 * writes the run and step rows, appends an event per state change
 * (run.state, step.state, plus any extra event given), commits, publishes
 * the events to SSE subscribers and logs old -> new. Callers (the runner's
 * verdicts and the run API's actions) only describe what they want.
 */
#ifndef CUTOVER_ENGINE_TRANSITION_H
#define CUTOVER_ENGINE_TRANSITION_H

#include <jansson.h>

#include "core/state.h"
#include "engine/app.h"
#include "store/runs.h"

typedef enum co_action {
    CO_ACT_START_STEP,   /* runner claimed a pending step: step running, run running */
    CO_ACT_VERDICT,      /* runner records a verdict (see co_change.verdict) */
    CO_ACT_PAUSE,        /* API: pause the run */
    CO_ACT_RESUME,       /* API: resume a paused run */
    CO_ACT_CANCEL,       /* API: cancel the run */
    CO_ACT_APPROVE,      /* API: approve the gate step */
    CO_ACT_RETRY_STEP,   /* API: retry the failed step */
    CO_ACT_LAST
} co_action;

typedef struct co_change {
    co_action action;
    int step_index;              /* the step acted on */
    const co_verdict *verdict;   /* CO_ACT_VERDICT */
    json_t *outputs;             /* step outputs to persist (borrowed) or NULL */
    int64_t backoff_ms;          /* CO_ACT_VERDICT with RETRY: delay chosen */
    int max_attempts;            /* CO_ACT_VERDICT with RETRY: fail beyond */
    const char *actor;           /* who asked (API actions) */
} co_change;

/* Applies c to run run_id. On an illegal transition returns
 * CO_ERR_CONFLICT with the current run and step states in err and, when
 * state_out is not NULL, a new JSON object {"state": ..., "step_state":
 * ...} in *state_out for the problem response. Errors: CO_ERR_NOT_FOUND,
 * CO_ERR_CONFLICT, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_transition(co_app *app, const char *run_id,
                                      const co_change *c, json_t **state_out,
                                      co_error *err);

#endif
