/* sse.h - Server-Sent Events streams over libmicrohttpd, fed by the event
 * hub (events/events.h).
 *
 * DESIGN
 * An SSE response streams "id: N\nevent: <type>\ndata: <json>\n\n" frames,
 * starting with "retry: 2000" and a ": connected" comment. Its content
 * reader formats what co_events_poll emits into a per-stream buffer and
 * hands it to libmicrohttpd. With nothing to send the hub parks the stream:
 * its connection is suspended (MHD_suspend_connection) and costs no CPU
 * until a publish, the heartbeat or shutdown resumes it. A heartbeat thread
 * wakes streams idle for heartbeat_ms, which then send a ": heartbeat"
 * comment (this also detects dead clients).
 *
 * THREADS: content readers run on HTTP pool threads; the heartbeat thread
 * only calls co_events_wake_idle.
 */
#ifndef CUTOVER_SERVER_SSE_H
#define CUTOVER_SERVER_SSE_H

#include <microhttpd.h>
#include <stdint.h>

#include "core/status.h"
#include "events/events.h"
#include "store/db.h"

typedef struct co_sse co_sse;

/* Starts the heartbeat thread for the streams of hub ev (borrowed, must
 * outlive *out). heartbeat_ms <= 0 means 15000. *out is freed with
 * co_sse_free. Errors: CO_ERR_NOMEM, CO_ERR_INTERNAL (thread). */
CO_MUST_CHECK co_status co_sse_new(co_events *ev, int heartbeat_ms, co_sse **out,
                                   co_error *err);

/* Stops the heartbeat thread and frees sse. NULL-safe; call after the HTTP
 * server stopped. */
void co_sse_free(co_sse *sse);

/* Builds an SSE response for conn starting after event id `after`
 * (exclusive) with filter f (strings copied). *out is a new MHD response
 * (the caller queues and destroys it). Errors: CO_ERR_TRANSIENT while
 * shutting down (503), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_sse_response(co_sse *sse, co_store *store,
                                        struct MHD_Connection *conn, int64_t after,
                                        const co_events_filter *f,
                                        struct MHD_Response **out, co_error *err);

#endif
