/* runs_query.c - the run read routes made for automation:
 * GET /v1/runs (every project, with filters and ordering, view=basic),
 * GET /v1/runs/{id} (ETag, If-None-Match -> 304, ?wait= long poll) and
 * GET /v1/runs/{id}/tables (the latest table statistics in DMS's shape).
 *
 * A run's ETag is a digest of its representation, so it changes whenever
 * anything a client sees changes (a step, the progress, the error), and a
 * poller sending If-None-Match gets 304 until then. ?wait= never blocks an
 * HTTP thread: the request is parked in the event hub (co_events_park) and
 * handled again when an event of the run is published or time is up. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/plans.h"
#include "handlers/handlers.h"
#include "engine/app.h"
#include "core/clock.h"
#include "events/events.h"
#include "store/runs.h"
#include "store/runs_query.h"

#define MAX_WAIT_S 60

void co_run_etag(const json_t *run, char out[64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *text = json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS);
    out[0] = '\0';
    if (!text)
        return;
    if (EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL) == 1)
        for (unsigned i = 0; i < 12 && i < n; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    free(text);
}

/* True when If-None-Match lists etag (or is "*"). */
static bool none_match_hit(const char *inm, const char *etag)
{
    char quoted[80];
    if (!inm || !etag[0])
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    return strstr(inm, quoted) != NULL;
}

/* ?view=basic|full; true for basic. */
static co_status read_view(co_request *req, bool *basic, co_error *err)
{
    const char *v = co_req_query(req, "view");
    *basic = false;
    if (!v || strcmp(v, "full") == 0)
        return CO_OK;
    if (strcmp(v, "basic") == 0) {
        *basic = true;
        return CO_OK;
    }
    return co_error_field(err, "?view", "must be basic or full");
}

co_status h_runs_get(co_request *req, co_response *resp)
{
    const char *inm = co_req_header(req, "If-None-Match");
    const char *w = co_req_query(req, "wait");
    int64_t seen = co_events_latest(req->app->events), now = co_clock_now_ms();
    long wait_s = 0;
    bool basic, same;
    json_t *run = NULL;
    co_status rc;

    if (w) {
        char *end;
        wait_s = strtol(w, &end, 10);
        if (end == w || *end || wait_s < 0 || wait_s > MAX_WAIT_S)
            return co_error_field(&resp->err, "?wait", "must be an integer from 0 to %d",
                                  MAX_WAIT_S);
    }
    if ((rc = read_view(req, &basic, &resp->err)) != CO_OK)
        return rc;
    if ((rc = co_runs_json(req->app->store, req->params[0], &run, &resp->err)) != CO_OK)
        return rc;
    if (basic)
        json_object_del(run, "steps");
    co_run_etag(run, resp->etag);
    same = none_match_hit(inm, resp->etag);
    if (wait_s > 0 && !co_run_state_final(co_run_state_parse(json_string_value(json_object_get(run, "state"))))) {
        int64_t until = req->wait_until_ms ? req->wait_until_ms : now + wait_s * 1000;
        /* without If-None-Match any event of the run ends the wait; with it,
         * only a representation that differs from the one named */
        bool hold = inm ? same : req->wait_until_ms == 0;
        if (hold && now < until) {
            resp->wait_until_ms = until;
            resp->wait_seen = seen;
            snprintf(resp->wait_run_id, sizeof resp->wait_run_id, "%s", req->params[0]);
        }
    }
    if (same) {
        json_decref(run);
        resp->status = 304;
        return CO_OK;
    }
    co_resp_json(resp, 200, run);
    return CO_OK;
}

/* Reads a comma-separated query list into a JSON array text (*out malloc'd,
 * NULL when absent), checking each value with ok() (NULL = anything). */
static co_status query_list(co_request *req, const char *name, bool (*ok)(const char *),
                            const char *expect, char **out, co_error *err)
{
    const char *v = co_req_query(req, name);
    char ptr[40], *copy, *save = NULL;
    json_t *arr;
    *out = NULL;
    if (!v)
        return CO_OK;
    snprintf(ptr, sizeof ptr, "?%s", name);
    if (!*v || strlen(v) > 1000)
        return co_error_field(err, ptr, "must be %s (comma-separated)", expect);
    if (!(copy = strdup(v)))
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    arr = json_array();
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (ok && !ok(t)) {
            /* the message quotes t, which lives in copy: free it afterwards */
            co_status rc = co_error_field(err, ptr, "'%.40s' is not %s", t, expect);
            free(copy);
            json_decref(arr);
            return rc;
        }
        json_array_append_new(arr, json_string(t));
    }
    free(copy);
    *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return *out ? CO_OK : co_error_set(err, CO_ERR_NOMEM, "out of memory");
}

