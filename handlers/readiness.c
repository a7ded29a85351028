/* readiness.c - GET /v1/runs/{id}/readiness: the checks a cutover decision
 * rests on, each with its figure, threshold and outcome, and the ETag that
 * POST /v1/runs/{id}/steps/cutover_gate/approve accepts in If-Match.
 *
 * Where the figures come from:
 *  - the run's own record (step states, parameters) and its event log: the
 *    newest engine.status events (CDC latency, bytes behind, as the engines
 *    publish them), the newest table.statistics event (TableState and
 *    ValidationState of every table, DMS's names) and the newest
 *    validation.progress event (continuous validation: mismatches and
 *    chunks left to compare);
 *  - for a PostgreSQL source, while the run is active, a live look at the
 *    source (pg/pg_activity.h): client sessions still connected, and for
 *    pg-logical the slot's bytes behind and replay lag. This is the one
 *    place an HTTP thread talks to a remote system; it is bounded by a 2 s
 *    connect timeout and a 1 s statement timeout, and a source that does not
 *    answer in time makes those checks "unknown" instead of failing the
 *    request.
 *
 * The ETag is a digest of the run's state, current step and version and of
 * every check's id and outcome: it changes when an outcome changes (a table
 * errors, a session connects, latency crosses its threshold), not when a
 * figure merely moves.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pglogical.h"
#include "handlers/handlers.h"
#include "handlers/readiness.h"
#include "core/validate.h"
#include "pg/pg_activity.h"
#include "engine/app.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "store/resources.h"
#include "store/runs.h"
#include "store/secret.h"

#define LIVE_CONNECT_TIMEOUT_S 2
#define LIVE_STATEMENT_TIMEOUT_MS 1000
#define TREND_SAMPLES 60

/* What the live look at the source found. */
typedef struct live {
    int tried;            /* a PostgreSQL source and an active run */
    int ok;               /* it answered */
    char error[600];      /* why not, when tried and not ok */
    pg_source_activity a;
} live;

/* Appends one check. figure and threshold are stolen (NULL: JSON null);
 * pass is 1, 0 or -1 (unknown / not applicable, per status). */
static void check(json_t *checks, const char *id, const char *title, json_t *figure,
                  const char *unit, json_t *threshold, int pass, const char *status,
                  const char *detail)
{
    const char *st = status ? status : pass > 0 ? "pass" : pass == 0 ? "fail" : "unknown";
    json_array_append_new(
        checks, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s}", "id", id, "title",
                          title, "figure", figure ? figure : json_null(), "unit",
                          unit ? json_string(unit) : json_null(), "threshold",
                          threshold ? threshold : json_null(), "pass",
                          pass < 0 ? json_null() : json_boolean(pass), "status", st,
                          "detail", detail ? detail : ""));
}

static json_t *step_of(json_t *run, const char *id)
{
    json_t *s;
    size_t i;
    json_array_foreach(json_object_get(run, "steps"), i, s)
        if (strcmp(v_str(s, "id") ? v_str(s, "id") : "", id) == 0)
            return s;
    return NULL;
}

static int run_active(const char *state)
{
    return strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
           strcmp(state, "awaiting_approval") == 0;
}

