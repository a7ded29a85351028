/* events.c - see events.h. */
#include "server/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/runs.h"

#define RING_SIZE 8192
#define FILL_BYTES (64 * 1024)
#define DB_BATCH 500

typedef struct ring_entry {
    int64_t id;
    char run_id[40];
    char project_id[40];
    char type[40];
    char *frame;
} ring_entry;

typedef struct sub {
    co_events *ev;
    co_store *store;
    struct MHD_Connection *conn;
    char run_id[40], project_id[40], type[40];
    int64_t cursor;          /* every event <= cursor was considered */
    co_buf out;              /* bytes not yet handed to MHD */
    size_t out_off;
    int64_t last_write_ms;
    int suspended;
    int closed_sent;
    struct sub *prev, *next;
} sub;

struct co_events {
    co_store *store;
    pthread_mutex_t mu;
    pthread_mutex_t write_mu;
    pthread_cond_t tick;
    int64_t latest;
    ring_entry ring[RING_SIZE];
    int closing;
    int stop_thread;
    int heartbeat_ms;
    int nsubs;
    sub *subs;
    pthread_t thread;
    int thread_started;
};

static char *format_frame(int64_t id, const char *type, const char *data)
{
    co_buf b = {0};
    if (co_buf_printf(&b, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id, type,
                      data) != CO_OK) {
        co_buf_free(&b);
        return NULL;
    }
    return co_buf_steal(&b);
}

static void resume_locked(co_events *ev, sub *s)
{
    (void)ev;
    if (s->suspended) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
}

static void *heartbeat_main(void *arg)
{
    co_events *ev = arg;
    pthread_mutex_lock(&ev->mu);
    while (!ev->stop_thread) {
        struct timespec ts;
        int64_t now = co_clock_mono_ms();
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        for (sub *s = ev->subs; s; s = s->next)
            if (now - s->last_write_ms >= ev->heartbeat_ms)
                resume_locked(ev, s);
        pthread_cond_timedwait(&ev->tick, &ev->mu, &ts);
    }
    pthread_mutex_unlock(&ev->mu);
    return NULL;
}

co_status co_events_new(co_store *store, int heartbeat_ms, co_events **out,
                        co_error *err)
{
    co_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    ev->store = store;
    ev->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 15000;
    pthread_mutex_init(&ev->mu, NULL);
    pthread_mutex_init(&ev->write_mu, NULL);
    pthread_cond_init(&ev->tick, NULL);
    ev->latest = co_events_max_id(store);
    if (pthread_create(&ev->thread, NULL, heartbeat_main, ev) != 0) {
        co_events_free(ev);
        return co_error_set(err, CO_ERR_INTERNAL, "cannot start the heartbeat thread");
    }
    ev->thread_started = 1;
    *out = ev;
    return CO_OK;
}

void co_events_shutdown(co_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->closing = 1;
    for (sub *s = ev->subs; s; s = s->next)
        resume_locked(ev, s);
    pthread_mutex_unlock(&ev->mu);
}

void co_events_free(co_events *ev)
{
    if (!ev)
        return;
    if (ev->thread_started) {
        pthread_mutex_lock(&ev->mu);
        ev->stop_thread = 1;
        pthread_cond_broadcast(&ev->tick);
        pthread_mutex_unlock(&ev->mu);
        pthread_join(ev->thread, NULL);
    }
    for (int i = 0; i < RING_SIZE; i++)
        free(ev->ring[i].frame);
    pthread_cond_destroy(&ev->tick);
    pthread_mutex_destroy(&ev->write_mu);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

int co_events_subscribers(co_events *ev)
{
    int n;
    pthread_mutex_lock(&ev->mu);
    n = ev->nsubs;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

int64_t co_events_latest(co_events *ev)
{
    int64_t id;
    pthread_mutex_lock(&ev->mu);
    id = ev->latest;
    pthread_mutex_unlock(&ev->mu);
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
    json_decref(data);
    if (rc != CO_OK)
        return rc;
    if (!text)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    b->items[b->n].id = id;
    snprintf(b->items[b->n].run_id, sizeof b->items[b->n].run_id, "%s",
             run_id ? run_id : "");
    snprintf(b->items[b->n].project_id, sizeof b->items[b->n].project_id, "%s",
             project_id ? project_id : "");
    snprintf(b->items[b->n].type, sizeof b->items[b->n].type, "%s", type);
    b->items[b->n].frame = format_frame(id, type, text);
    free(text);
    b->n++;
    return CO_OK;
}

static void evb_free_items(co_evb *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i].frame);
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
            free(e->frame);
            e->id = b->items[i].id;
            memcpy(e->run_id, b->items[i].run_id, sizeof e->run_id);
            memcpy(e->project_id, b->items[i].project_id, sizeof e->project_id);
            memcpy(e->type, b->items[i].type, sizeof e->type);
            e->frame = b->items[i].frame;
            b->items[i].frame = NULL;
            if (b->items[i].id > ev->latest)
                ev->latest = b->items[i].id;
        }
        for (sub *s = ev->subs; s; s = s->next)
            resume_locked(ev, s);
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

static int matches(const sub *s, const char *run_id, const char *project_id,
                   const char *type)
{
    return (!s->run_id[0] || strcmp(s->run_id, run_id) == 0) &&
           (!s->project_id[0] || strcmp(s->project_id, project_id) == 0) &&
           (!s->type[0] || strcmp(s->type, type) == 0);
}

