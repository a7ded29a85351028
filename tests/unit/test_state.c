/* test_state.c - run and step state machines: every legal and illegal
 * transition, names, the backoff schedule's bounds, plan table agreement. */
#include <string.h>

#include "engine/plans.h"
#include "core/state.h"
#include "tests/unit/tap.h"

/* The expected legal run transitions, written out independently of the
 * tables in core/state.c. */
static const char *const legal_runs[][2] = {
    {"pending", "running"},           {"pending", "paused"},
    {"pending", "cancelled"},         {"pending", "failed"},
    {"running", "paused"},            {"running", "awaiting_approval"},
    {"running", "succeeded"},         {"running", "failed"},
    {"running", "cancelled"},         {"paused", "running"},
    {"paused", "cancelled"},          {"paused", "awaiting_approval"},
    {"awaiting_approval", "running"},
    {"awaiting_approval", "paused"},  {"awaiting_approval", "cancelled"},
    {"awaiting_approval", "failed"},  {"failed", "running"},
    {"failed", "cancelled"},
};

static const char *const legal_steps[][2] = {
    {"pending", "running"},           {"pending", "skipped"},
    {"pending", "awaiting_approval"}, {"pending", "succeeded"},
    {"pending", "failed"},            {"pending", "waiting"},
    {"running", "waiting"},           {"running", "awaiting_approval"},
    {"running", "succeeded"},         {"running", "failed"},
    {"waiting", "running"},           {"waiting", "awaiting_approval"},
    {"waiting", "succeeded"},         {"waiting", "failed"},
    {"awaiting_approval", "succeeded"}, {"awaiting_approval", "failed"},
    {"failed", "pending"},
};

static int listed(const char *const (*list)[2], size_t n, const char *from, const char *to)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i][0], from) == 0 && strcmp(list[i][1], to) == 0)
            return 1;
    return 0;
}

static void run_transitions(void)
{
    size_t n = sizeof legal_runs / sizeof legal_runs[0];
    for (int f = 0; f < CO_RUN_STATE_LAST; f++)
        for (int t = 0; t < CO_RUN_STATE_LAST; t++) {
            const char *from = co_run_state_name((co_run_state)f);
            const char *to = co_run_state_name((co_run_state)t);
            int want = listed(legal_runs, n, from, to);
            CHECK(co_run_transition_ok((co_run_state)f, (co_run_state)t) == want,
                  "run %s -> %s should be %s", from, to, want ? "legal" : "illegal");
        }
    CHECK(!co_run_transition_ok(CO_RUN_STATE_LAST, CO_RUN_RUNNING), "out of range from");
    CHECK(!co_run_transition_ok(CO_RUN_RUNNING, CO_RUN_STATE_LAST), "out of range to");
    CHECK(co_run_state_final(CO_RUN_SUCCEEDED) && co_run_state_final(CO_RUN_FAILED) &&
              co_run_state_final(CO_RUN_CANCELLED),
          "final states");
    CHECK(!co_run_state_final(CO_RUN_PAUSED) && !co_run_state_final(CO_RUN_RUNNING),
          "non-final states");
}

static void step_transitions(void)
{
    size_t n = sizeof legal_steps / sizeof legal_steps[0];
    for (int f = 0; f < CO_STEP_STATE_LAST; f++)
        for (int t = 0; t < CO_STEP_STATE_LAST; t++) {
            const char *from = co_step_state_name((co_step_state)f);
            const char *to = co_step_state_name((co_step_state)t);
            int want = listed(legal_steps, n, from, to);
            CHECK(co_step_transition_ok((co_step_state)f, (co_step_state)t) == want,
                  "step %s -> %s should be %s", from, to, want ? "legal" : "illegal");
        }
}

static void names(void)
{
    for (int s = 0; s < CO_RUN_STATE_LAST; s++)
        CHECK(co_run_state_parse(co_run_state_name((co_run_state)s)) == (co_run_state)s,
              "run state %d round-trips", s);
    for (int s = 0; s < CO_STEP_STATE_LAST; s++)
        CHECK(co_step_state_parse(co_step_state_name((co_step_state)s)) == (co_step_state)s,
              "step state %d round-trips", s);
    CHECK(co_run_state_parse("nope") == CO_RUN_STATE_LAST, "unknown run state");
    CHECK(co_step_state_parse(NULL) == CO_STEP_STATE_LAST, "NULL step state");
    CHECK(strcmp(co_run_state_name(CO_RUN_STATE_LAST), "unknown") == 0, "unknown name");
    CHECK(strcmp(co_verdict_name(CO_VERDICT_RETRY), "retry") == 0, "verdict name");
}

static void backoff(void)
{
    /* bounds: [d/2, d] with d = min(base * 2^(attempt-1), cap) */
    for (int attempt = 0; attempt <= 40; attempt++) {
        int64_t d = 1000;
        for (int i = 1; i < (attempt < 1 ? 1 : attempt) && d < 60000; i++)
            d *= 2;
        if (d > 60000)
            d = 60000;
        for (double r = 0; r < 1.0; r += 0.125) {
            int64_t got = co_backoff_ms(attempt, 1000, 60000, r);
            CHECK(got >= d / 2 && got <= d, "attempt %d rand %.3f: %lld in [%lld, %lld]",
                  attempt, r, (long long)got, (long long)(d / 2), (long long)d);
        }
    }
    CHECK(co_backoff_ms(1, 1000, 60000, 0.0) == 500, "first retry low end");
    CHECK(co_backoff_ms(1, 1000, 60000, 0.9999999) <= 1000, "first retry high end");
    CHECK(co_backoff_ms(3, 1000, 60000, 0.0) == 2000, "third retry low end");
    CHECK(co_backoff_ms(100, 1000, 60000, 0.5) <= 60000, "cap holds at 100 attempts");
    CHECK(co_backoff_ms(2, 0, 10, -1.0) >= 0, "degenerate inputs stay non-negative");
    CHECK(co_backoff_ms(5, 1000, 60000, 7.0) <= 16000, "rand above 1 is clamped");
}

static void plans_agree(void)
{
    for (int p = 0; p < CO_PLAN_LAST; p++) {
        const co_plan_def *plan = co_plan_get((co_plan_id)p);
        CHECK(plan && plan->nsteps > 0, "plan %d exists", p);
        CHECK(co_plan_find(plan->id) == plan, "plan %s found by id", plan->id);
        for (size_t i = 0; i < plan->nsteps; i++) {
            CHECK(plan->steps[i].id && plan->steps[i].title, "step %zu has id/title", i);
            CHECK(co_plan_step_index(plan, plan->steps[i].id) == (int)i,
                  "%s index round-trips", plan->steps[i].id);
        }
    }
    CHECK(co_plan_get(CO_PLAN_LAST) == NULL, "no plan past the end");
}

int main(void)
{
    run_transitions();
    step_transitions();
    names();
    backoff();
    plans_agree();
    return tap_done();
}
