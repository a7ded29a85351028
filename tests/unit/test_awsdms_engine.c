/* test_awsdms_engine.c - the aws-dms engine's operations (engine/awsdms.h)
 * end to end against the loopback fake DMS (tests/fakes/fake_dms.py),
 * without the plan runner: each operation is called the way a step
 * function calls it, WAIT and RETRY verdicts are simply called again.
 *
 * The fake is started by this program (/usr/bin/python3, port chosen by the
 * kernel, 127.0.0.1 only) with its virtual clock at 50x; engine polls are
 * scaled down with CUTOVER_DMS_POLL_SCALE. Scenarios: the oracle-to-postgres
 * sequence of operations (instance, endpoints with connection tests and
 * schema refresh, main task full load with its pause after cached changes,
 * resume, CDC, stop, the reverse rollback task and its deletion);
 * idempotency (a step re-run with lost outputs adopts what exists); the
 * same sequence under 30 % injected faults; a table error and a failed
 * connection test naming what failed. Skipped (exit 77) when python3 or
 * botocore is missing.
 */
#include <curl/curl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "engine/awsdms.h"
#include "engine/plans.h"
#include "engine/step.h"
#include "core/buf.h"
#include "events/events.h"
#include "store/secret.h"
#include "tests/unit/tap.h"

static char fake_url[64];
static pid_t fake_pid;
static co_app app;
static char project_id[CO_ID_SIZE], src_id[CO_ID_SIZE], tgt_id[CO_ID_SIZE],
    task_id[CO_ID_SIZE];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the fake ------------------------------------------------------------ */

static size_t sink(char *d, size_t s, size_t n, void *u)
{
    co_buf *b = u;
    return co_buf_append(b, d, s * n) == CO_OK ? s * n : 0;
}

/* GET (body NULL) or POST a control call; returns the parsed answer. */
static json_t *control(const char *path, const char *body)
{
    char url[160];
    co_buf b = {0};
    json_t *out = NULL;
    CURL *h = curl_easy_init();
    snprintf(url, sizeof url, "%s%s", fake_url, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(h) == CURLE_OK && b.data)
        out = json_loads(b.data, 0, NULL);
    curl_easy_cleanup(h);
    co_buf_free(&b);
    return out;
}

static void control_ok(const char *path, const char *body)
{
    json_t *r = control(path, body);
    CHECK(r != NULL && !json_object_get(r, "error"), "control %s %s", path, body);
    json_decref(r);
}

static int start_fake(const char *dir)
{
    char port_file[300];
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import botocore' 2>/dev/null") != 0)
        return -1;
    fake_pid = fork();
    if (fake_pid == 0) {
        execl("/usr/bin/python3", "python3", "tests/fakes/fake_dms.py", "--port", "0",
              "--port-file", port_file, "--speed", "50",
              getenv("TEST_DMS_VERBOSE") ? "--verbose" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
            fclose(f);
            snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%d", port);
            return 0;
        }
        if (f)
            fclose(f);
        sleep_ms(50);
    }
    return -1;
}

/* ---- the application and resources --------------------------------------- */

static void insert(co_resource *r, co_kind kind, const char *name, json_t *doc,
                   const char *password, char *id_out)
{
    co_error err;
    co_error_clear(&err);
    memset(r, 0, sizeof *r);
    if (co_id_new(co_kind_prefix(kind), r->id, &err) != CO_OK)
        return;
    r->kind = kind;
    snprintf(r->project_id, sizeof r->project_id, "%s", kind == CO_KIND_PROJECT ? "" : project_id);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->doc = doc;
    if (password) {
        char *aad = NULL;
        co_status rc = co_secret_endpoint_aad(r->id, doc, &aad, &err);
        if (rc == CO_OK)
            rc = co_secret_seal(&app.key, aad, password, strlen(password), &r->secret,
                                &r->secret_len, &err);
        free(aad);
        if (rc != CO_OK)
            return;
    }
    CHECK(co_res_insert(app.store, r, NULL, 0, &err) == CO_OK, "insert %s: %s", name,
          err.message);
    snprintf(id_out, CO_ID_SIZE, "%s", r->id);
    co_resource_clear(r);
}

