/* events.h - in-process fan-out of stored events to SSE subscribers.
 *
 * DESIGN
 * Every event is first a row of the events table (store/runs.h), written in
 * the same transaction as the change it describes. Writers hold the hub's
 * write lock around "BEGIN ... insert events ... COMMIT ... publish" (use
 * co_evb_* below), so events are published in id order with no gaps. The
 * hub keeps the latest published id and a ring of recent events already
 * formatted as SSE frames, so a burst is served to hundreds of subscribers
 * from memory; a subscriber that fell behind the ring reads from SQLite.
 *
 * An SSE response streams "id: N\nevent: <type>\ndata: <json>\n\n"
 * frames. When it has nothing to send, the content reader suspends its
 * connection (MHD_suspend_connection) and returns 0; a publish, the
 * heartbeat thread (a ": heartbeat" comment every 15 s, which also detects
 * dead clients) or shutdown resumes it. Idle subscribers cost no CPU.
 *
 * THREADS: mu guards latest, the ring and the subscriber list; write_mu
 * serialises event writers. Content readers run on HTTP pool threads.
 */
#ifndef CUTOVER_SERVER_EVENTS_H
#define CUTOVER_SERVER_EVENTS_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>

#include "core/status.h"
#include "store/db.h"

typedef struct co_events co_events;

/* Creates the hub, reading the highest stored event id, and starts the
 * heartbeat thread. heartbeat_ms is normally 15000. Errors: CO_ERR_NOMEM,
 * CO_ERR_STORE, CO_ERR_INTERNAL (thread). */
CO_MUST_CHECK co_status co_events_new(co_store *store, int heartbeat_ms,
                                      co_events **out, co_error *err);

/* Ends every stream (they finish with end-of-stream) and refuses new ones;
 * call before stopping the HTTP server. */
void co_events_shutdown(co_events *ev);

/* Stops the heartbeat thread and frees the hub. NULL-safe; call after the
 * HTTP server stopped. */
void co_events_free(co_events *ev);

/* Number of open SSE streams. */
int co_events_subscribers(co_events *ev);

/* Highest published event id. */
int64_t co_events_latest(co_events *ev);

/* A batch of events written in one transaction. */
#define CO_EVB_MAX 64
typedef struct co_evb {
    co_events *ev;
    size_t n;
    struct {
        int64_t id;
        char run_id[40];
        char project_id[40];
        char type[40];
        char *frame;            /* formatted SSE frame, owned */
    } items[CO_EVB_MAX];
} co_evb;

/* Takes the write lock and begins a store transaction. Errors: as
 * co_store_begin (the lock is released on failure). */
CO_MUST_CHECK co_status co_evb_begin(co_evb *b, co_events *ev, co_store *store,
                                     co_error *err);

/* Inserts an event (data stolen, even on failure) inside the batch's
 * transaction. Errors: CO_ERR_STORE, CO_ERR_NOMEM, CO_ERR_INTERNAL (more
 * than CO_EVB_MAX events). */
CO_MUST_CHECK co_status co_evb_add(co_evb *b, co_store *store, const char *run_id,
                                   const char *project_id, const char *type,
                                   json_t *data, co_error *err);

/* Commits, publishes the batch to subscribers and releases the write lock.
 * On commit failure nothing is published. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_evb_commit(co_evb *b, co_store *store, co_error *err);

/* Rolls back and releases the write lock; nothing is published. */
void co_evb_abort(co_evb *b, co_store *store);

/* Subscription filter: NULL members match anything. */
typedef struct co_events_filter {
    const char *run_id;
    const char *project_id;
    const char *type;
} co_events_filter;

/* Builds an SSE response for conn starting after event id `after`
 * (exclusive), with filter f (strings copied). *out is a new MHD response
 * (the caller queues and destroys it). Errors: CO_ERR_TRANSIENT while
 * shutting down (503), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_events_sse_response(co_events *ev, co_store *store,
                                               struct MHD_Connection *conn,
                                               int64_t after,
                                               const co_events_filter *f,
                                               struct MHD_Response **out,
                                               co_error *err);

#endif
