/* webhooks.h - webhook subscriptions, their outbox and delivery attempts.
 *
 * DESIGN
 * A webhook belongs to a project and names the event types it wants
 * ("run.state", "run.*" style prefixes, or "*"). co_webhooks_enqueue runs in
 * the transaction that appends an event (events/events.c co_evb_add), so a
 * committed event has its outbox rows and a rolled back one has none: a
 * crash loses no delivery. The sender (server/webhook_sender.c) takes due
 * rows oldest first, never a row while an older row of the same webhook and
 * run is pending (in event order per run), and records each attempt. The
 * body is the Standard Webhooks payload {"type", "timestamp", "data"} built
 * by SQLite from the event row; the message id is "evt_<event id>", the
 * same on every attempt.
 */
#ifndef CUTOVER_STORE_WEBHOOKS_H
#define CUTOVER_STORE_WEBHOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

/* In the event's transaction: queues event event_id (type, data as compact
 * JSON text, created_at RFC 3339) for every enabled webhook of project_id
 * whose events match type; now_ms is when it is first due. NULL project_id
 * queues nothing. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_enqueue(co_store *store, int64_t event_id,
                                            const char *run_id, const char *project_id,
                                            const char *type, const char *data,
                                            const char *created_at, int64_t now_ms,
                                            co_error *err);

/* Inserts webhook id of project_id with url, events (a JSON array,
 * borrowed) and its sealed secret. Errors: CO_ERR_CONFLICT (project gone),
 * CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_insert(co_store *store, const char *id,
                                           const char *project_id, const char *url,
                                           const json_t *events, const unsigned char *secret,
                                           size_t secret_len, co_error *err);

/* The public representation of webhook id (new reference): {id, project_id,
 * url, events, enabled, disabled_reason, failing_since, created_at,
 * updated_at}; never the secret. Errors: CO_ERR_NOT_FOUND, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_get(co_store *store, const char *id, json_t **out,
                                        co_error *err);

/* Webhooks of project_id as a new array of representations (*out, caller
 * decrefs). Errors: CO_ERR_NOT_FOUND when the project does not exist,
 * CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_list(co_store *store, const char *project_id,
                                         json_t **out, co_error *err);

/* Changes url / events / enabled of webhook id (NULL or < 0 = keep);
 * enabling clears disabled_reason and failing_since. Errors:
 * CO_ERR_NOT_FOUND, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_update(co_store *store, const char *id, const char *url,
                                           const json_t *events, int enabled, co_error *err);

/* Deletes webhook id with its outbox. Errors: CO_ERR_NOT_FOUND, CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_delete(co_store *store, const char *id, co_error *err);

/* Up to limit due messages (new array of {outbox_id, webhook_id,
 * project_id, event_id, url, body, attempts, first_at, failing_since}),
 * oldest first, in event order per webhook and run. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_due(co_store *store, int64_t now_ms, int limit,
                                        json_t **out, co_error *err);

/* The sealed secret of webhook id (*blob malloc'd, caller frees). Errors:
 * CO_ERR_NOT_FOUND, CO_ERR_STORE, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status co_webhooks_secret(co_store *store, const char *id,
                                           unsigned char **blob, size_t *len,
                                           co_error *err);

/* Records attempt `attempt` of outbox row outbox_id: HTTP status (0 = no
 * answer) and error text (NULL when delivered). delivered: the row is done;
 * otherwise give_up marks it failed, else it is due again at next_at. The
 * webhook's failing_since is cleared on delivery and set (if unset) to
 * now_ms on failure. Runs its own transaction. Errors: CO_ERR_STORE. */
CO_MUST_CHECK co_status co_webhooks_record(co_store *store, int64_t outbox_id,
                                           const char *webhook_id, int attempt,
                                           long status, const char *error,
                                           int64_t duration_ms, bool delivered,
                                           bool give_up, int64_t next_at, int64_t now_ms,
                                           co_error *err);

/* In a transaction: disables webhook id with reason. */
CO_MUST_CHECK co_status co_webhooks_disable(co_store *store, const char *id,
                                            const char *reason, co_error *err);

/* The newest limit deliveries of webhook id (new array of {event_id,
 * webhook_message_id, type, state, attempts, next_attempt_at, created_at,
 * attempts_detail: [{attempt, status, error, duration_ms, at}]}). */
CO_MUST_CHECK co_status co_webhooks_deliveries(co_store *store, const char *id, int limit,
                                               json_t **out, co_error *err);

#endif
