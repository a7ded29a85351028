/* events.c - see events.h. */
#include "events/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/state.h"
#include "store/runs.h"
#include "store/webhooks.h"

#define RING_SIZE 8192
#define DB_BATCH 500

typedef struct ring_entry {
    int64_t id;
    char run_id[40];
    char project_id[40];
    char type[40];
    char *data;
    int final;                  /* a run.state event into a final state */
} ring_entry;

struct co_events_sub {
    co_events *ev;
    co_store *store;
    char run_id[40], project_id[40], type[40];
    int64_t cursor;             /* every event <= cursor was considered */
    int end_on_final, run_final, ending; /* see co_events_filter */
    atomic_llong last_active_ms;
    int parked;
    co_events_signal_fn park, wake;
    void *arg;
    struct co_events_sub *prev, *next;
};

struct co_events {
    co_store *store;
    pthread_mutex_t mu;
    pthread_mutex_t write_mu;
    int64_t latest;
    ring_entry ring[RING_SIZE];
    int closing;
    int nsubs;
    co_events_sub *subs;
};

static void wake_locked(co_events_sub *s)
{
    if (s->parked) {
        s->parked = 0;
        s->wake(s->arg);
    }
}

co_status co_events_new(co_store *store, co_events **out, co_error *err)
{
    co_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    ev->store = store;
    pthread_mutex_init(&ev->mu, NULL);
    pthread_mutex_init(&ev->write_mu, NULL);
    ev->latest = co_events_max_id(store);
    *out = ev;
    return CO_OK;
}

void co_events_shutdown(co_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->closing = 1;
    for (co_events_sub *s = ev->subs; s; s = s->next)
        wake_locked(s);
    pthread_mutex_unlock(&ev->mu);
}

void co_events_free(co_events *ev)
{
    if (!ev)
        return;
    for (int i = 0; i < RING_SIZE; i++)
        free(ev->ring[i].data);
    pthread_mutex_destroy(&ev->write_mu);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

/* Reads the subscriber count and the newest event id together under the
 * hub's lock; either out pointer may be NULL. */
static void snapshot(co_events *ev, int *nsubs, int64_t *latest)
{
    pthread_mutex_lock(&ev->mu);
    if (nsubs)
        *nsubs = ev->nsubs;
    if (latest)
        *latest = ev->latest;
    pthread_mutex_unlock(&ev->mu);
}

int co_events_subscribers(co_events *ev)
{
    int n;
    snapshot(ev, &n, NULL);
    return n;
}

int64_t co_events_latest(co_events *ev)
{
    int64_t id;
    snapshot(ev, NULL, &id);
    return id;
}

/* ------------------------------------------------------------ writers */

co_status co_evb_begin(co_evb *b, co_events *ev, co_store *store, co_error *err)
{
    co_status rc;
    memset(b, 0, sizeof *b);
    b->ev = ev;
    if (ev)
        pthread_mutex_lock(&ev->write_mu);
    rc = co_store_begin(store, err);
    if (rc != CO_OK && ev)
        pthread_mutex_unlock(&ev->write_mu);
    return rc;
}

/* True for a run.state event whose "to" is a final run state. */
static int is_final(const char *type, const json_t *data)
{
    const char *to = json_string_value(json_object_get(data, "to"));
    return type && strcmp(type, "run.state") == 0 && to &&
           co_run_state_final(co_run_state_parse(to));
}

co_status co_evb_add(co_evb *b, co_store *store, const char *run_id,
                     const char *project_id, const char *type, json_t *data,
                     co_error *err)
{
    int64_t id = 0;
    char *text;
    co_status rc;
    if (!data)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (b->n == CO_EVB_MAX) {
        json_decref(data);
        return co_error_set(err, CO_ERR_INTERNAL, "too many events in one transaction");
    }
    rc = co_events_insert(store, run_id, project_id, type, data, &id, err);
    text = rc == CO_OK ? json_dumps(data, JSON_COMPACT) : NULL;
    if (rc == CO_OK && text) {
        /* the outbox rows commit or roll back with the event (store/webhooks.h) */
        char when[32];
        int64_t now = co_clock_now_ms();
        rc = co_webhooks_enqueue(store, id, run_id, project_id, type, text,
                                 co_clock_rfc3339(now, when, sizeof when), now, err);
    }
    b->items[b->n].final = is_final(type, data);
    json_decref(data);
    if (rc != CO_OK) {
        free(text);
        return rc;
    }
    if (!text)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    b->items[b->n].id = id;
    snprintf(b->items[b->n].run_id, sizeof b->items[b->n].run_id, "%s",
             run_id ? run_id : "");
    snprintf(b->items[b->n].project_id, sizeof b->items[b->n].project_id, "%s",
             project_id ? project_id : "");
    snprintf(b->items[b->n].type, sizeof b->items[b->n].type, "%s", type);
    b->items[b->n].data = text;
    b->n++;
    return CO_OK;
}

static void evb_free_items(co_evb *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i].data);
    b->n = 0;
}

