/* events.h - the event log's write batches and its in-process
 * publish/subscribe hub.
 *
 * DESIGN
 * Every event is first a row of the events table (store/runs.h), written in
 * the same transaction as the change it describes. Writers hold the hub's
 * write lock around "BEGIN ... insert events ... COMMIT ... publish" (use
 * co_evb_* below), so events are published in id order with no gaps. The
 * hub keeps the latest published id and a ring of recent events (type, ids,
 * compact JSON data), so a burst is served to hundreds of subscribers from
 * memory; a subscriber that fell behind the ring reads from SQLite.
 *
 * A subscription is a cursor (every event <= cursor was considered) and a
 * filter. Its reader calls co_events_poll, which emits what is pending; when
 * nothing is, the subscription is parked: the reader's park callback runs
 * under the hub lock (so no publish can slip between "nothing new" and
 * "parked"), and the next publish, co_events_wake_idle or shutdown calls its
 * wake callback. The hub knows nothing of HTTP: server/sse.c turns events
 * into Server-Sent Events frames and parks libmicrohttpd connections.
 *
 * THREADS: mu guards latest, the ring, closing and the subscriber list;
 * write_mu serialises event writers. Callbacks of a subscription run on the
 * thread that polls it (emit, park) or that publishes (wake), always with mu
 * held: they must only record state or suspend/resume a connection.
 */
#ifndef CUTOVER_EVENTS_EVENTS_H
#define CUTOVER_EVENTS_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "store/db.h"

typedef struct co_events co_events;

/* Creates the hub, reading the highest stored event id. *out is freed with
 * co_events_free. Errors: CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_events_new(co_store *store, co_events **out, co_error *err);

/* Refuses new subscriptions and wakes every parked one; their next
 * co_events_poll answers CO_EVENTS_END. Call before stopping the HTTP
 * server. NULL-safe. */
void co_events_shutdown(co_events *ev);

/* Frees the hub. NULL-safe; call once no subscription is left. */
void co_events_free(co_events *ev);

/* Number of open subscriptions. */
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
        char *data;             /* compact JSON text, owned */
        int final;              /* run.state into a final state */
    } items[CO_EVB_MAX];
} co_evb;

/* Takes the write lock and begins a store transaction. ev may be NULL
 * (nothing is published). Errors: as co_store_begin (the lock is released
 * on failure). */
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

/* Subscription filter: NULL or "" members match anything. */
typedef struct co_events_filter {
    const char *run_id;
    const char *project_id;
    const char *type;           /* see co_events_type_match */
    int end_on_final;   /* a run's stream: CO_EVENTS_END after its final run.state */
    int run_final;      /* the run is already final: CO_EVENTS_END once caught up */
} co_events_filter;

/* Tells whether event type matches filter: NULL or "" matches all, "x.*"
 * every type starting with "x.", "!x.*" every type not starting with "x."
 * (how non-admins are kept from audit.* events), anything else exactly. The
 * events query of store/runs.c applies the same rule in SQL. */
bool co_events_type_match(const char *filter, const char *type);

typedef struct co_events_sub co_events_sub;

/* Called for each matching event, in id order: data is its compact JSON
 * text (borrowed). Returns CO_OK to go on; any error stops the poll before
 * the cursor passes this event. */
typedef co_status (*co_events_emit_fn)(void *arg, int64_t id, const char *type,
                                       const char *data);
/* Park / wake callbacks of a subscription (see DESIGN); run with mu held. */
typedef void (*co_events_signal_fn)(void *arg);

/* Subscribes after event id `after` (exclusive) with filter f (strings
 * copied). park and wake get arg. *out is freed with
 * co_events_unsubscribe. Errors: CO_ERR_TRANSIENT while shutting down,
 * CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_events_subscribe(co_events *ev, co_store *store, int64_t after,
                                            const co_events_filter *f,
                                            co_events_signal_fn park,
                                            co_events_signal_fn wake, void *arg,
                                            co_events_sub **out, co_error *err);

/* Ends a subscription and frees it. NULL-safe. */
void co_events_unsubscribe(co_events_sub *s);

typedef enum co_events_poll_result {
    CO_EVENTS_MORE,   /* events were emitted (or skipped); poll again */
    CO_EVENTS_PARKED, /* nothing pending: parked until woken */
    CO_EVENTS_END     /* the hub shut down */
} co_events_poll_result;

/* Emits the events after the subscription's cursor through emit (about
 * max_bytes of data at most per call), from the ring or, when the ring no
 * longer holds them, from SQLite. With nothing pending, parks the
 * subscription (calls its park callback) and answers CO_EVENTS_PARKED. */
co_events_poll_result co_events_poll(co_events_sub *s, co_events_emit_fn emit, void *arg,
                                     size_t max_bytes);

/* Records that the subscription's reader wrote something now (monotonic
 * clock); co_events_wake_idle measures idleness from it. */
void co_events_touch(co_events_sub *s);

/* Wakes every parked subscription idle for at least idle_ms (the SSE
 * heartbeat). */
void co_events_wake_idle(co_events *ev, int64_t idle_ms);

#endif
