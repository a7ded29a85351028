/* audit.h - the audit trail: who changed what, as events.
 *
 * DESIGN
 * Every create, update and delete of a project, endpoint, replication
 * instance or task, every run creation and run action (pause, resume,
 * cancel, approve, retry) is appended to the event log as an event of type
 * audit.<resource>.<action> (resource: project, endpoint,
 * replication_instance, task, run; and audit.session.create for a sign-in,
 * server/session.c) with data {actor, role, address,
 * request_id, id, ...}: updates list the names of the members they changed
 * ("fields"; "password" when it was set or cleared), never a value, so no
 * secret reaches the log. The event is written after the change committed
 * (its own transaction); a failure to write it is logged. Audit events are
 * read with GET /v1/events?type=audit.* by admins only (handlers/events.c)
 * and kept like every other event.
 *
 * THREADS: HTTP pool threads; no state of its own.
 */
#ifndef CUTOVER_HANDLERS_AUDIT_H
#define CUTOVER_HANDLERS_AUDIT_H

#include <jansson.h>

#include "handlers/request.h"

/* Appends audit.<resource>.<action> for resource id (project_id and run_id
 * may be NULL or "") made by req's caller. extra (stolen; may be NULL) is
 * merged into the data. Never fails: a store error is logged. */
void co_audit(const co_request *req, const char *resource, const char *action,
              const char *id, const char *project_id, const char *run_id,
              json_t *extra);

/* The names of the members whose values differ between before and after
 * (objects; NULL counts as {}), sorted, as a new JSON array. */
json_t *co_audit_changed(const json_t *before, const json_t *after);

#endif