/* Looks at a PostgreSQL source, bounded as the top of this file says. */
static void look_at_source(co_request *req, json_t *run, live *lv)
{
    co_resource ep;
    co_error err;
    pg_conn_spec spec;
    char *password = NULL, slot[64];
    size_t plen = 0;
    const char *src_id = v_str(json_object_get(run, "parameters"), "source_endpoint_id");
    const char *engine = v_str(run, "engine");

    memset(lv, 0, sizeof *lv);
    memset(&ep, 0, sizeof ep);
    co_error_clear(&err);
    if (!src_id || !run_active(v_str(run, "state")) ||
        co_res_get(req->app->store, CO_KIND_ENDPOINT, src_id, &ep, &err) != CO_OK)
        return;
    if (strcmp(v_str(ep.doc, "engine") ? v_str(ep.doc, "engine") : "", "postgres") != 0) {
        co_resource_clear(&ep);
        return;
    }
    lv->tried = 1;
    if (ep.secret && co_secret_open_endpoint(&req->app->key, ep.id, ep.doc, ep.secret,
                                             ep.secret_len, &password, &plen,
                                             &err) != CO_OK) {
        snprintf(lv->error, sizeof lv->error, "%s", err.message);
        co_resource_clear(&ep);
        return;
    }
    pg_conn_spec_from_endpoint(ep.doc, password, &spec);
    spec.connect_timeout_s = LIVE_CONNECT_TIMEOUT_S;
    spec.statement_timeout_ms = LIVE_STATEMENT_TIMEOUT_MS;
    spec.run_id = v_str(run, "id");
    co_pgl_object_name(v_str(run, "id"), "main", slot);
    if (pg_source_activity_read(&spec, engine && strcmp(engine, "pg-logical") == 0
                                           ? slot : NULL, &lv->a, &err) == CO_OK)
        lv->ok = 1;
    else
        snprintf(lv->error, sizeof lv->error, "the source did not answer: %s",
                 err.message);
    if (password) {
        OPENSSL_cleanse(password, plen);
        free(password);
    }
    co_resource_clear(&ep);
}

/* CDC latency, its trend and pending changes from the engine.status
 * events (newest first in statuses) and the live look. */
static void cdc_checks(json_t *checks, json_t *run, json_t *statuses, const live *lv)
{
    json_t *params = json_object_get(run, "parameters");
    json_t *thr = json_object_get(params, "cdc_latency_threshold_seconds");
    double threshold = json_is_number(thr) ? json_number_value(thr) : 5.0;
    double newest = -1, oldest = -1;
    long long bytes = -1;
    int samples = 0;
    char detail[640] = "";
    json_t *e;
    size_t i;

    json_array_foreach(statuses, i, e) {
        json_t *d = json_object_get(e, "data");
        json_t *lat = json_object_get(d, "CDCLatencyTarget");
        const char *task = v_str(d, "task");
        if (!json_is_number(lat) || (task && strcmp(task, "main") != 0))
            continue;
        if (samples == 0) {
            newest = json_number_value(lat);
            if (json_is_integer(json_object_get(d, "BytesBehind")))
                bytes = json_integer_value(json_object_get(d, "BytesBehind"));
            snprintf(detail, sizeof detail, "as reported at %s",
                     v_str(e, "created_at") ? v_str(e, "created_at") : "?");
        }
        oldest = json_number_value(lat);
        samples++;
    }
    if (lv->ok && lv->a.bytes_behind > 0 && lv->a.lag_seconds < 0) {
        /* the source says changes are behind and no subscriber is
         * connected: the latency reported earlier no longer holds */
        newest = -1;
        bytes = lv->a.bytes_behind;
        snprintf(detail, sizeof detail,
                 "measured now on the source: changes behind and no subscriber connected");
    } else if (lv->ok && lv->a.bytes_behind >= 0) {
        /* an unknown lag with nothing behind: caught up */
        double now_lag = lv->a.lag_seconds < 0 ? 0 : lv->a.lag_seconds;
        if (samples > 0)
            oldest = samples == 1 ? newest : oldest;
        else
            oldest = now_lag;
        newest = now_lag;
        bytes = lv->a.bytes_behind;
        samples++;
        snprintf(detail, sizeof detail, "measured now on the source");
    } else if (lv->tried && !lv->ok) {
        snprintf(detail, sizeof detail, "%s", lv->error);
    }
    if (newest < 0)
        check(checks, "cdc_latency", "CDC latency", NULL, "s", json_real(threshold), -1,
              NULL, detail[0] ? detail : "no CDC latency reported yet");
    else
        check(checks, "cdc_latency", "CDC latency", json_real(newest), "s",
              json_real(threshold), newest <= threshold, NULL, detail);
    if (samples < 2)
        check(checks, "cdc_latency_trend", "CDC latency trend", NULL, "s", json_real(0),
              -1, NULL, "fewer than two latency samples");
    else {
        double delta = newest - oldest;
        char d2[120];
        snprintf(d2, sizeof d2, "%s over the last %d samples",
                 delta > 0 ? "rising" : delta < 0 ? "falling" : "steady", samples);
        check(checks, "cdc_latency_trend", "CDC latency trend", json_real(delta), "s",
              json_real(0), delta <= 0 || newest == 0, NULL, d2);
    }
    if (bytes < 0)
        check(checks, "pending_changes", "Pending changes (bytes behind)", NULL, "bytes",
              json_integer(0), -1, NULL,
              strcmp(v_str(run, "engine"), "aws-dms") == 0
                  ? "AWS DMS does not report pending changes through its API"
                  : "not measured yet");
    else
        check(checks, "pending_changes", "Pending changes (bytes behind)",
              json_integer(bytes), "bytes", json_integer(0), bytes == 0, NULL, detail);
}