static int setup(const char *dir)
{
    char path[300];
    co_error err;
    co_resource r;
    co_error_clear(&err);
    memset(&app, 0, sizeof app);
    snprintf(app.cfg.dms_endpoint, sizeof app.cfg.dms_endpoint, "%s", fake_url);
    snprintf(app.cfg.region, sizeof app.cfg.region, "us-east-1");
    snprintf(path, sizeof path, "%s/cutover.db", dir);
    if (RAND_bytes(app.key.key, sizeof app.key.key) != 1 ||
        co_store_open(path, &app.store, &err) != CO_OK ||
        co_events_new(app.store, &app.events, &err) != CO_OK ||
        co_aws_provider_new(NULL, &app.aws_creds, &err) != CO_OK) {
        printf("setup: %s\n", err.message);
        return -1;
    }
    insert(&r, CO_KIND_PROJECT, "p", json_pack("{s:s}", "name", "p"), NULL, project_id);
    insert(&r, CO_KIND_ENDPOINT, "ora",
           json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "name", "ora", "role",
                     "source", "engine", "oracle", "host", "ora.internal", "port", 1521,
                     "database", "ORCL", "username", "dms_user", "sslmode", "prefer"),
           "oracle-s3cret-pw", src_id);
    insert(&r, CO_KIND_ENDPOINT, "pg",
           json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "name", "pg", "role",
                     "target", "engine", "postgres", "host", "pg.internal", "port", 5432,
                     "database", "app", "username", "migrator", "sslmode", "verify-full"),
           "pg-s3cret-pw", tgt_id);
    insert(&r, CO_KIND_TASK, "t",
           json_pack("{s:s, s:s, s:s, s:s, s:{s:[{s:s, s:s, s:s, s:{s:s, s:s}, s:s}, "
                     "{s:s, s:s, s:s, s:{s:s, s:s}, s:s}]}, s:{s:{s:i}, s:{s:b, s:b}}}",
                     "name", "t", "source_endpoint_id", src_id, "target_endpoint_id", tgt_id,
                     "migration_type", "full-load-and-cdc", "table_mappings", "rules",
                     "rule-type", "selection", "rule-id", "1", "rule-name", "hr",
                     "object-locator", "schema-name", "HR", "table-name", "%",
                     "rule-action", "include", "rule-type", "selection", "rule-id", "2",
                     "rule-name", "nohist", "object-locator", "schema-name", "HR",
                     "table-name", "JOB_HISTORY", "rule-action", "exclude", "task_settings",
                     "FullLoadSettings", "MaxFullLoadSubTasks", 4,
                     /* no PostgreSQL here to write the awsdms_status table into */
                     "ControlTablesSettings", "StatusTableEnabled", 0,
                     "SuspendedTablesTableEnabled", 0),
           NULL, task_id);
    return 0;
}

/* ---- a run and its steps ------------------------------------------------- */

typedef struct run {
    co_run_row row;
    json_t *all;     /* {"<step>": outputs} */
    co_resource src, tgt;
    const co_plan_def *plan;
} run;

static void run_new(run *r)
{
    co_error err;
    co_error_clear(&err);
    memset(r, 0, sizeof *r);
    if (co_id_new("run_", r->row.id, &err) != CO_OK)
        return;
    snprintf(r->row.project_id, sizeof r->row.project_id, "%s", project_id);
    snprintf(r->row.plan, sizeof r->row.plan, "oracle-to-postgres");
    snprintf(r->row.engine, sizeof r->row.engine, "aws-dms");
    r->row.params = json_pack("{s:s, s:s, s:s, s:[s]}", "source_endpoint_id", src_id,
                              "target_endpoint_id", tgt_id, "task_id", task_id, "schemas",
                              "HR");
    r->all = json_object();
    r->plan = co_plan_find("oracle-to-postgres");
    CHECK(co_res_get(app.store, CO_KIND_ENDPOINT, src_id, &r->src, &err) == CO_OK &&
              co_res_get(app.store, CO_KIND_ENDPOINT, tgt_id, &r->tgt, &err) == CO_OK,
          "endpoints load: %s", err.message);
}

static void run_free(run *r)
{
    co_run_row_clear(&r->row);
    json_decref(r->all);
    co_resource_clear(&r->src);
    co_resource_clear(&r->tgt);
}

typedef enum opk { OP_PREFLIGHT, OP_INSTANCE, OP_ENDPOINTS, OP_ENSURE, OP_START,
                   OP_FULL_LOAD, OP_CDC, OP_STOP, OP_DELETE } opk;

/* Runs one operation in step step_id until it is no longer WAIT/RETRY.
 * Returns the final verdict kind; *v keeps its text; retries counts RETRYs. */
