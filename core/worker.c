/* worker.c - see worker.h. */
#include "core/worker.h"

co_status co_worker_start(co_worker *w, void *(*fn)(void *), void *arg, const char *what,
                          co_error *err)
{
    w->stop = 0;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, fn, arg) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return co_error_set(err, CO_ERR_INTERNAL, "cannot start the %s", what);
    }
    return CO_OK;
}

void co_worker_stop(co_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}