co_status co_evb_commit(co_evb *b, co_store *store, co_error *err)
{
    co_events *ev = b->ev;
    co_status rc = co_store_commit(store, err);
    if (rc == CO_OK && ev && b->n) {
        pthread_mutex_lock(&ev->mu);
        for (size_t i = 0; i < b->n; i++) {
            ring_entry *e = &ev->ring[b->items[i].id % RING_SIZE];
            free(e->data);
            e->id = b->items[i].id;
            memcpy(e->run_id, b->items[i].run_id, sizeof e->run_id);
            memcpy(e->project_id, b->items[i].project_id, sizeof e->project_id);
            memcpy(e->type, b->items[i].type, sizeof e->type);
            e->data = b->items[i].data;
            e->final = b->items[i].final;
            b->items[i].data = NULL;
            if (b->items[i].id > ev->latest)
                ev->latest = b->items[i].id;
        }
        for (co_events_sub *s = ev->subs; s; s = s->next)
            wake_locked(s);
        pthread_mutex_unlock(&ev->mu);
    }
    evb_free_items(b);
    if (ev)
        pthread_mutex_unlock(&ev->write_mu);
    return rc;
}

void co_evb_abort(co_evb *b, co_store *store)
{
    co_store_rollback(store);
    evb_free_items(b);
    if (b->ev)
        pthread_mutex_unlock(&b->ev->write_mu);
}

/* ------------------------------------------------------------ readers */

co_status co_events_subscribe(co_events *ev, co_store *store, int64_t after,
                              const co_events_filter *f, co_events_signal_fn park,
                              co_events_signal_fn wake, void *arg, co_events_sub **out,
                              co_error *err)
{
    co_events_sub *s = calloc(1, sizeof *s);
    if (!s)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    s->ev = ev;
    s->store = store;
    s->cursor = after;
    s->park = park;
    s->wake = wake;
    s->arg = arg;
    atomic_store(&s->last_active_ms, co_clock_mono_ms());
    snprintf(s->run_id, sizeof s->run_id, "%s", f && f->run_id ? f->run_id : "");
    snprintf(s->project_id, sizeof s->project_id, "%s",
             f && f->project_id ? f->project_id : "");
    snprintf(s->type, sizeof s->type, "%s", f && f->type ? f->type : "");
    s->end_on_final = f && f->end_on_final;
    s->run_final = f && f->run_final;
    pthread_mutex_lock(&ev->mu);
    if (ev->closing) {
        pthread_mutex_unlock(&ev->mu);
        free(s);
        return co_error_set(err, CO_ERR_TRANSIENT, "the server is shutting down");
    }
    s->next = ev->subs;
    if (ev->subs)
        ev->subs->prev = s;
    ev->subs = s;
    ev->nsubs++;
    pthread_mutex_unlock(&ev->mu);
    *out = s;
    return CO_OK;
}

