/* runs.h - persistence of runs, their steps, artifacts and events.
 *
 * Functions marked "in a transaction" expect the caller (engine/transition.c
 * or engine/runner.c) to hold co_store_begin() on the calling thread; the
 * others run on their own. Events are append-only rows whose INTEGER
 * PRIMARY KEY AUTOINCREMENT id is the SSE event id: since SQLite has one
 * writer at a time and a rolled-back insert also rolls back the sequence,
 * committed ids have no gaps.
 */
#ifndef CUTOVER_STORE_RUNS_H
#define CUTOVER_STORE_RUNS_H

#include <jansson.h>
#include <stdint.h>

#include "core/state.h"
#include "store/db.h"
#include "store/ids.h"

typedef struct co_run_row {
    char id[CO_ID_SIZE];
    char project_id[CO_ID_SIZE];
    char plan[32];
    char engine[32];
    json_t *params;              /* owned */
    co_run_state state;
    int current_step;
    char error[1024];
    char created_by[64];
    int64_t version;
    int64_t seq;
    int cleanup_attempts;        /* failed clean-up attempts so far */
} co_run_row;

typedef struct co_step_row {
    int idx;
    char step_id[64];
    co_step_state state;
    int attempts;
    int64_t due_at;              /* epoch ms */
    int64_t duration_ms;
    char started_at[32];
    json_t *outputs;             /* owned */
    char last_error[1024];
} co_step_row;

/* Frees what a row owns. NULL-safe. */
void co_run_row_clear(co_run_row *r);
void co_step_row_clear(co_step_row *s);

/* In a transaction: inserts run r (state pending, current_step 0) and its
 * steps step_ids[0..nsteps) in state pending. Errors: CO_ERR_CONFLICT
 * (project missing), CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_insert(co_store *store, const co_run_row *r,
                                       const char *const *step_ids, size_t nsteps,
                                       co_error *err);

/* Loads run id into *out (caller clears). Errors: CO_ERR_NOT_FOUND,
 * CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_load(co_store *store, const char *id,
                                     co_run_row *out, co_error *err);

/* Whether run id exists: CO_OK when it does, CO_ERR_NOT_FOUND ("run <id>
 * does not exist") when not; CO_ERR_STORE. Loads nothing. */
CO_MUST_CHECK co_status co_runs_exists(co_store *store, const char *id, co_error *err);

/* Loads step idx of run id (caller clears). Errors: CO_ERR_NOT_FOUND,
 * CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_load_step(co_store *store, const char *id, int idx,
                                          co_step_row *out, co_error *err);

/* Outputs of every step of run id as {"<step_id>": {...}} (new reference). */
CO_MUST_CHECK co_status co_runs_all_outputs(co_store *store, const char *id,
                                            json_t **out, co_error *err);

/* In a transaction: sets the run's state, current step and error (NULL
 * clears it), stamps started_at on the first start and finished_at when
 * final. */
CO_MUST_CHECK co_status co_runs_write_run(co_store *store, const char *id,
                                          co_run_state state, int current_step,
                                          const char *error, co_error *err);

/* Step fields to write; members left at their "keep" value are unchanged. */
typedef struct co_step_write {
    co_step_state state;         /* CO_STEP_STATE_LAST = keep */
    int attempts;                /* -1 = keep */
    int64_t due_at;              /* -1 = keep */
    bool release_lease;
    bool mark_started;           /* set started_at if empty */
    bool mark_finished;          /* set finished_at, add elapsed to duration */
    const char *error;           /* NULL = keep, "" = clear */
    const char *sqlstate;        /* NULL = keep */
    const json_t *outputs;       /* NULL = keep */
    const char *approved_by;     /* NULL = keep */
    double progress;             /* < 0 = keep */
} co_step_write;

/* A co_step_write that changes nothing. */
co_step_write co_step_write_keep(void);