/* Tables loaded and their validation, from the newest table.statistics
 * event of the main task (newest first in stats). */
/* The count a per-table member stands for: an integer, or an array's size
 * (a list of mismatches). */
static json_int_t count_of(json_t *v)
{
    return json_is_array(v) ? (json_int_t)json_array_size(v) : json_integer_value(v);
}

/* Validation from the newest validation.progress event (pg-logical's
 * continuous validation): passes when no table has a mismatch and no chunk
 * is left to compare. Returns 0 when there is no such event. */
static int validation_progress_check(json_t *checks, json_t *progress)
{
    json_t *d = json_object_get(json_array_get(progress, 0), "data"), *t;
    json_int_t mismatches = 0, pending, rows = 0;
    char detail[256];
    size_t i;
    if (!d)
        return 0;
    pending = json_integer_value(json_object_get(d, "chunks_pending"));
    json_array_foreach(json_object_get(d, "tables"), i, t) {
        mismatches += count_of(json_object_get(t, "mismatches"));
        rows += json_integer_value(json_object_get(t, "rows_validated"));
    }
    snprintf(detail, sizeof detail,
             "%lld rows validated, %lld mismatches, %lld chunks and %lld changed keys "
             "left to compare", (long long)rows, (long long)mismatches, (long long)pending,
             (long long)json_integer_value(json_object_get(d, "changed_keys_pending")));
    check(checks, "validation", "Validation", json_integer(mismatches), "mismatches",
          json_integer(0), mismatches == 0 && pending == 0, NULL, detail);
    return 1;
}