static bool is_run_state(const char *s)
{
    return co_run_state_parse(s) < CO_RUN_STATE_LAST;
}

static bool is_plan(const char *s)
{
    return co_plan_find(s) != NULL;
}

static bool is_engine(const char *s)
{
    return co_engine_find(s) != NULL;
}

/* Reads timestamp query parameter name into buf[32] normalised as the store
 * writes it; buf[0] = 0 when absent. */
static co_status query_time(co_request *req, const char *name, char buf[32], co_error *err)
{
    const char *v = co_req_query(req, name);
    int64_t ms;
    buf[0] = '\0';
    if (!v)
        return CO_OK;
    if ((ms = co_clock_parse_rfc3339(v)) < 0) {
        char ptr[40];
        snprintf(ptr, sizeof ptr, "?%s", name);
        return co_error_field(err, ptr, "must be an RFC 3339 UTC time such as "
                                        "2026-11-23T11:48:18Z");
    }
    co_clock_rfc3339(ms, buf, 32);
    return CO_OK;
}

/* Errors of the query checks are collected in resp->err (one per field). */
static void collected(co_status s)
{
    (void)s;
}

/* A list filter of GET /v1/runs: query parameter, value check (NULL =
 * anything) and what a value must be, for the error. */
typedef struct list_param {
    const char *param;
    bool (*ok)(const char *);
    const char *expect;
} list_param;

enum { L_STATES, L_PLANS, L_ENGINES, L_PROJECTS, L_COUNT };

static const list_param list_params[L_COUNT] = {
    [L_STATES] = {"state", is_run_state, "a run state"},
    [L_PLANS] = {"plan", is_plan, "a plan id"},
    [L_ENGINES] = {"engine", is_engine, "an engine"},
    [L_PROJECTS] = {"project_id", NULL, "a project id"},
};

co_status h_runs_query(co_request *req, co_response *resp)
{
    co_runs_filter f;
    char *lists[L_COUNT] = {NULL};
    char after_t[32], before_t[32];
    const char *order = co_req_query(req, "order_by");
    co_error *err = &resp->err;
    json_t *items = NULL;
    int64_t after, last = 0;
    int limit;
    bool more = false;
    co_status rc;

    memset(&f, 0, sizeof f);
    collected(co_req_page(req, &limit, &after, err));
    collected(read_view(req, &f.basic, err));
    for (int i = 0; i < L_COUNT; i++)
        collected(query_list(req, list_params[i].param, list_params[i].ok,
                             list_params[i].expect, &lists[i], err));
    collected(query_time(req, "created_after", after_t, err));
    collected(query_time(req, "created_before", before_t, err));
    if (order && strcmp(order, "created_at") != 0 && strcmp(order, "-created_at") != 0)
        co_error_field(err, "?order_by", "must be created_at or -created_at");
    if ((rc = err->status) != CO_OK)
        goto out;
    f.states = lists[L_STATES];
    f.plans = lists[L_PLANS];
    f.engines = lists[L_ENGINES];
    f.project_ids = lists[L_PROJECTS];
    f.created_after = after_t[0] ? after_t : NULL;
    f.created_before = before_t[0] ? before_t : NULL;
    f.newest_first = order && order[0] == '-';
    if ((rc = co_runs_query(req->app->store, &f, after, limit, &items, &last, &more, err)) !=
        CO_OK)
        goto out;
    co_resp_page(resp, items, more, last);
out:
    for (int i = 0; i < L_COUNT; i++)
        free(lists[i]);
    return rc;
}

co_status h_run_tables(co_request *req, co_response *resp)
{
    json_t *body = NULL;
    int64_t id = 0;
    co_status rc = co_runs_exists(req->app->store, req->params[0], &resp->err);
    if (rc != CO_OK)
        return rc;
    if ((rc = co_runs_tables(req->app->store, req->params[0], &body, &id, &resp->err)) !=
        CO_OK)
        return rc;
    json_object_set_new(body, "run_id", json_string(req->params[0]));
    snprintf(resp->etag, sizeof resp->etag, "t%lld", (long long)id);
    if (none_match_hit(co_req_header(req, "If-None-Match"), resp->etag)) {
        json_decref(body);
        resp->status = 304;
        return CO_OK;
    }
    co_resp_json(resp, 200, body);
    return CO_OK;
}
