/* http.h - the HTTP server (libmicrohttpd) that fills the request records
 * of handlers/request.h and sends their responses.
 *
 * DESIGN
 * libmicrohttpd runs its own thread pool (internal polling, epoll). For each
 * request, on_request in http.c buffers the body (up to the configured
 * limit), authenticates the bearer token, routes the path through the
 * static route table (server/routes.c), calls the handler on the pool
 * thread, and turns the co_response into an MHD response: JSON, raw bytes,
 * or RFC 9457 problem+json when the handler returned an error. Handlers
 * only touch SQLite and in-memory state; they never wait on a remote
 * system. Streaming responses (SSE) hand over a ready MHD response.
 */
#ifndef CUTOVER_SERVER_HTTP_H
#define CUTOVER_SERVER_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "handlers/request.h"

/* The running HTTP server. */
typedef struct co_http co_http;

/* Starts serving on the configured address with app's configuration.
 * *out is freed by co_http_stop. Errors: CO_ERR_IO (bind failed),
 * CO_ERR_INVALID (address). */
CO_MUST_CHECK co_status co_http_start(co_app *app, co_http **out, co_error *err);

/* Port actually bound (useful with port 0). */
uint16_t co_http_port(const co_http *http);

/* Drains and stops: from the call on, requests that arrive are answered
 * 503 problem+json (type busy, Retry-After: 5); requests in flight may
 * finish for up to drain_ms (milliseconds); then streaming connections and
 * the listening socket are closed and http is freed. NULL-safe. */
void co_http_stop(co_http *http, int drain_ms);

#endif