static co_verdict_kind drive(run *r, const char *step_id, opk op, const char *role,
                             co_task_start kind, co_verdict *v, int *retries)
{
    const co_engine *e = &co_aws_dms_engine;
    int idx = co_plan_step_index(r->plan, step_id);
    json_t *outputs = json_object_get(r->all, step_id);
    co_step_ctx ctx;
    if (!outputs) {
        outputs = json_object();
        json_object_set_new(r->all, step_id, outputs);
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.app = &app;
    ctx.run = &r->row;
    ctx.plan = r->plan;
    ctx.step = &r->plan->steps[idx < 0 ? 0 : idx];
    ctx.index = idx;
    ctx.outputs = outputs;
    ctx.all_outputs = r->all;
    ctx.engine = e;
    ctx.source = r->src;
    ctx.target = r->tgt;
    for (int i = 0; i < 2000; i++) {
        memset(v, 0, sizeof *v);
        switch (op) {
        case OP_PREFLIGHT: e->preflight(&ctx, v); break;
        case OP_INSTANCE: e->ensure_instance(&ctx, v); break;
        case OP_ENDPOINTS: e->ensure_endpoints(&ctx, v); break;
        case OP_ENSURE: e->ensure_task(&ctx, role, v); break;
        case OP_START: e->start_task(&ctx, role, kind, v); break;
        case OP_FULL_LOAD: e->await_full_load(&ctx, role, v); break;
        case OP_CDC: e->await_cdc_latency(&ctx, role, 5.0, v); break;
        case OP_STOP: e->stop_task(&ctx, role, v); break;
        case OP_DELETE: e->delete_task(&ctx, role, v); break;
        }
        if (v->kind == CO_VERDICT_RETRY && retries)
            (*retries)++;
        if (v->kind != CO_VERDICT_WAIT && v->kind != CO_VERDICT_RETRY)
            return v->kind;
        sleep_ms(v->kind == CO_VERDICT_RETRY ? 20 : (long)(v->after_ms < 200 ? v->after_ms : 200));
    }
    return v->kind;
}

#define EXPECT(r, step, op, role, kind, want)                                             \
    do {                                                                                  \
        co_verdict v_;                                                                    \
        co_verdict_kind k_ = drive(r, step, op, role, kind, &v_, &retries);               \
        CHECK(k_ == (want), "%s %s: %s (%s)", step, role ? role : "", co_verdict_name(k_), \
              v_.error);                                                                  \
    } while (0)

static const char *out_str(run *r, const char *step, const char *key)
{
    return json_string_value(json_object_get(json_object_get(r->all, step), key));
}

/* The whole oracle-to-postgres sequence of engine operations. */
static void full_sequence(run *r, int *retries_out)
{
    int retries = 0;
    const char *nul = NULL;
    EXPECT(r, "preflight", OP_PREFLIGHT, nul, 0, CO_VERDICT_DONE);
    EXPECT(r, "create_replication_instance", OP_INSTANCE, nul, 0, CO_VERDICT_DONE);
    EXPECT(r, "create_endpoints", OP_ENDPOINTS, nul, 0, CO_VERDICT_DONE);
    EXPECT(r, "full_load", OP_ENSURE, "main", 0, CO_VERDICT_DONE);
    EXPECT(r, "full_load", OP_START, "main", CO_TASK_START_REPLICATION, CO_VERDICT_DONE);
    EXPECT(r, "full_load", OP_FULL_LOAD, "main", 0, CO_VERDICT_DONE);
    EXPECT(r, "resume_cdc", OP_START, "main", CO_TASK_RESUME_PROCESSING, CO_VERDICT_DONE);
    EXPECT(r, "await_cdc_sync", OP_CDC, "main", 0, CO_VERDICT_DONE);
    EXPECT(r, "stop_task", OP_STOP, "main", 0, CO_VERDICT_DONE);
    EXPECT(r, "rollback_task", OP_ENSURE, "rollback", 0, CO_VERDICT_DONE);
    EXPECT(r, "rollback_task", OP_START, "rollback", CO_TASK_START_REPLICATION,
           CO_VERDICT_DONE);
    EXPECT(r, "rollback_task", OP_CDC, "rollback", 0, CO_VERDICT_DONE);
    EXPECT(r, "rollback_task", OP_STOP, "rollback", 0, CO_VERDICT_DONE);
    EXPECT(r, "rollback_task", OP_DELETE, "rollback", 0, CO_VERDICT_DONE);
    if (retries_out)
        *retries_out = retries;
}

static json_int_t stat_at(json_t *stats, const char *a, const char *b, const char *c)
{
    return json_integer_value(json_object_get(json_object_get(json_object_get(stats, a), b), c));
}

static void test_sequence(void)
{
    run r;
    int retries = 0;
    json_t *state, *stats, *events = NULL, *desc = NULL, *tables = NULL;
    co_error err;
    co_verdict v;
    char ident[64];
    run_new(&r);
    full_sequence(&r, &retries);
    CHECK(retries == 0, "no retries without faults (%d)", retries);
    CHECK(out_str(&r, "create_replication_instance", "dms_instance_arn") &&
              out_str(&r, "create_endpoints", "dms_source_endpoint_arn") &&
              out_str(&r, "full_load", "dms_task_main_arn"),
          "ARNs recorded in the step outputs");
    state = control("/_fake/state", NULL);
    CHECK(json_array_size(json_object_get(state, "replication_tasks")) == 1,
          "the rollback task was deleted, main remains");
    CHECK(json_array_size(json_object_get(state, "endpoints")) >= 2, "forward endpoints kept");
    {
        json_t *t = json_array_get(json_object_get(state, "replication_tasks"), 0);
        const char *settings = json_string_value(json_object_get(t, "ReplicationTaskSettings"));
        CHECK(settings && strstr(settings, "\"TargetTablePrepMode\": \"DO_NOTHING\"") &&
                  strstr(settings, "\"MaxFullLoadSubTasks\": 4") &&
                  strstr(settings, "\"StopTaskCachedChangesApplied\": true"),
              "task settings merged: %s", settings ? settings : "(none)");
        CHECK(strcmp(json_string_value(json_object_get(t, "Status")), "stopped") == 0,
              "main stopped");
    }
    json_decref(state);
    co_error_clear(&err);
    CHECK(co_events_query(app.store, 0, 0, r.row.id, NULL, "table.statistics", 1000, &events,
                          &err) == CO_OK && json_array_size(events) > 0,
          "table.statistics events published (%zu)", json_array_size(events));
    {
        json_t *last = json_object_get(json_array_get(events, json_array_size(events) - 1), "data");
        json_t *first_tab = json_array_get(json_object_get(last, "tables"), 0);
        CHECK(json_array_size(json_object_get(last, "tables")) == 6 &&
                  json_is_string(json_object_get(first_tab, "TableState")) &&
                  json_is_string(json_object_get(first_tab, "LastUpdateTime")),
              "six HR tables (JOB_HISTORY excluded), DMS field names, RFC 3339 times");
    }
    json_decref(events);
    CHECK(co_events_query(app.store, 0, 0, r.row.id, NULL, "engine.status", 1000, &events,
                          &err) == CO_OK && json_array_size(events) >= 4,
          "engine.status events on status changes (%zu)", json_array_size(events));
    json_decref(events);
    {
        /* the same operation outside a run (as a route calls it): plain
         * inputs, no plan, no step */
        co_op_ctx op;
        co_error_clear(&err);
        CHECK(co_op_ctx_init(&op, &app, "aws-dms", r.row.project_id, r.row.id, r.row.params,
                             &r.src, &r.tgt, &err) == CO_OK,
              "operation context: %s", err.message);
        memset(&v, 0, sizeof v);
        co_aws_dms_engine.describe_task(&op.ctx, "main", &desc, &tables, &v);
        CHECK(v.kind == CO_VERDICT_DONE && desc && json_array_size(tables) == 6 &&
                  json_is_object(json_object_get(desc, "ReplicationTaskStats")),
              "describe_task outside a run: %s", v.error);
        co_op_ctx_release(&op);
    }
    json_decref(desc);
    json_decref(tables);

    /* a step re-run after losing its outputs adopts the existing resources */
    json_object_del(r.all, "create_replication_instance");
    json_object_del(r.all, "create_endpoints");
    json_object_del(r.all, "full_load");
    retries = 0;
    EXPECT(&r, "create_replication_instance", OP_INSTANCE, NULL, 0, CO_VERDICT_DONE);
    EXPECT(&r, "create_endpoints", OP_ENDPOINTS, NULL, 0, CO_VERDICT_DONE);
    EXPECT(&r, "full_load", OP_ENSURE, "main", 0, CO_VERDICT_DONE);
    EXPECT(&r, "full_load", OP_START, "main", CO_TASK_START_REPLICATION, CO_VERDICT_DONE);
    stats = control("/_fake/stats", NULL);
    snprintf(ident, sizeof ident, "cutover-%.26s", r.row.id + 4);
    CHECK(stat_at(stats, "creates", "ReplicationInstanceIdentifier", ident) == 1,
          "instance created once");
    {
        char ep[96];
        snprintf(ep, sizeof ep, "%.63s-source", ident);
        CHECK(stat_at(stats, "creates", "EndpointIdentifier", ep) == 1 &&
                  stat_at(stats, "create_attempts", "EndpointIdentifier", ep) == 2,
              "source endpoint created once, adopted on the second attempt");
    }
    json_decref(stats);
    run_free(&r);
}

static void test_faults(void)
{
    run r;
    int retries = 0;
    json_t *stats;
    /* drop-after-commit: the operation happens, the answer is lost; the
     * retry must adopt (ResourceAlreadyExistsFault) or re-read the state */
    char faults[256];
    const char *seed = getenv("TEST_DMS_FAULT_SEED"); /* to explore other sequences */
    const char *rate = getenv("TEST_DMS_FAULT_RATE");
    snprintf(faults, sizeof faults,
             "{\"rate\": %.2f, \"seed\": %d, \"modes\": {\"throttle\": 1, \"500\": 1, "
             "\"drop\": 1, \"drop-after-commit\": 1}}",
             rate ? atof(rate) : 0.3, seed ? atoi(seed) : 11);
    control_ok("/_fake/faults", faults);
    run_new(&r);
    full_sequence(&r, &retries);
    control_ok("/_fake/faults", "{\"clear\": true, \"rate\": 0}");
    stats = control("/_fake/stats", NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(stats, "faults"), "total")) > 10,
          "faults were injected (%lld)",
          (long long)json_integer_value(json_object_get(json_object_get(stats, "faults"), "total")));
    printf("# faults: %lld injected, %d RETRY verdicts\n",
           (long long)json_integer_value(json_object_get(json_object_get(stats, "faults"), "total")),
           retries);
    run_free(&r);
    json_decref(stats);
}