void co_events_unsubscribe(co_events_sub *s)
{
    co_events *ev;
    if (!s)
        return;
    ev = s->ev;
    pthread_mutex_lock(&ev->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        ev->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ev->nsubs--;
    pthread_mutex_unlock(&ev->mu);
    free(s);
}

bool co_events_type_match(const char *filter, const char *type)
{
    size_t n;
    if (!filter || !*filter)
        return true;
    n = strlen(filter);
    if (filter[0] == '!' && n > 3 && strcmp(filter + n - 2, ".*") == 0)
        return strncmp(type, filter + 1, n - 2) != 0;
    if (n > 2 && strcmp(filter + n - 2, ".*") == 0)
        return strncmp(type, filter, n - 1) == 0;
    return strcmp(filter, type) == 0;
}

static int matches(const co_events_sub *s, const char *run_id, const char *project_id,
                   const char *type)
{
    return (!s->run_id[0] || strcmp(s->run_id, run_id) == 0) &&
           (!s->project_id[0] || strcmp(s->project_id, project_id) == 0) &&
           co_events_type_match(s->type, type);
}

/* Emits from the ring up to `upto`; returns 0 when the ring no longer holds
 * cursor + 1 (caller reads SQLite). Called with ev->mu held. */
static int emit_from_ring(co_events *ev, co_events_sub *s, int64_t upto,
                          co_events_emit_fn emit, void *arg, size_t max_bytes)
{
    int64_t id = s->cursor + 1;
    size_t bytes = 0;
    if (id <= upto && ev->ring[id % RING_SIZE].id != id)
        return 0;
    for (; id <= upto && bytes < max_bytes; id++) {
        ring_entry *e = &ev->ring[id % RING_SIZE];
        if (e->id != id)
            return 0;
        if (matches(s, e->run_id, e->project_id, e->type) && e->data) {
            if (emit(arg, id, e->type, e->data) != CO_OK)
                break;
            bytes += strlen(e->data);
            s->ending |= s->end_on_final && e->final;
        }
        s->cursor = id;
        if (s->ending)
            break;
    }
    return 1;
}

/* Emits events after the cursor (up to upto) read from SQLite. */
static void emit_from_db(co_events_sub *s, int64_t upto, co_events_emit_fn emit,
                         void *arg)
{
    json_t *items = NULL, *it;
    co_error err;
    size_t i;
    co_error_clear(&err);
    if (co_events_query(s->store, s->cursor, upto, s->run_id[0] ? s->run_id : NULL,
                        s->project_id[0] ? s->project_id : NULL,
                        s->type[0] ? s->type : NULL, DB_BATCH, &items, &err) != CO_OK) {
        co_log(CO_LOG_WARN, "events", "reading events for a subscription: %s", err.message);
        return;
    }
    json_array_foreach(items, i, it) {
        char *data = json_dumps(json_object_get(it, "data"), JSON_COMPACT);
        int64_t id = json_integer_value(json_object_get(it, "id"));
        co_status rc = data ? emit(arg, id, json_string_value(json_object_get(it, "type")),
                                   data)
                            : CO_ERR_NOMEM;
        free(data);
        if (rc != CO_OK)
            break;
        s->cursor = id;
        if (s->end_on_final && is_final(json_string_value(json_object_get(it, "type")),
                                        json_object_get(it, "data"))) {
            s->ending = 1;
            break;
        }
    }
    if (i == json_array_size(items) && json_array_size(items) < DB_BATCH && !s->ending)
        s->cursor = upto;
    json_decref(items);
}

co_events_poll_result co_events_poll(co_events_sub *s, co_events_emit_fn emit, void *arg,
                                     size_t max_bytes)
{
    co_events *ev = s->ev;
    pthread_mutex_lock(&ev->mu);
    if (ev->closing || s->ending || (s->run_final && s->cursor >= ev->latest)) {
        pthread_mutex_unlock(&ev->mu);
        return CO_EVENTS_END;
    }
    if (s->cursor < ev->latest) {
        int64_t upto = ev->latest;
        int from_ring = emit_from_ring(ev, s, upto, emit, arg, max_bytes);
        pthread_mutex_unlock(&ev->mu);
        if (!from_ring)
            emit_from_db(s, upto, emit, arg);
        return CO_EVENTS_MORE;
    }
    s->parked = 1;
    s->park(s->arg);
    pthread_mutex_unlock(&ev->mu);
    return CO_EVENTS_PARKED;
}

void co_events_touch(co_events_sub *s)
{
    atomic_store(&s->last_active_ms, co_clock_mono_ms());
}

void co_events_wake_idle(co_events *ev, int64_t idle_ms)
{
    int64_t now = co_clock_mono_ms();
    pthread_mutex_lock(&ev->mu);
    for (co_events_sub *s = ev->subs; s; s = s->next)
        if (now - atomic_load(&s->last_active_ms) >= idle_ms)
            wake_locked(s);
    pthread_mutex_unlock(&ev->mu);
}
