/* worker.h - one background thread with the lock, condition variable and
 * stop flag it sleeps on (the long-poll ticker, the SSE heartbeat, the
 * webhook sender).
 *
 * The owner embeds a co_worker, starts it with co_worker_start and stops it
 * with co_worker_stop. The thread function takes the lock, loops while
 * `stop` is 0 and waits on `cv` with a deadline; co_worker_stop sets `stop`
 * under the lock, broadcasts `cv` and joins the thread.
 */
#ifndef CUTOVER_CORE_WORKER_H
#define CUTOVER_CORE_WORKER_H

#include <pthread.h>

#include "core/status.h"

typedef struct co_worker {
    pthread_mutex_t mu; /* guards stop and whatever state the owner puts under it */
    pthread_cond_t cv;  /* broadcast on stop; the owner may signal it for more */
    int stop;           /* 1 once co_worker_stop has begun; read under mu */
    pthread_t thread;
} co_worker;

/* Initialises w (caller-owned storage, e.g. a member of the owner) and
 * starts the thread fn(arg). what names the thread in the error. Errors:
 * CO_ERR_INTERNAL when the thread cannot be created; w's lock and
 * condition are destroyed again then, and w must not be stopped. */
CO_MUST_CHECK co_status co_worker_start(co_worker *w, void *(*fn)(void *), void *arg,
                                        const char *what, co_error *err);

/* Sets w->stop under the lock, wakes the thread, joins it and destroys the
 * lock and condition. Blocks until the thread function has returned. Call
 * once per successful co_worker_start. */
void co_worker_stop(co_worker *w);

#endif
