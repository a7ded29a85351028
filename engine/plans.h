/* plans.h - the static plan tables: which steps a run goes through.
 *
 * A plan is an enum of its steps plus a table indexed by that enum, with a
 * _Static_assert that they agree. The runner executes steps in table order;
 * the API (GET /v1/plans) serves the same tables.
 *
 * oracle-to-postgres follows AWS's eight-step Oracle to PostgreSQL guide:
 * each step records which of the eight AWS steps it belongs to. Steps 7 and
 * 8 have sub-steps. view-migration is the two-stage view migration.
 */
#ifndef CUTOVER_ENGINE_PLANS_H
#define CUTOVER_ENGINE_PLANS_H

#include <stdbool.h>
#include <stddef.h>

struct co_step_ctx;
struct co_verdict;

/* A step function runs one bounded unit of work of a step and returns a
 * verdict (engine/runner.h). NULL in a table means "nothing to do here
 * yet" and is treated as DONE. */
typedef void (*co_step_fn)(struct co_step_ctx *ctx, struct co_verdict *out);

typedef struct co_step_def {
    const char *id;            /* stable step id, e.g. "prepare_target" */
    const char *title;
    int aws_step;              /* 1..8 for oracle-to-postgres, 0 otherwise */
    bool gate;                 /* always waits for an operator's approval */
    const char *optional_param;/* run parameter that enables an optional
                                * step (true, or a non-empty string), or
                                * "" if always run */
    const char *system;        /* where it acts: "cutover", "source",
                                * "target", "engine", "operator" */
    co_step_fn fn;             /* the step function (engine/steps.h) */
    const char *description;
} co_step_def;

typedef enum co_plan_id {
    CO_PLAN_ORACLE_TO_POSTGRES,
    CO_PLAN_VIEW_MIGRATION,
    CO_PLAN_LAST
} co_plan_id;

typedef struct co_plan_def {
    const char *id;            /* "oracle-to-postgres" | "view-migration" */
    const char *title;
    const co_step_def *steps;
    size_t nsteps;
} co_plan_def;

/* The plan table entry for id (static). */
const co_plan_def *co_plan_get(co_plan_id id);

/* Looks a plan up by its string id; NULL if unknown. */
const co_plan_def *co_plan_find(const char *id);

/* Index of step_id in plan, or -1. */
int co_plan_step_index(const co_plan_def *plan, const char *step_id);

/* The step function of step index of plan (NULL for pure gates). */
co_step_fn co_plan_step_fn(const co_plan_def *plan, size_t index);

#endif
