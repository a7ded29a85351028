/* sse.c - see sse.h. */
#include "server/sse.h"

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/owner.h"
#include "core/worker.h"

#define FILL_BYTES (64 * 1024)

struct co_sse {
    co_worker w; /* first (core/owner.h): the thread, its lock, condition and stop flag */
    co_events *ev;
    int heartbeat_ms;
};
_Static_assert(offsetof(co_sse, w) == 0, "co_sse must begin with its worker");

typedef struct stream {
    co_sse *sse;
    co_events_sub *sub;
    struct MHD_Connection *conn;
    co_buf out;              /* bytes not yet handed to MHD */
    size_t out_off;
    int64_t last_write_ms;
} stream;

static void *heartbeat_main(void *arg)
{
    co_sse *sse = arg;
    pthread_mutex_lock(&sse->w.mu);
    while (!sse->w.stop) {
        struct timespec ts;
        co_clock_deadline(&ts, 1000);
        pthread_mutex_unlock(&sse->w.mu);
        co_events_wake_idle(sse->ev, sse->heartbeat_ms);
        pthread_mutex_lock(&sse->w.mu);
        if (!sse->w.stop)
            pthread_cond_timedwait(&sse->w.cv, &sse->w.mu, &ts);
    }
    pthread_mutex_unlock(&sse->w.mu);
    return NULL;
}

co_status co_sse_new(co_events *ev, int heartbeat_ms, co_sse **out, co_error *err)
{
    co_sse *sse = calloc(1, sizeof *sse);
    if (!sse)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    sse->ev = ev;
    sse->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 15000;
    co_status rc = co_worker_owner_start(sse, heartbeat_main, "heartbeat thread", err);
    *out = rc == CO_OK ? sse : NULL;
    return rc;
}

void co_sse_free(co_sse *sse)
{
    co_worker_owner_free(sse);
}

/* co_events_emit_fn: one SSE frame per event. */
static co_status emit_frame(void *arg, int64_t id, const char *type, const char *data)
{
    stream *s = arg;
    return co_buf_printf(&s->out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id,
                         type, data);
}

static void park_conn(void *arg)
{
    stream *s = arg;
    MHD_suspend_connection(s->conn);
}

static void wake_conn(void *arg)
{
    stream *s = arg;
    MHD_resume_connection(s->conn);
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
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
            co_events_touch(s->sub);
            return (ssize_t)n;
        }
        if (co_clock_mono_ms() - s->last_write_ms >= s->sse->heartbeat_ms) {
            if (co_buf_append(&s->out, ": heartbeat\n\n", 13) != CO_OK)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        switch (co_events_poll(s->sub, emit_frame, s, FILL_BYTES)) {
        case CO_EVENTS_MORE:
            continue;
        case CO_EVENTS_PARKED:
            return 0;
        default:
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
    }
}

static void sse_free(void *cls)
{
    stream *s = cls;
    co_events_unsubscribe(s->sub);
    co_buf_free(&s->out);
    free(s);
}

co_status co_sse_response(co_sse *sse, co_store *store, struct MHD_Connection *conn,
                          int64_t after, const co_events_filter *f,
                          struct MHD_Response **out, co_error *err)
{
    static const char hello[] = "retry: 2000\n: connected\n\n";
    struct MHD_Response *r;
    stream *s = calloc(1, sizeof *s);
    if (!s)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    s->sse = sse;
    s->conn = conn;
    s->last_write_ms = co_clock_mono_ms();
    if (co_buf_append(&s->out, hello, sizeof hello - 1) != CO_OK) {
        free(s);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    if (co_events_subscribe(sse->ev, store, after, f, park_conn, wake_conn, s, &s->sub,
                            err) != CO_OK) {
        co_buf_free(&s->out);
        free(s);
        return err->status;
    }
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, s,
                                          sse_free);
    if (!r) {
        sse_free(s);
        return co_error_set(err, CO_ERR_NOMEM, "cannot create the stream");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    *out = r;
    return CO_OK;
}
