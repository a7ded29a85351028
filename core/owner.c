/* owner.c - see owner.h. */
#include "core/owner.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/worker.h"

void *co_locked_new(size_t size)
{
    pthread_mutex_t *mu = calloc(1, size);
    if (mu)
        pthread_mutex_init(mu, NULL);
    return mu;
}

void co_locked_free(void *obj)
{
    if (obj)
        pthread_mutex_destroy(obj);
    free(obj);
}

co_status co_worker_owner_start(void *owner, void *(*fn)(void *), const char *what,
                                co_error *err)
{
    co_status rc = co_worker_start(owner, fn, owner, what, err);
    if (rc != CO_OK)
        free(owner);
    return rc;
}

void co_worker_owner_free(void *owner)
{
    if (owner)
        co_worker_stop(owner);
    free(owner);
}
