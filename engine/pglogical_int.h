/* pglogical_int.h - internals shared by pglogical.c (tasks) and
 * pglogical_stats.c (table statistics and CDC latency). Not a public API. */
#ifndef CUTOVER_ENGINE_PGLOGICAL_INT_H
#define CUTOVER_ENGINE_PGLOGICAL_INT_H

#include <libpq-fe.h>

#include "engine/step.h"

/* Names of the publication, slot and subscription of a task role. */
typedef struct pgl_names {
    char pub[64], slot[64], sub[64];
} pgl_names;

/* Fills n for role: cutover_<run id without prefix>_<role>. */
void pgl_names_make(const co_step_ctx *ctx, const char *role, pgl_names *n);

/* The endpoint that publishes (subscribes) for role: "rollback" replicates
 * target -> source, the other roles source -> target. Borrowed from ctx. */
const co_resource *pgl_publisher(co_step_ctx *ctx, const char *role);
const co_resource *pgl_subscriber(co_step_ctx *ctx, const char *role);

/* 1 if the one-parameter query sql returns a row for name, 0 if not, -1 on
 * error (err set). */
int pgl_exists(PGconn *c, const char *what, const char *sql, const char *name,
               co_error *err);

/* One-row, one-column query; *out is a new string or NULL when no row. */
CO_MUST_CHECK co_status pgl_query_text(PGconn *c, const char *what, const char *sql,
                                       int n, const char *const *params, char **out,
                                       co_error *err);

/* ALTER SUBSCRIPTION <sub of role> <action> on the subscriber. */
CO_MUST_CHECK co_status pgl_alter_subscription(co_step_ctx *ctx, const char *role,
                                               const char *action, co_error *err);

/* Engine operations implemented in pglogical_stats.c (see engine.h). */
void pgl_await_full_load(co_step_ctx *ctx, const char *role, co_verdict *v);
void pgl_await_cdc_latency(co_step_ctx *ctx, const char *role, double max_seconds,
                           co_verdict *v);
void pgl_describe_task(co_step_ctx *ctx, const char *role, json_t **out,
                       json_t **tables, co_verdict *v);

#endif