static void table_checks(json_t *checks, json_t *run, json_t *stats, json_t *progress)
{
    json_t *tables = NULL, *e, *t, *vstep = step_of(run, "validate");
    size_t i, n = 0, loaded = 0, bad = 0, vtot = 0, vok = 0, vbad = 0;
    char detail[256] = "", vdetail[256] = "";
    size_t used = 0;

    json_array_foreach(stats, i, e) {
        const char *task = v_str(json_object_get(e, "data"), "task");
        if (!task || strcmp(task, "main") == 0) {
            tables = json_object_get(json_object_get(e, "data"), "tables");
            break;
        }
    }
    json_array_foreach(tables, i, t) {
        const char *st = v_str(t, "TableState") ? v_str(t, "TableState") : "";
        const char *vs = v_str(t, "ValidationState");
        n++;
        if (strcmp(st, "Table completed") == 0)
            loaded++;
        if (strcmp(st, "Table error") == 0 || strcmp(st, "Table suspended") == 0 ||
            strcmp(st, "Table cancelled") == 0) {
            bad++;
            if (used < 180)
                used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s.%s: %s",
                                         used ? ", " : "", v_str(t, "SchemaName"),
                                         v_str(t, "TableName"), st);
        }
        if (vs && strcmp(vs, "Not enabled") != 0) {
            vtot++;
            if (strcmp(vs, "Validated") == 0)
                vok++;
            else if (strstr(vs, "Mismatch") || strstr(vs, "Error") || strstr(vs, "error") ||
                     strstr(vs, "Suspended"))
                vbad++;
        }
    }
    if (n == 0)
        check(checks, "tables_loaded", "Every table loaded", NULL, "tables", NULL, -1, NULL,
              "no table statistics reported yet");
    else {
        if (!detail[0])
            snprintf(detail, sizeof detail, "%zu of %zu tables completed", loaded, n);
        check(checks, "tables_loaded", "Every table loaded", json_integer((json_int_t)loaded),
              "tables", json_integer((json_int_t)n), loaded == n && bad == 0, NULL, detail);
    }
    if (validation_progress_check(checks, progress)) {
        /* continuous validation reports its own progress */
    } else if (vstep) {
        const char *st = v_str(vstep, "state");
        snprintf(vdetail, sizeof vdetail, "step validate is %s", st);
        check(checks, "validation", "Validation", json_string(st), NULL,
              json_string("succeeded"), strcmp(st, "succeeded") == 0, NULL, vdetail);
    } else if (vtot > 0) {
        snprintf(vdetail, sizeof vdetail, "%zu of %zu tables validated, %zu with mismatches "
                 "or errors", vok, vtot, vbad);
        check(checks, "validation", "Validation", json_integer((json_int_t)vok), "tables",
              json_integer((json_int_t)vtot), vok == vtot, NULL, vdetail);
    } else {
        check(checks, "validation", "Validation", NULL, NULL, NULL, -1, "not_applicable",
              "no validation is configured for this run");
    }
}

static void constraint_check(json_t *checks, json_t *run)
{
    json_t *s = step_of(run, "restore_constraints");
    char detail[120];
    const char *st;
    if (!s) {
        check(checks, "constraints_restored", "Constraints restored", NULL, NULL, NULL, -1,
              "not_applicable", "the plan does not drop constraints");
        return;
    }
    st = v_str(s, "state");
    snprintf(detail, sizeof detail, "step restore_constraints is %s", st);
    check(checks, "constraints_restored", "Constraints restored", json_string(st), NULL,
          json_string("succeeded"),
          strcmp(st, "succeeded") == 0 || strcmp(st, "skipped") == 0, NULL, detail);
}

static void session_check(json_t *checks, const live *lv)
{
    char detail[200];
    if (!lv->tried) {
        check(checks, "source_sessions", "Client sessions on the source", NULL, "sessions",
              json_integer(0), -1, "not_applicable",
              "only measured for PostgreSQL sources of an active run");
        return;
    }
    if (!lv->ok) {
        check(checks, "source_sessions", "Client sessions on the source", NULL, "sessions",
              json_integer(0), -1, NULL, lv->error);
        return;
    }
    snprintf(detail, sizeof detail, "%lld client session%s connected to the source "
             "database (pg_stat_activity, replication excluded)",
             lv->a.client_sessions, lv->a.client_sessions == 1 ? "" : "s");
    check(checks, "source_sessions", "Client sessions on the source",
          json_integer(lv->a.client_sessions), "sessions", json_integer(0),
          lv->a.client_sessions == 0, NULL, detail);
}

/* The ETag: first 16 bytes of SHA-256 over the run's state, current step,
 * version and every check's id and status, in hex. */
static void readiness_etag(json_t *run, json_t *checks, char out[33])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char head[128];
    json_t *c;
    size_t i;
    out[0] = '\0';
    if (!ctx)
        return;
    snprintf(head, sizeof head, "%s|%lld", v_str(run, "state"),
             (long long)json_integer_value(json_object_get(run, "version")));
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, head, strlen(head) + 1);
    EVP_DigestUpdate(ctx, v_str(run, "current_step") ? v_str(run, "current_step") : "",
                     strlen(v_str(run, "current_step") ? v_str(run, "current_step") : "") + 1);
    json_array_foreach(checks, i, c) {
        EVP_DigestUpdate(ctx, v_str(c, "id"), strlen(v_str(c, "id")) + 1);
        EVP_DigestUpdate(ctx, v_str(c, "status"), strlen(v_str(c, "status")) + 1);
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    co_hex_encode(md, 16, out);
}