/* Fills s->out from the ring; returns 0 when the ring no longer holds
 * cursor + 1 (caller reads SQLite). Called with ev->mu held. */
static int fill_from_ring(co_events *ev, sub *s, int64_t upto)
{
    int64_t id = s->cursor + 1;
    if (id <= upto && ev->ring[id % RING_SIZE].id != id)
        return 0;
    for (; id <= upto && s->out.len < FILL_BYTES; id++) {
        ring_entry *e = &ev->ring[id % RING_SIZE];
        if (e->id != id)
            return 0;
        if (matches(s, e->run_id, e->project_id, e->type) && e->frame &&
            co_buf_append(&s->out, e->frame, strlen(e->frame)) != CO_OK)
            break;
        s->cursor = id;
    }
    return 1;
}

/* Reads events after the cursor (up to upto) from SQLite into s->out. */
static void fill_from_db(sub *s, int64_t upto)
{
    json_t *items = NULL, *it;
    co_error err;
    size_t i;
    co_error_clear(&err);
    if (co_events_query(s->store, s->cursor, upto, s->run_id[0] ? s->run_id : NULL,
                        s->project_id[0] ? s->project_id : NULL,
                        s->type[0] ? s->type : NULL, DB_BATCH, &items, &err) != CO_OK) {
        co_log(CO_LOG_WARN, "events", "reading events for a stream: %s", err.message);
        return;
    }
    json_array_foreach(items, i, it) {
        char *data = json_dumps(json_object_get(it, "data"), JSON_COMPACT);
        int64_t id = json_integer_value(json_object_get(it, "id"));
        char *frame = data ? format_frame(id, json_string_value(json_object_get(it, "type")),
                                          data) : NULL;
        free(data);
        if (!frame || co_buf_append(&s->out, frame, strlen(frame)) != CO_OK) {
            free(frame);
            break;
        }
        free(frame);
        s->cursor = id;
    }
    if (json_array_size(items) < DB_BATCH)
        s->cursor = upto;
    json_decref(items);
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    sub *s = cls;
    co_events *ev = s->ev;
    (void)pos;
    for (;;) {
        if (s->out_off < s->out.len) {
            size_t n = s->out.len - s->out_off;
            if (n > max)
                n = max;
            memcpy(buf, s->out.data + s->out_off, n);
            s->out_off += n;
            if (s->out_off == s->out.len)
                s->out_off = s->out.len = 0;
            s->last_write_ms = co_clock_mono_ms();
            return (ssize_t)n;
        }
        pthread_mutex_lock(&ev->mu);
        if (ev->closing) {
            pthread_mutex_unlock(&ev->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (s->cursor < ev->latest) {
            int64_t upto = ev->latest;
            int from_ring = fill_from_ring(ev, s, upto);
            pthread_mutex_unlock(&ev->mu);
            if (!from_ring)
                fill_from_db(s, upto);
            continue;
        }
        if (co_clock_mono_ms() - s->last_write_ms >= ev->heartbeat_ms) {
            pthread_mutex_unlock(&ev->mu);
            if (co_buf_append(&s->out, ": heartbeat\n\n", 13) != CO_OK)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
        pthread_mutex_unlock(&ev->mu);
        return 0;
    }
}

static void sse_free(void *cls)
{
    sub *s = cls;
    co_events *ev = s->ev;
    pthread_mutex_lock(&ev->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        ev->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ev->nsubs--;
    pthread_mutex_unlock(&ev->mu);
    co_buf_free(&s->out);
    free(s);
}

co_status co_events_sse_response(co_events *ev, co_store *store,
                                 struct MHD_Connection *conn, int64_t after,
                                 const co_events_filter *f, struct MHD_Response **out,
                                 co_error *err)
{
    sub *s;
    struct MHD_Response *r;
    int closing;
    pthread_mutex_lock(&ev->mu);
    closing = ev->closing;
    pthread_mutex_unlock(&ev->mu);
    if (closing)
        return co_error_set(err, CO_ERR_TRANSIENT, "the server is shutting down");
    s = calloc(1, sizeof *s);
    if (!s)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    s->ev = ev;
    s->store = store;
    s->conn = conn;
    s->cursor = after;
    s->last_write_ms = co_clock_mono_ms();
    snprintf(s->run_id, sizeof s->run_id, "%s", f->run_id ? f->run_id : "");
    snprintf(s->project_id, sizeof s->project_id, "%s",
             f->project_id ? f->project_id : "");
    snprintf(s->type, sizeof s->type, "%s", f->type ? f->type : "");
    static const char hello[] = "retry: 2000\n: connected\n\n";
    if (co_buf_append(&s->out, hello, sizeof hello - 1) != CO_OK) {
        free(s);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, s,
                                          sse_free);
    if (!r) {
        co_buf_free(&s->out);
        free(s);
        return co_error_set(err, CO_ERR_NOMEM, "cannot create the stream");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    pthread_mutex_lock(&ev->mu);
    s->next = ev->subs;
    if (ev->subs)
        ev->subs->prev = s;
    ev->subs = s;
    ev->nsubs++;
    pthread_mutex_unlock(&ev->mu);
    *out = r;
    return CO_OK;
}
