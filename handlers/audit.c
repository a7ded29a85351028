/* audit.c - see audit.h. */
#include "handlers/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "engine/app.h"
#include "events/events.h"

static const char *role_name(co_role role)
{
    static const char *const names[] = {"none", "viewer", "operator", "admin"};
    _Static_assert(sizeof names / sizeof names[0] == CO_ROLE_LAST,
                   "names must cover co_role");
    return (unsigned)role < CO_ROLE_LAST ? names[role] : "none";
}

void co_audit(const co_request *req, const char *resource, const char *action,
              const char *id, const char *project_id, const char *run_id,
              json_t *extra)
{
    char type[48];
    co_error err;
    co_evb b;
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "actor",
                             req->principal ? req->principal : "anonymous", "role",
                             role_name(req->role), "address",
                             req->address ? req->address : "unknown", "request_id",
                             req->request_id ? req->request_id : "", "id", id);
    co_status rc;

    co_error_clear(&err);
    snprintf(type, sizeof type, "audit.%s.%s", resource, action);
    if (data && extra)
        json_object_update(data, extra);
    json_decref(extra);
    if (!data) {
        co_log(CO_LOG_WARN, "audit", "%s %s: out of memory", type, id);
        return;
    }
    if (!req->app->events) {
        json_decref(data);
        return;
    }
    if ((rc = co_evb_begin(&b, req->app->events, req->app->store, &err)) != CO_OK) {
        json_decref(data);
    } else if ((rc = co_evb_add(&b, req->app->store, run_id && *run_id ? run_id : NULL,
                                project_id && *project_id ? project_id : NULL, type,
                                data, &err)) != CO_OK) {
        co_evb_abort(&b, req->app->store);
    } else {
        rc = co_evb_commit(&b, req->app->store, &err);
    }
    if (rc != CO_OK)
        co_log(CO_LOG_WARN, "audit", "could not record %s of %s by %s: %s", type, id,
               req->principal ? req->principal : "anonymous", err.message);
}

json_t *co_audit_changed(const json_t *before, const json_t *after)
{
    json_t *names = json_array();
    json_t *all = json_object(), *v;
    const char *key;
    if (before)
        json_object_update(all, (json_t *)before);
    if (after)
        json_object_update(all, (json_t *)after);
    json_object_foreach(all, key, v) {
        json_t *a = before ? json_object_get(before, key) : NULL;
        json_t *b = after ? json_object_get(after, key) : NULL;
        (void)v;
        if (!(a && b && json_equal(a, b)))
            json_array_append_new(names, json_string(key));
    }
    json_decref(all);
    return names;
}
