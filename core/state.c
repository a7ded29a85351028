/* state.c - see state.h. */
#include "core/state.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"

/* Checks at compile time that the name table names has one entry per value
 * of its enum, of which there are last. */
#define NAMES_COVER(names, last)                                              \
    _Static_assert(sizeof names / sizeof names[0] == (last), #names " must cover " #last)

static const char *const run_names[] = {
    [CO_RUN_PENDING] = "pending", [CO_RUN_RUNNING] = "running", [CO_RUN_PAUSED] = "paused",
    [CO_RUN_AWAITING_APPROVAL] = "awaiting_approval", [CO_RUN_SUCCEEDED] = "succeeded",
    [CO_RUN_FAILED] = "failed", [CO_RUN_CANCELLED] = "cancelled",
};
NAMES_COVER(run_names, CO_RUN_STATE_LAST);

static const char *const step_names[] = {
    [CO_STEP_PENDING] = "pending", [CO_STEP_RUNNING] = "running", [CO_STEP_WAITING] = "waiting",
    [CO_STEP_AWAITING_APPROVAL] = "awaiting_approval", [CO_STEP_SUCCEEDED] = "succeeded",
    [CO_STEP_FAILED] = "failed", [CO_STEP_SKIPPED] = "skipped",
};
NAMES_COVER(step_names, CO_STEP_STATE_LAST);

static const char *const verdict_names[] = {"none", "done", "wait", "gate", "retry", "fail"};
NAMES_COVER(verdict_names, CO_VERDICT_LAST);
#undef NAMES_COVER

#define R(x) (1u << CO_RUN_##x)
/* run_next[from] = set of states reachable in one transition */
static const unsigned run_next[CO_RUN_STATE_LAST] = {
    [CO_RUN_PENDING] = R(RUNNING) | R(PAUSED) | R(CANCELLED) | R(FAILED),
    [CO_RUN_RUNNING] = R(PAUSED) | R(AWAITING_APPROVAL) | R(SUCCEEDED) | R(FAILED) |
                       R(CANCELLED),
    [CO_RUN_PAUSED] = R(RUNNING) | R(AWAITING_APPROVAL) | R(CANCELLED),
    [CO_RUN_AWAITING_APPROVAL] = R(RUNNING) | R(PAUSED) | R(CANCELLED) | R(FAILED),
    [CO_RUN_SUCCEEDED] = 0,
    [CO_RUN_FAILED] = R(RUNNING) | R(CANCELLED),
    [CO_RUN_CANCELLED] = 0,
};
#undef R

#define S(x) (1u << CO_STEP_##x)
static const unsigned step_next[CO_STEP_STATE_LAST] = {
    [CO_STEP_PENDING] = S(RUNNING) | S(SKIPPED) | S(AWAITING_APPROVAL) | S(SUCCEEDED) |
                        S(FAILED) | S(WAITING),
    [CO_STEP_RUNNING] = S(WAITING) | S(AWAITING_APPROVAL) | S(SUCCEEDED) | S(FAILED),
    [CO_STEP_WAITING] = S(RUNNING) | S(AWAITING_APPROVAL) | S(SUCCEEDED) | S(FAILED),
    [CO_STEP_AWAITING_APPROVAL] = S(SUCCEEDED) | S(FAILED),
    [CO_STEP_SUCCEEDED] = 0,
    [CO_STEP_FAILED] = S(PENDING),
    [CO_STEP_SKIPPED] = 0,
};
#undef S

const char *co_run_state_name(co_run_state s)
{
    return (unsigned)s < CO_RUN_STATE_LAST ? run_names[s] : "unknown";
}

const char *co_step_state_name(co_step_state s)
{
    return (unsigned)s < CO_STEP_STATE_LAST ? step_names[s] : "unknown";
}

const char *co_verdict_name(co_verdict_kind k)
{
    return (unsigned)k < CO_VERDICT_LAST ? verdict_names[k] : "unknown";
}

co_run_state co_run_state_parse(const char *name)
{
    for (int i = 0; i < CO_RUN_STATE_LAST; i++)
        if (name && strcmp(name, run_names[i]) == 0)
            return (co_run_state)i;
    return CO_RUN_STATE_LAST;
}

co_step_state co_step_state_parse(const char *name)
{
    for (int i = 0; i < CO_STEP_STATE_LAST; i++)
        if (name && strcmp(name, step_names[i]) == 0)
            return (co_step_state)i;
    return CO_STEP_STATE_LAST;
}

bool co_run_transition_ok(co_run_state from, co_run_state to)
{
    if ((unsigned)from >= CO_RUN_STATE_LAST || (unsigned)to >= CO_RUN_STATE_LAST)
        return false;
    return (run_next[from] >> to) & 1u;
}

bool co_step_transition_ok(co_step_state from, co_step_state to)
{
    if ((unsigned)from >= CO_STEP_STATE_LAST || (unsigned)to >= CO_STEP_STATE_LAST)
        return false;
    return (step_next[from] >> to) & 1u;
}

bool co_run_state_final(co_run_state s)
{
    return s == CO_RUN_SUCCEEDED || s == CO_RUN_FAILED || s == CO_RUN_CANCELLED;
}

int64_t co_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double rand01)
{
    int64_t d = base_ms > 0 ? base_ms : 1;
    if (attempt < 1)
        attempt = 1;
    for (int i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    if (rand01 < 0)
        rand01 = 0;
    if (rand01 >= 1)
        rand01 = 0.999999;
    return d / 2 + (int64_t)((double)(d - d / 2) * rand01);
}

void co_verdict_set(co_verdict *v, co_verdict_kind kind, int64_t after_ms,
                    const char *fmt, ...)
{
    va_list ap;
    v->kind = kind;
    v->after_ms = after_ms;
    v->error[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(v->error, sizeof v->error, fmt, ap);
        va_end(ap);
    }
}

void co_verdict_from_error(co_verdict *v, const char *what, const co_error *err)
{
    co_verdict_set(v, err->status == CO_ERR_TRANSIENT ? CO_VERDICT_RETRY : CO_VERDICT_FAIL,
                   0, "%s: %s", what, err->message[0] ? err->message : co_status_str(err->status));
    snprintf(v->sqlstate, sizeof v->sqlstate, "%s", err->sqlstate);
}
