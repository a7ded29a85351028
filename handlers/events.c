/* events.c - GET /v1/runs/{id}/events and GET /v1/events: the event log as
 * JSON pages (?after=<id>&limit=) for polling, or as a Server-Sent Events
 * stream when the client sends Accept: text/event-stream (resuming after
 * Last-Event-ID or ?after=). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "handlers/handlers.h"
#include "engine/app.h"
#include "store/resources.h"
#include "store/runs.h"

/* Last-Event-ID (when sent, even empty) wins over ?after; both are event
 * ids: decimal digits only. */
static co_status read_after(co_request *req, int64_t *after, co_error *err)
{
    const char *last = co_req_header(req, "Last-Event-ID");
    const char *v = last ? last : co_req_query(req, "after");
    *after = 0;
    if (!v)
        return CO_OK;
    if (!v_parse_uint(v, strlen(v), after))
        return co_error_field(err, last ? "@Last-Event-ID" : "?after",
                              "must be an event id (a non-negative integer)");
    return CO_OK;
}

static int wants_stream(co_request *req)
{
    const char *accept = co_req_header(req, "Accept");
    return accept && strstr(accept, "text/event-stream") != NULL;
}

/* Checks the ?type= filter against the caller's role and returns the
 * filter to apply (events/events.h co_events_type_match): audit.* events
 * are for admins only, so other roles get "!audit.*" instead of no filter
 * and 403 for an audit type. */
static co_status type_filter(const co_request *req, const char *type,
                             const char **out, co_error *err)
{
    bool admin = req->role >= CO_ROLE_ADMIN;
    *out = type;
    if (type && (type[0] == '!' || strlen(type) > 39))
        return co_error_field(err, "?type", "must be an event type, or a prefix "
                                            "followed by .* (audit.*)");
    if (type && !admin && strncmp(type, "audit.", 6) == 0)
        return co_error_set(err, CO_ERR_FORBIDDEN,
                            "audit events need the admin role; token '%s' has %s",
                            req->principal,
                            req->role == CO_ROLE_OPERATOR ? "operator" : "viewer");
    if (!type && !admin)
        *out = "!audit.*";
    return CO_OK;
}

/* run_stream: 0 = not a run's stream, 1 = a run's, 2 = a final run's */
static co_status serve(co_request *req, co_response *resp, const char *run_id,
                       const char *project_id, const char *type, int run_stream)
{
    int64_t after;
    int limit = 100;
    const char *l = co_req_query(req, "limit");
    json_t *items = NULL;
    co_status rc;

    if ((rc = type_filter(req, type, &type, &resp->err)) != CO_OK)
        return rc;
    if ((rc = read_after(req, &after, &resp->err)) != CO_OK)
        return rc;
    if (wants_stream(req)) {
        resp->stream.active = true;
        resp->stream.after = after;
        snprintf(resp->stream.run_id, sizeof resp->stream.run_id, "%s", run_id ? run_id : "");
        snprintf(resp->stream.project_id, sizeof resp->stream.project_id, "%s",
                 project_id ? project_id : "");
        snprintf(resp->stream.type, sizeof resp->stream.type, "%s", type ? type : "");
        resp->stream.end_on_final = run_stream > 0;
        resp->stream.run_final = run_stream == 2;
        resp->status = 200;
        return CO_OK;
    }
    if (l) {
        int64_t n;
        if (!v_parse_uint(l, strlen(l), &n) || n < 1 || n > 1000)
            return co_error_field(&resp->err, "?limit", "must be from 1 to 1000");
        limit = (int)n;
    }
    if ((rc = co_events_query(req->app->store, after, 0, run_id, project_id, type, limit,
                              &items, &resp->err)) != CO_OK)
        return rc;
    {
        size_t n = json_array_size(items);
        json_t *lastev = n ? json_array_get(items, n - 1) : NULL;
        int64_t next = lastev ? json_integer_value(json_object_get(lastev, "id")) : after;
        co_resp_json(resp, 200, json_pack("{s:o, s:I, s:b}", "items", items, "next_after",
                                          (json_int_t)next, "more", n == (size_t)limit));
    }
    return CO_OK;
}

co_status h_run_events(co_request *req, co_response *resp)
{
    co_run_row run;
    int final;
    co_status rc = co_runs_load(req->app->store, req->params[0], &run, &resp->err);
    if (rc != CO_OK)
        return rc;
    final = co_run_state_final(run.state);
    co_run_row_clear(&run);
    /* a run's stream ends after its final run.state event (curl -N returns) */
    return serve(req, resp, req->params[0], NULL, co_req_query(req, "type"), 1 + final);
}

co_status h_events(co_request *req, co_response *resp)
{
    const char *run_id = co_req_query(req, "run_id");
    const char *project_id = co_req_query(req, "project_id");
    co_status rc;
    /* a filter naming nothing that exists is a 404, not an empty page */
    if (run_id) {
        co_run_row run;
        if ((rc = co_runs_load(req->app->store, run_id, &run, &resp->err)) != CO_OK)
            return rc;
        co_run_row_clear(&run);
    }
    if (project_id) {
        co_resource p;
        if ((rc = co_res_get(req->app->store, CO_KIND_PROJECT, project_id, &p,
                             &resp->err)) != CO_OK)
            return rc;
        co_resource_clear(&p);
    }
    return serve(req, resp, co_req_query(req, "run_id"), co_req_query(req, "project_id"),
                 co_req_query(req, "type"), 0);
}