static void test_failures(void)
{
    run r;
    int retries = 0;
    char body[256];
    co_verdict v;
    run_new(&r);
    EXPECT(&r, "create_replication_instance", OP_INSTANCE, NULL, 0, CO_VERDICT_DONE);
    snprintf(body, sizeof body, "{\"endpoint\": \"cutover-%.26s-source\", \"message\": "
                                "\"ORA-12541: TNS:no listener\"}", r.row.id + 4);
    /* the endpoint must exist for the fake to key the failure by id */
    control_ok("/_fake/connection-failure", body);
    drive(&r, "create_endpoints", OP_ENDPOINTS, NULL, 0, &v, &retries);
    CHECK(v.kind == CO_VERDICT_FAIL && strstr(v.error, "ORA-12541"),
          "failed connection test: %s", v.error);
    snprintf(body, sizeof body, "{\"endpoint\": \"cutover-%.26s-source\", \"message\": null}",
             r.row.id + 4);
    control_ok("/_fake/connection-failure", body);
    EXPECT(&r, "create_endpoints", OP_ENDPOINTS, NULL, 0, CO_VERDICT_DONE);
    EXPECT(&r, "full_load", OP_ENSURE, "main", 0, CO_VERDICT_DONE);
    EXPECT(&r, "full_load", OP_START, "main", CO_TASK_START_REPLICATION, CO_VERDICT_DONE);
    snprintf(body, sizeof body, "{\"task\": \"cutover-%.26s-main\", \"schema\": \"HR\", "
                                "\"table\": \"EMPLOYEES\"}", r.row.id + 4);
    control_ok("/_fake/advance", "{\"seconds\": 1.2}");
    control_ok("/_fake/table-error", body);
    drive(&r, "full_load", OP_FULL_LOAD, "main", 0, &v, &retries);
    CHECK(v.kind == CO_VERDICT_FAIL && strstr(v.error, "HR.EMPLOYEES"),
          "table error names the table: %s", v.error);
    snprintf(body, sizeof body, "{\"task\": \"cutover-%.26s-main\", \"message\": \"ORA-01555\"}",
             r.row.id + 4);
    control_ok("/_fake/task-failure", body);
    drive(&r, "await_cdc_sync", OP_CDC, "main", 0, &v, &retries);
    CHECK(v.kind == CO_VERDICT_FAIL && strstr(v.error, "ORA-01555"), "failed task: %s", v.error);
    run_free(&r);
}

