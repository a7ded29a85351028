/* review.h - raw SQL in a run needs an admin and a review.
 *
 * DESIGN
 * A run parameter that carries SQL run as given (co_params_sql_param:
 * converted_schema_sql) executes on the target with the target endpoint's
 * privileges at convert_schema. Creating such a run needs the admin role;
 * the run gets the SQL as the artifact review_schema.sql (the exact bytes)
 * and its SHA-256 in the artifact.created event, and its review_schema gate
 * step (engine/plans.c) waits until an admin approves it with
 * {"sha256": "<hex of the SQL>"}: the approval names what was read. With
 * --separate-approver, review_schema and cutover_gate must be approved by
 * another token name than the run's creator (four-eyes).
 *
 * THREADS: HTTP pool threads; no state of its own.
 */
#ifndef CUTOVER_HANDLERS_REVIEW_H
#define CUTOVER_HANDLERS_REVIEW_H

#include "engine/plans.h"
#include "events/events.h"
#include "handlers/request.h"
#include "store/runs.h"

/* Refuses a run of plan with params carrying SQL unless req's role is
 * admin. Returns CO_OK or CO_ERR_FORBIDDEN (403) naming the parameter. */
CO_MUST_CHECK co_status co_review_check_create(const co_request *req,
                                               const co_plan_def *plan,
                                               const json_t *params, co_error *err);

/* Inside the open batch b: stores the artifact review_schema.sql of run
 * (plan's SQL parameter, if any) and adds its artifact.created event with
 * "sha256". Does nothing for runs without SQL. Errors: CO_ERR_STORE,
 * CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_review_add_artifact(co_evb *b, co_store *store,
                                               const co_run_row *run,
                                               const co_plan_def *plan,
                                               co_error *err);

/* Checks that req may approve step step_id of run: review_schema needs the
 * admin role (403) and a body {"sha256": "<hex>"} equal to the SHA-256 of
 * the run's SQL (422, field /sha256); with --separate-approver the
 * approver of review_schema and cutover_gate must not be the run's creator
 * (403). Other steps accept an empty body. Returns CO_OK or the error. */
CO_MUST_CHECK co_status co_review_check_approve(const co_request *req,
                                                const co_run_row *run,
                                                const char *step_id, co_error *err);

#endif
