/* webhook_sender.h - the delivery worker of webhooks (store/webhooks.h).
 *
 * DESIGN
 * One thread takes due outbox rows (oldest first, in event order per
 * webhook and run) and POSTs each body, signed the Standard Webhooks way:
 * webhook-id ("evt_<event id>", the same on every attempt), webhook-timestamp
 * (Unix seconds) and webhook-signature "v1,<base64 HMAC-SHA256 over
 * id.timestamp.body>" keyed with the base64 part of the "whsec_" secret.
 * A 2xx answer delivers; anything else is retried with exponential backoff
 * (5 s doubling, capped at 1 h, equal jitter) until 24 hours after the
 * event, then the row fails. A webhook whose deliveries failed for 24 hours
 * without a success is disabled, with a "webhook.disabled" event. Delivery
 * is at least once: a crash between the POST and its record sends the
 * same webhook-id again. Targets must be https:// and public addresses
 * unless --webhook-allow-private (checked again on the socket, so a name
 * that resolves to a private address is refused too).
 * CUTOVER_WEBHOOK_TIME_SCALE (default 1) scales the backoff and the 24 h
 * limits (tests).
 *
 * THREADS: its own thread with its own SQLite connection and CURL handle.
 */
#ifndef CUTOVER_SERVER_WEBHOOK_SENDER_H
#define CUTOVER_SERVER_WEBHOOK_SENDER_H

#include "core/status.h"

typedef struct co_app co_app;
typedef struct co_webhook_sender co_webhook_sender;

/* Starts the worker for app (borrowed; its store, key, events hub and
 * configuration). Errors: CO_ERR_NOMEM, CO_ERR_INTERNAL (thread). */
CO_MUST_CHECK co_status co_webhook_sender_start(co_app *app, co_webhook_sender **out,
                                                co_error *err);

/* Stops the worker after its current delivery (at most the 10 s request
 * timeout) and frees it. NULL-safe. */
void co_webhook_sender_stop(co_webhook_sender *s);

#endif
