/* test_plans.c - engine/plans: the static plan tables. */
#include <string.h>

#include "engine/plans.h"
#include "tests/unit/tap.h"

static const char *const systems[] = {"cutover", "source", "target", "engine",
                                      "operator", NULL};

static bool known_system(const char *s)
{
    for (const char *const *p = systems; s && *p; p++)
        if (strcmp(*p, s) == 0)
            return true;
    return false;
}

/* Checks what every plan must satisfy. */
static void check_common(const co_plan_def *plan)
{
    size_t dups = 0, incomplete = 0, bad_system = 0, bad_index = 0;

    CHECK(plan->title && plan->title[0], "%s has a title", plan->id);
    CHECK(plan->steps != NULL && plan->nsteps > 0, "%s has steps", plan->id);
    for (size_t i = 0; i < plan->nsteps; i++) {
        const co_step_def *s = &plan->steps[i];
        if (!s->id || !s->id[0] || !s->title || !s->title[0] || !s->description ||
            !s->description[0]) {
            incomplete++;
            continue;
        }
        if (!known_system(s->system)) {
            CHECK(false, "%s/%s: system '%s' is one of the documented ones", plan->id,
                  s->id, s->system ? s->system : "(null)");
            bad_system++;
        }
        for (size_t j = i + 1; j < plan->nsteps; j++)
            if (plan->steps[j].id && strcmp(s->id, plan->steps[j].id) == 0) {
                CHECK(false, "%s: step id %s appears at %zu and %zu", plan->id, s->id,
                      i, j);
                dups++;
            }
        if (co_plan_step_index(plan, s->id) != (int)i)
            bad_index++;
        CHECK(s->optional_param != NULL,
              "%s/%s: optional_param is \"\" or a name", plan->id, s->id);
    }
    CHECK(incomplete == 0, "%s: every step has id, title and description (%zu do not)",
          plan->id, incomplete);
    CHECK(dups == 0, "%s: step ids are unique", plan->id);
    CHECK(bad_system == 0, "%s: every step names its system", plan->id);
    CHECK(bad_index == 0, "%s: co_plan_step_index(step id) round-trips for every step",
          plan->id);
    CHECK(co_plan_step_index(plan, "no_such_step") == -1, "%s: unknown step is -1",
          plan->id);
    CHECK(co_plan_step_index(plan, "") == -1, "%s: empty step id is -1", plan->id);
}

static const co_step_def *step(const co_plan_def *plan, const char *id)
{
    int i = co_plan_step_index(plan, id);
    return i < 0 ? NULL : &plan->steps[i];
}

static void test_lookup(void)
{
    const co_plan_def *o2p = co_plan_get(CO_PLAN_ORACLE_TO_POSTGRES);
    const co_plan_def *view = co_plan_get(CO_PLAN_VIEW_MIGRATION);

    CHECK(o2p && strcmp(o2p->id, "oracle-to-postgres") == 0,
          "co_plan_get(CO_PLAN_ORACLE_TO_POSTGRES) is oracle-to-postgres");
    CHECK(view && strcmp(view->id, "view-migration") == 0,
          "co_plan_get(CO_PLAN_VIEW_MIGRATION) is view-migration");
    CHECK(co_plan_find("oracle-to-postgres") == o2p, "find oracle-to-postgres by id");
    CHECK(co_plan_find("view-migration") == view, "find view-migration by id");
    CHECK(co_plan_find("postgres-to-oracle") == NULL, "unknown plan is NULL");
    CHECK(co_plan_find("Oracle-To-Postgres") == NULL, "plan ids are case-sensitive");
    CHECK(co_plan_find("oracle-to-postgres ") == NULL, "no trailing-space match");
    CHECK(co_plan_find("") == NULL, "empty plan id is NULL");
    CHECK(co_plan_find(NULL) == NULL, "NULL plan id is NULL");
    CHECK(co_plan_get(CO_PLAN_LAST) == NULL, "co_plan_get(CO_PLAN_LAST) is NULL");
    CHECK(co_plan_get((co_plan_id)-1) == NULL, "co_plan_get(-1) is NULL");
    for (int i = 0; i < CO_PLAN_LAST; i++) {
        const co_plan_def *p = co_plan_get((co_plan_id)i);
        CHECK(p && co_plan_find(p->id) == p, "plan %d found again by its id", i);
        if (p)
            check_common(p);
    }
}