co_status co_readiness_build(co_request *req, const char *run_id, json_t **out,
                             char etag[40], co_error *err)
{
    /* the newest events the checks read, in the order of feed[] */
    static const struct {
        const char *type;
        int newest;
    } feeds[] = {
        {"engine.status", TREND_SAMPLES},
        {"table.statistics", 4},
        {"validation.progress", 1},
    };
    enum { F_STATUSES, F_STATS, F_PROGRESS, F_COUNT };
    _Static_assert(sizeof feeds / sizeof feeds[0] == F_COUNT, "one per feed");
    json_t *run = NULL, *feed[F_COUNT] = {NULL}, *checks;
    char now[32], tag[33];
    int ready = 1;
    live lv;
    json_t *c;
    size_t i;
    co_status rc;

    if ((rc = co_runs_json(req->app->store, run_id, &run, err)) != CO_OK)
        return rc;
    for (int f = 0; f < F_COUNT; f++)
        if ((rc = co_events_newest(req->app->store, run_id, feeds[f].type, feeds[f].newest,
                                   &feed[f], err)) != CO_OK)
            goto out;
    look_at_source(req, run, &lv);
    checks = json_array();
    cdc_checks(checks, run, feed[F_STATUSES], &lv);
    table_checks(checks, run, feed[F_STATS], feed[F_PROGRESS]);
    constraint_check(checks, run);
    session_check(checks, &lv);
    json_array_foreach(checks, i, c)
        if (!json_is_true(json_object_get(c, "pass")) &&
            strcmp(v_str(c, "status"), "not_applicable") != 0)
            ready = 0;
    readiness_etag(run, checks, tag);
    snprintf(etag, 40, "r-%s", tag);
    co_clock_rfc3339(co_clock_now_ms(), now, sizeof now);
    *out = json_pack("{s:s, s:s, s:o, s:b, s:s, s:s, s:o}", "run_id", run_id, "state",
                     v_str(run, "state"), "current_step",
                     v_str(run, "current_step") ? json_string(v_str(run, "current_step"))
                                                : json_null(),
                     "ready", ready, "etag", etag, "checked_at", now, "checks", checks);
    if (!*out)
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
out:
    json_decref(run);
    for (int f = 0; f < F_COUNT; f++)
        json_decref(feed[f]);
    return rc;
}

co_status h_runs_readiness(co_request *req, co_response *resp)
{
    json_t *body = NULL;
    char etag[40];
    co_status rc = co_readiness_build(req, req->params[0], &body, etag, &resp->err);
    if (rc != CO_OK)
        return rc;
    snprintf(resp->etag, sizeof resp->etag, "%s", etag);
    co_resp_json(resp, 200, body);
    return CO_OK;
}

co_status co_readiness_if_match(co_request *req, const char *run_id, co_error *err)
{
    const char *want = co_req_header(req, "If-Match");
    json_t *body = NULL;
    char etag[40], quoted[44];
    co_status rc;
    if (!want || strcmp(want, "*") == 0)
        return CO_OK;
    if ((rc = co_readiness_build(req, run_id, &body, etag, err)) != CO_OK)
        return rc;
    json_decref(body);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    if (strcmp(want, quoted) == 0 || strcmp(want, etag) == 0)
        return CO_OK;
    co_error_set(err, CO_ERR_PRECONDITION,
                 "the cutover readiness changed since it was read (now %s): read "
                 "GET /v1/runs/%s/readiness again before approving", quoted, run_id);
    return co_error_field(err, "@If-Match", "not the current readiness ETag");
}