/* The view-migration plan: stage_load ensures its task with no instance or
 * endpoint step before it; the mappings come from source_table. */
static void test_stage(void)
{
    run r;
    int retries = 0;
    json_t *state, *t;
    char ident[64];
    run_new(&r);
    json_decref(r.row.params);
    r.row.params = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "source_endpoint_id", src_id,
                             "target_endpoint_id", tgt_id, "source_table", "schema", "HR",
                             "name", "EMPLOYEES", "staging_schema", "staging");
    snprintf(r.row.plan, sizeof r.row.plan, "view-migration");
    r.plan = co_plan_find("view-migration");
    EXPECT(&r, "stage_load", OP_ENSURE, "stage", 0, CO_VERDICT_DONE);
    EXPECT(&r, "stage_load", OP_START, "stage", CO_TASK_START_REPLICATION, CO_VERDICT_DONE);
    EXPECT(&r, "stage_load", OP_FULL_LOAD, "stage", 0, CO_VERDICT_DONE);
    state = control("/_fake/state", NULL);
    snprintf(ident, sizeof ident, "cutover-%.26s-stage", r.row.id + 4);
    t = json_array_get(json_object_get(json_object_get(state, "table_statistics"), ident), 0);
    CHECK(json_array_size(json_object_get(json_object_get(state, "table_statistics"), ident)) == 1 &&
              strcmp(json_string_value(json_object_get(t, "TableName")), "EMPLOYEES") == 0,
          "the stage task loaded HR.EMPLOYEES only");
    json_decref(state);
    EXPECT(&r, "stage_load", OP_DELETE, "stage", 0, CO_VERDICT_DONE);
    run_free(&r);
}