static void test_oracle_to_postgres(void)
{
    const co_plan_def *p = co_plan_find("oracle-to-postgres");
    bool seen[9] = {false};
    int prev = 1;
    size_t decreasing = 0, out_of_range = 0, gates = 0;
    const co_step_def *s;

    if (!CHECK(p != NULL, "oracle-to-postgres exists"))
        return;
    CHECK(p->nsteps == 18, "oracle-to-postgres has 18 steps (%zu)", p->nsteps);
    for (size_t i = 0; i < p->nsteps; i++) {
        int a = p->steps[i].aws_step;
        if (a < 1 || a > 8) {
            out_of_range++;
            continue;
        }
        if (a < prev)
            decreasing++;
        prev = a;
        seen[a] = true;
        if (p->steps[i].gate)
            gates++;
    }
    CHECK(out_of_range == 0, "every aws_step is within 1..8");
    CHECK(decreasing == 0, "aws_step never decreases along the plan");
    for (int a = 1; a <= 8; a++)
        CHECK(seen[a], "AWS step %d is covered", a);
    CHECK(p->steps[0].aws_step == 1 && p->steps[p->nsteps - 1].aws_step == 8,
          "the plan starts at AWS step 1 and ends at step 8");

    s = step(p, "cutover_gate");
    CHECK(s && s->gate, "cutover_gate is a gate");
    CHECK(s && s->aws_step == 8, "cutover_gate belongs to AWS step 8");
    CHECK(s && strcmp(s->system, "operator") == 0, "cutover_gate is the operator's");
    CHECK(s && s->optional_param[0] == 0, "cutover_gate is not optional");
    CHECK(gates == 2, "cutover_gate and review_schema are the gates (%zu)", gates);

    s = step(p, "review_schema");
    CHECK(s && s->gate, "review_schema is a gate");
    CHECK(s && s->optional_param &&
              strcmp(s->optional_param, "converted_schema_sql") == 0,
          "review_schema is enabled by converted_schema_sql");
    CHECK(s && co_plan_step_index(p, "review_schema") + 1 ==
                   co_plan_step_index(p, "convert_schema"),
          "review_schema comes right before convert_schema");

    s = step(p, "rollback_task");
    CHECK(s && s->optional_param && strcmp(s->optional_param, "rollback_task") == 0,
          "rollback_task is enabled by the rollback_task parameter");
    CHECK(s && co_plan_step_index(p, "rollback_task") == (int)p->nsteps - 1,
          "rollback_task is the last step");
    for (size_t i = 0; i < p->nsteps; i++)
        if (strcmp(p->steps[i].id, "rollback_task") != 0 &&
            strcmp(p->steps[i].id, "review_schema") != 0)
            CHECK(p->steps[i].optional_param[0] == 0, "%s always runs", p->steps[i].id);

    {
        /* the documented order of the main milestones */
        static const char *const order[] = {"preflight", "configure_source",
                                            "configure_target", "convert_schema",
                                            "create_replication_instance",
                                            "create_endpoints", "prepare_target",
                                            "full_load", "restore_constraints",
                                            "resume_cdc", "await_cdc_sync",
                                            "cutover_gate", "final_sync", "stop_task",
                                            NULL};
        int last = -1;
        for (const char *const *o = order; *o; o++) {
            int i = co_plan_step_index(p, *o);
            CHECK(i > last, "%s comes after the previous milestone (%d > %d)", *o, i,
                  last);
            last = i;
        }
        CHECK(co_plan_step_index(p, "prepare_target") <
                  co_plan_step_index(p, "full_load") &&
              co_plan_step_index(p, "full_load") <
                  co_plan_step_index(p, "restore_constraints"),
              "constraints are dropped before and restored after the full load");
        CHECK(step(p, "full_load") && step(p, "full_load")->aws_step == 7,
              "full_load is a sub-step of AWS step 7");
    }
}

static void test_view_migration(void)
{
    const co_plan_def *p = co_plan_find("view-migration");
    const co_step_def *s;

    if (!CHECK(p != NULL, "view-migration exists"))
        return;
    CHECK(p->nsteps == 8, "view-migration has 8 steps (%zu)", p->nsteps);
    for (size_t i = 0; i < p->nsteps; i++) {
        CHECK(p->steps[i].aws_step == 0, "view-migration/%s has aws_step 0",
              p->steps[i].id);
        CHECK(!p->steps[i].gate, "view-migration/%s is not a gate", p->steps[i].id);
    }
    s = step(p, "ongoing_sync");
    CHECK(s && s->optional_param && strcmp(s->optional_param, "ongoing_sync") == 0,
          "ongoing_sync is enabled by the ongoing_sync parameter");
    for (size_t i = 0; i < p->nsteps; i++)
        if (strcmp(p->steps[i].id, "ongoing_sync") != 0)
            CHECK(p->steps[i].optional_param[0] == 0, "%s always runs", p->steps[i].id);
    CHECK(co_plan_step_index(p, "configure_source") == 0,
          "configure_source (a conditional gate: Oracle on aws-dms) comes first");
    CHECK(co_plan_step_index(p, "stage_load") == 1, "stage_load follows it");
    CHECK(co_plan_step_index(p, "validate") == (int)p->nsteps - 1, "validate comes last");
    CHECK(co_plan_step_index(p, "create_view") < co_plan_step_index(p, "create_final_table"),
          "the view exists before the final table is shaped from it");
    CHECK(co_plan_step_index(p, "cutover_gate") == -1,
          "steps of the other plan are not found here");
}

int main(void)
{
    test_lookup();
    test_oracle_to_postgres();
    test_view_migration();
    return tap_done();
}
