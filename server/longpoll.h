/* longpoll.h - requests held until a run changes (GET /v1/runs/{id}?wait=).
 *
 * DESIGN
 * A held request is a subscription of the event hub (events/events.h) to
 * the run's events after the id the handler saw, whose park callback
 * suspends the libmicrohttpd connection from the access handler
 * (MHD_suspend_connection) and whose wake callback resumes it; a ticker
 * thread resumes those whose deadline passed (every 200 ms). Once resumed,
 * libmicrohttpd calls the access handler again and the handler decides
 * anew. No HTTP thread is held while a request waits.
 *
 * THREADS: mu guards the list of waits; a wait's `suspended` flag is an
 * atomic exchanged by whoever resumes it (publisher, ticker), so a
 * connection is resumed once. Lock order: mu before the hub's lock.
 */
#ifndef CUTOVER_SERVER_LONGPOLL_H
#define CUTOVER_SERVER_LONGPOLL_H

#include <microhttpd.h>
#include <stdint.h>

#include "core/status.h"
#include "events/events.h"
#include "store/db.h"

typedef struct co_longpoll co_longpoll;
typedef struct co_longpoll_wait co_longpoll_wait;

/* Starts the ticker for hub ev (borrowed). *out is freed with
 * co_longpoll_free. Errors: CO_ERR_NOMEM, CO_ERR_INTERNAL (thread). */
CO_MUST_CHECK co_status co_longpoll_new(co_events *ev, co_longpoll **out, co_error *err);

/* Stops the ticker and frees lp (call once no wait is left). NULL-safe. */
void co_longpoll_free(co_longpoll *lp);

/* Holds the request on conn (inside its access handler) until an event of
 * run_id after event id seen is published, until_ms (epoch ms) passes, or
 * the hub shuts down. Returns 1 when held (*out receives the wait, released
 * with co_longpoll_release once the handler runs again or the request
 * ends), 0 when such an event is already there (run the handler again
 * now), -1 when it cannot hold it (shutting down, out of memory: answer
 * now). */
int co_longpoll_park(co_longpoll *lp, co_store *store, struct MHD_Connection *conn,
                     const char *run_id, int64_t seen, int64_t until_ms,
                     co_longpoll_wait **out);

/* Forgets a wait (its connection is not suspended any more). NULL-safe. */
void co_longpoll_release(co_longpoll_wait *w);

#endif
