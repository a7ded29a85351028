/* awsdms_int.h - what engine/awsdms.c (client, instance, endpoints) and
 * engine/awsdms_task.c (tasks) share. Not a public interface: the engine's
 * callers use engine/awsdms.h. Every function runs on a runner worker.
 */
#ifndef CUTOVER_ENGINE_AWSDMS_INT_H
#define CUTOVER_ENGINE_AWSDMS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/dms.h"
#include "engine/awsdms.h"
#include "engine/step.h"

#define AWSDMS_ID_MAX 256

/* Poll intervals before CUTOVER_DMS_POLL_SCALE, in ms. */
#define AWSDMS_POLL_INSTANCE_MS 10000
#define AWSDMS_POLL_CONNECTION_MS 3000
#define AWSDMS_POLL_TASK_MS 3000
#define AWSDMS_POLL_LOAD_MS 5000
#define AWSDMS_POLL_SHORT_MS 1000

/* The shared client, created from ctx->app on first use. Returns NULL with
 * v set (FAIL: no credentials provider or a bad endpoint URL). */
co_dms_client *awsdms_client(co_step_ctx *ctx, co_verdict *v);

/* base_ms scaled by CUTOVER_DMS_POLL_SCALE (at least 10 ms). */
int64_t awsdms_poll_ms(int64_t base_ms);

/* Calls op with input (stolen; NULL = {}) and wipes a Password member in it
 * before freeing it. As co_dms_call otherwise. */
co_status awsdms_call(co_dms_client *cli, const char *op, json_t *input,
                      co_dms_result *res, co_error *err);

/* RETRY (runner backoff) for CO_ERR_TRANSIENT, FAIL otherwise, with
 * "<what>: <err message>". */
void awsdms_verdict_error(co_verdict *v, const char *what, co_status rc,
                          const co_error *err);

/* {"Filters": [{"Name": name, "Values": [value]}]} (new reference). */
json_t *awsdms_filter(const char *name, const char *value);

/* The deterministic identifier "cutover-<run suffix>[-<role>]" (max_len 63
 * for instances, 255 otherwise) into out[AWSDMS_ID_MAX]. */
co_status awsdms_ident(const co_step_ctx *ctx, const char *role, size_t max_len,
                       char out[AWSDMS_ID_MAX], co_error *err);

/* String output key: this step's outputs first, then any step's in
 * all_outputs. Borrowed, NULL if absent. */
const char *awsdms_output(const co_step_ctx *ctx, const char *key);

/* Sets (value non-NULL) or removes string output key of this step. */
void awsdms_set_output(co_step_ctx *ctx, const char *key, const char *value);

/* Boolean output key of this step (absent = false) and its setter. */
bool awsdms_flag(const co_step_ctx *ctx, const char *key);
void awsdms_set_flag(co_step_ctx *ctx, const char *key, bool on);

/* Publishes "engine.status" when (status, reason) of resource/role differs
 * from the last one recorded in the outputs, and records it. Best effort
 * (a failed publish is logged). */
void awsdms_note_status(co_step_ctx *ctx, const char *resource, const char *role,
                        const char *status, const char *reason);

/* Copies what DMS answered with its timestamps (members ending in "Time"
 * or "Date" holding epoch seconds) turned into RFC 3339 strings. New
 * reference (NULL stays NULL). */
json_t *awsdms_normalize_times(const json_t *v);

/* ARN of the run's replication instance: from the outputs, else described
 * by identifier (and then recorded). false with v set when it does not
 * exist (FAIL) or DMS failed. */
bool awsdms_instance_arn(co_step_ctx *ctx, co_dms_client *cli, char *out, size_t size,
                         co_verdict *v);

/* Ensures the endpoint pair exists and its connection tests passed:
 * forward (the run's source and target) or reverse (rollback direction);
 * with refresh, also refreshes the source's schemas. true when all is done
 * (v untouched); false with v set (WAIT, RETRY, FAIL). */
bool awsdms_pair_ready(co_step_ctx *ctx, co_dms_client *cli, bool reverse, bool refresh,
                       co_verdict *v);

/* Task operations (awsdms_task.c), as engine.h describes them. */
void awsdms_ensure_task(co_step_ctx *ctx, const char *role, co_verdict *v);
void awsdms_start_task(co_step_ctx *ctx, const char *role, co_task_start kind,
                       co_verdict *v);
void awsdms_await_full_load(co_step_ctx *ctx, const char *role, co_verdict *v);
void awsdms_await_cdc_latency(co_step_ctx *ctx, const char *role, double max_seconds,
                              co_verdict *v);
void awsdms_stop_task(co_step_ctx *ctx, const char *role, co_verdict *v);
void awsdms_delete_task(co_step_ctx *ctx, const char *role, co_verdict *v);
void awsdms_describe_task(co_step_ctx *ctx, const char *role, json_t **out,
                          json_t **tables, co_verdict *v);

#endif
