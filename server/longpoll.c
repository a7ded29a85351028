/* longpoll.c - see longpoll.h. */
#include "server/longpoll.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/owner.h"
#include "core/worker.h"

#define TICK_MS 200

struct co_longpoll_wait {
    co_longpoll *lp;
    struct MHD_Connection *conn;
    co_events_sub *sub;
    int64_t until_ms;           /* epoch ms */
    atomic_int suspended;
    int changed;
    co_longpoll_wait *next;
};

struct co_longpoll {
    co_worker w; /* first (core/owner.h): the thread, its lock, condition and stop flag */
    co_events *ev;
    co_longpoll_wait *waits;
};
_Static_assert(offsetof(co_longpoll, w) == 0, "co_longpoll must begin with its worker");

static void resume(co_longpoll_wait *w)
{
    if (atomic_exchange(&w->suspended, 0))
        MHD_resume_connection(w->conn);
}

static void *ticker(void *arg)
{
    co_longpoll *lp = arg;
    pthread_mutex_lock(&lp->w.mu);
    while (!lp->w.stop) {
        struct timespec ts;
        int64_t now = co_clock_now_ms();
        for (co_longpoll_wait *w = lp->waits; w; w = w->next)
            if (w->until_ms <= now)
                resume(w);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&lp->w.cv, &lp->w.mu, &ts);
    }
    pthread_mutex_unlock(&lp->w.mu);
    return NULL;
}

co_status co_longpoll_new(co_events *ev, co_longpoll **out, co_error *err)
{
    co_longpoll *lp = calloc(1, sizeof *lp);
    if (!lp)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    lp->ev = ev;
    co_status rc = co_worker_owner_start(lp, ticker, "long-poll ticker", err);
    *out = rc == CO_OK ? lp : NULL;
    return rc;
}

void co_longpoll_free(co_longpoll *lp)
{
    co_worker_owner_free(lp);
}

/* Hub callbacks, run with the hub's lock held. */
static void park_cb(void *arg)
{
    co_longpoll_wait *w = arg;
    atomic_store(&w->suspended, 1);
    MHD_suspend_connection(w->conn);
}

static void wake_cb(void *arg)
{
    resume(arg);
}

static co_status changed_cb(void *arg, int64_t id, const char *type, const char *data)
{
    co_longpoll_wait *w = arg;
    (void)id, (void)type, (void)data;
    w->changed = 1;
    return CO_ERR_INTERNAL;   /* stop: one event of the run is enough */
}

int co_longpoll_park(co_longpoll *lp, co_store *store, struct MHD_Connection *conn,
                     const char *run_id, int64_t seen, int64_t until_ms,
                     co_longpoll_wait **out)
{
    co_events_filter f = {run_id, NULL, NULL, 0, 0};
    co_longpoll_wait *w = calloc(1, sizeof *w);
    co_events_poll_result r;
    co_error err;
    *out = NULL;
    if (!w)
        return -1;
    w->lp = lp;
    w->conn = conn;
    w->until_ms = until_ms;
    co_error_clear(&err);
    if (co_events_subscribe(lp->ev, store, seen, &f, park_cb, wake_cb, w, &w->sub, &err) !=
        CO_OK) {
        free(w);
        return -1;
    }
    pthread_mutex_lock(&lp->w.mu);
    w->next = lp->waits;
    lp->waits = w;
    pthread_mutex_unlock(&lp->w.mu);
    do
        r = co_events_poll(w->sub, changed_cb, w, 1);
    while (r == CO_EVENTS_MORE && !w->changed);
    if (r == CO_EVENTS_PARKED) {
        *out = w;
        return 1;
    }
    co_longpoll_release(w);
    return r == CO_EVENTS_END ? -1 : 0;
}

void co_longpoll_release(co_longpoll_wait *w)
{
    co_longpoll *lp;
    if (!w)
        return;
    lp = w->lp;
    pthread_mutex_lock(&lp->w.mu);
    for (co_longpoll_wait **pp = &lp->waits; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&lp->w.mu);
    co_events_unsubscribe(w->sub);
    free(w);
}
