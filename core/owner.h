/* owner.h - heap objects whose first member is what guards them: a lock
 * (the request limits, the HTTP metrics) or a background thread with its
 * lock (the long-poll ticker, the SSE heartbeat, the webhook sender; see
 * core/worker.h).
 *
 * An object begins with the pthread_mutex_t or the co_worker (C11 6.7.2.1:
 * a pointer to the object, suitably converted, points to its first member),
 * so one pair of functions sets up and tears down every such object and its
 * constructor only fills in its own members.
 */
#ifndef CUTOVER_CORE_OWNER_H
#define CUTOVER_CORE_OWNER_H

#include <stddef.h>

#include "core/status.h"

/* Allocates size zeroed bytes (size >= sizeof(pthread_mutex_t)) and
 * initialises the pthread_mutex_t they begin with. Returns the object (the
 * caller owns it; free with co_locked_free) or NULL when out of memory. */
void *co_locked_new(size_t size);

/* Destroys the mutex obj begins with and frees obj. NULL-safe. */
void co_locked_free(void *obj);

/* Starts the thread fn(owner) of owner, a heap object (malloc/calloc) whose
 * first member is a co_worker, with co_worker_start; what names the thread
 * in the error. On success the caller keeps owner and frees it with
 * co_worker_owner_free. Errors: CO_ERR_INTERNAL when the thread cannot be
 * created; owner has been freed then. */
CO_MUST_CHECK co_status co_worker_owner_start(void *owner, void *(*fn)(void *),
                                              const char *what, co_error *err);

/* Stops the worker owner begins with (co_worker_stop: blocks until its
 * thread function has returned) and frees owner. NULL-safe. */
void co_worker_owner_free(void *owner);

#endif