/* In a transaction: applies w to step idx of run id. */
CO_MUST_CHECK co_status co_runs_write_step(co_store *store, const char *id, int idx,
                                           const co_step_write *w, co_error *err);

/* In a transaction: appends an event; *event_id receives its id. data is
 * borrowed. */
CO_MUST_CHECK co_status co_events_insert(co_store *store, const char *run_id,
                                         const char *project_id, const char *type,
                                         const json_t *data, int64_t *event_id,
                                         co_error *err);

/* A claimed step: the unit a worker executes. */
typedef struct co_claim {
    char run_id[CO_ID_SIZE];
    int idx;
    co_step_state step_state;
    co_run_state run_state;
    int attempts;                /* after this claim (never incremented by WAIT) */
} co_claim;

/* Claims the most overdue runnable step (current step of a pending or
 * running run, in state pending/running/waiting, due, not leased by a live
 * worker of this boot) for owner until now_ms + lease_ms. *found = 0 when
 * nothing is due. Runs its own transaction. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_claim(co_store *store, const char *owner,
                                      const char *boot_id, int64_t now_ms,
                                      int64_t lease_ms, co_claim *claim, int *found,
                                      co_error *err);

/* Frees every step lease (at start-up: the process that held them is gone).
 * Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_release_all_leases(co_store *store, co_error *err);

/* Epoch ms at which the next unleased step becomes due (INT64_MAX if none). */
int64_t co_runs_next_due(co_store *store);

/* JSON representation of run id with all its steps (new reference), as
 * GET /v1/runs/{id} returns it. Errors: CO_ERR_NOT_FOUND, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_runs_json(co_store *store, const char *id, json_t **out,
                                     co_error *err);

/* Page of runs of a project (newest last), as JSON items. */
CO_MUST_CHECK co_status co_runs_list_json(co_store *store, const char *project_id,
                                          int64_t after_seq, int limit,
                                          json_t **items, int64_t *last_seq,
                                          bool *more, co_error *err);

/* Counts runs per state into counts[CO_RUN_STATE_LAST]. */
CO_MUST_CHECK co_status co_runs_count(co_store *store,
                                      int64_t counts[CO_RUN_STATE_LAST],
                                      co_error *err);

/* Stores (or replaces) artifact name of run id. Runs its own statement. */
CO_MUST_CHECK co_status co_artifact_put(co_store *store, const char *run_id,
                                        const char *name, const char *step_id,
                                        const char *content_type, const void *body,
                                        size_t len, co_error *err);

/* Artifact list of run id as JSON items [{name, step_id, content_type,
 * size, created_at, updated_at}] (new reference). Errors: CO_ERR_NOT_FOUND
 * when the run does not exist, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_artifact_list(co_store *store, const char *run_id,
                                         json_t **items, co_error *err);

/* Loads artifact body (*body malloc'd, caller frees) and its content type
 * (into ctype[64]). Errors: CO_ERR_NOT_FOUND, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_artifact_get(co_store *store, const char *run_id,
                                        const char *name, char **body, size_t *len,
                                        char ctype[64], co_error *err);

/* Events with id > after (and <= upto when upto > 0), filtered by run_id,
 * project_id and type (each NULL = any), oldest first, at most limit.
 * *items is a new JSON array of {id, type, run_id, project_id, created_at,
 * data}. */
CO_MUST_CHECK co_status co_events_query(co_store *store, int64_t after,
                                        int64_t upto, const char *run_id,
                                        const char *project_id, const char *type,
                                        int limit, json_t **items, co_error *err);

/* The newest events of run_id with type (at most limit, newest first), in
 * the shape of co_events_query; *items is a new JSON array the caller
 * decrefs. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_events_newest(co_store *store, const char *run_id,
                                         const char *type, int limit,
                                         json_t **items, co_error *err);

/* Highest event id stored (0 if none). */
int64_t co_events_max_id(co_store *store);

#endif
