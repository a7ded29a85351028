/* params.h - validation of a run's parameters against its plan.
 *
 * Each plan has a table of parameters (name, JSON type, required,
 * default, description). co_params_validate() rejects unknown members,
 * checks types and ranges, fills defaults into the object, and checks that
 * referenced endpoints exist in the project with the right role. Field
 * errors point at "/parameters/<name>".
 */
#ifndef CUTOVER_ENGINE_PARAMS_H
#define CUTOVER_ENGINE_PARAMS_H

#include <jansson.h>

#include "engine/plans.h"
#include "store/db.h"

/* The name of the first parameter in params that carries SQL run as given
 * (converted_schema_sql), or NULL. Static string. Creating such a run needs
 * the admin role, and its plan's review_schema gate needs an admin's
 * approval of the SQL's SHA-256 (handlers/runs.c). */
const char *co_params_sql_param(const co_plan_def *plan, const json_t *params);

/* Validates params (modified in place: defaults added) for plan and
 * engine_name within project_id. Returns err's status. */
co_status co_params_validate(co_store *store, const co_plan_def *plan,
                             const char *engine_name, const char *project_id,
                             json_t *params, co_error *err);

/* The parameter table of plan as JSON [{name, type, required, default,
 * description}] (new reference), for GET /v1/plans. */
json_t *co_params_describe(const co_plan_def *plan);

#endif