static void check_clean_stats(void)
{
    json_t *s = control("/_fake/stats", NULL);
    char *by_op = json_dumps(json_object_get(s, "validation_failures_by_operation"), 0);
    CHECK(json_integer_value(json_object_get(s, "validation_failures")) == 0,
          "every request valid against the model: %s", by_op ? by_op : "");
    free(by_op);
    CHECK(json_integer_value(json_object_get(s, "signature_failures")) == 0,
          "every signature verified");
    CHECK(json_integer_value(json_object_get(s, "fake_bugs")) == 0 &&
              json_integer_value(json_object_get(s, "unknown_operations")) == 0 &&
              json_integer_value(json_object_get(s, "protocol_errors")) == 0,
          "no protocol errors");
    json_decref(s);
}

/* No secret may reach a log line. */
static void check_log(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int lines = 0, leaks = 0;
    fflush(stderr);
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        if (strstr(line, "s3cret-pw") || strstr(line, "wJalrXUtnFEMI"))
            leaks++;
    }
    if (f)
        fclose(f);
    CHECK(lines > 0 && leaks == 0, "no secret in %d log lines (%d leaks)", lines, leaks);
}

int main(void)
{
    char dir[] = "/tmp/test_awsdms.XXXXXX";
    char cmd[300], log_path[300];
    int status;
    if (!mkdtemp(dir) || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("CUTOVER_DMS_POLL_SCALE", "0.02", 1);
    snprintf(log_path, sizeof log_path, "%s/stderr.log", dir);
    if (!freopen(log_path, "w", stderr))
        return 1;
    if (start_fake(dir) != 0) {
        printf("SKIP: cannot start tests/fakes/fake_dms.py (python3 + botocore)\n");
        if (fake_pid > 0)
            kill(fake_pid, SIGTERM);
        return 77;
    }
    co_engine_register_builtin(); /* co_op_ctx_init finds engines by name */
    if (setup(dir) == 0) {
        test_sequence();
        test_stage();
        test_failures();
        test_faults();
        check_clean_stats();
    }
    co_aws_dms_engine_shutdown();
    co_events_shutdown(app.events);
    co_events_free(app.events);
    co_aws_provider_free(app.aws_creds);
    co_store_close(app.store);
    curl_global_cleanup();
    kill(fake_pid, SIGTERM);
    waitpid(fake_pid, &status, 0);
    check_log(log_path);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (getenv("TEST_DMS_KEEP"))
        printf("# kept %s\n", dir);
    else if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
