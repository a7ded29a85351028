/* test_engine.c - the "test" replication engine, linked only into the
 * cutoverd-test binary that the integration tests start.
 *
 * It runs every step of every plan itself, driven by the run parameter
 * "test" (all members optional):
 *   step_ms:      each step takes this long: the first call records its
 *                 start in the step outputs and returns WAIT; later calls
 *                 finish once step_ms have passed (default 0).
 *   retry:        {"<step>": n}: the first n calls of the step (counted over
 *                 the step's whole life, retries included) return RETRY.
 *   fail:         {"<step>": n}: the first n calls return FAIL.
 *   gate:         ["<step>", ...]: the step asks for approval (GATE) once.
 *   ticks:        {"step": "<step>", "count": n, "interval_ms": ms}: that step
 *                 publishes n "step.progress" events carrying "tick" and
 *                 "sent_at_ms" (epoch ms), one per call, WAITing interval_ms
 *                 between them (benchmarks of event delivery).
 *   no_verdict:   "<step>": that step returns without setting a verdict (the
 *                 runner must fail it, naming it).
 *   stats:        {"tables": ["schema.table", ...], "calls": n,
 *                 "interval_ms": ms}: full_load publishes n table.statistics
 *                 events (rows growing, every table "Table completed" at the
 *                 last) and await_cdc_sync n engine.status events (CDC
 *                 latency and bytes behind falling to 0), one per call,
 *                 WAITing interval_ms between them (the dashboard's tests);
 *                 with "validation_mismatches": m also validation.progress
 *                 events (chunks left falling to 0, m mismatches).
 *   effects_file: path; when a step completes, the line "<run> <step>" is
 *                 appended unless it is already there. The crash test counts
 *                 these lines: each must appear exactly once.
 * Outputs record "calls", "failures" and "completed_at" so that the side
 * effect is idempotent across crashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/step.h"
#include "core/clock.h"

static int effect_present(const char *path, const char *line)
{
    FILE *f = fopen(path, "r");
    char buf[256];
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(buf, sizeof buf, f))
        found = strcmp(buf, line) == 0;
    fclose(f);
    return found;
}

static int record_effect(const char *path, const char *run_id, const char *step)
{
    char line[256];
    FILE *f;
    snprintf(line, sizeof line, "%s %s\n", run_id, step);
    if (effect_present(path, line))
        return 0;
    f = fopen(path, "a");
    if (!f)
        return -1;
    fputs(line, f);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    return 0;
}

static json_int_t counter(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* The "stats" option: one table.statistics (full_load) or engine.status
 * (await_cdc_sync) event per call. Returns 1 with v set (WAIT) while more
 * are due, 0 when the step may go on. */
static int fake_stats(co_step_ctx *ctx, json_t *cfg, co_verdict *v)
{
    json_t *stats = json_object_get(cfg, "stats"), *tables, *t;
    const char *step = ctx->step->id;
    json_int_t n = counter(stats, "calls"), done = counter(ctx->outputs, "stats_calls") + 1;
    int load = strcmp(step, "full_load") == 0;
    size_t i;

    if (!stats || n <= 0 || (!load && strcmp(step, "await_cdc_sync") != 0) ||
        done > n)
        return 0;
    if (load) {
        json_t *rows = json_array();
        json_array_foreach(json_object_get(stats, "tables"), i, t) {
            const char *name = json_string_value(t), *dot = name ? strchr(name, '.') : NULL;
            if (!dot)
                continue;
            json_array_append_new(
                rows, json_pack("{s:s%, s:s, s:s, s:I, s:I}", "SchemaName", name,
                                (size_t)(dot - name), "TableName", dot + 1, "TableState",
                                done == n ? "Table completed" : "Full load", "FullLoadRows",
                                (json_int_t)(1000 * (i + 1) * done / n), "Inserts",
                                (json_int_t)0));
        }
        tables = json_pack("{s:s, s:o, s:{s:f}}", "task", "main", "tables", rows,
                           "task_stats", "FullLoadProgressPercent",
                           100.0 * (double)done / (double)n);
        co_step_notify(ctx, "table.statistics", tables);
    } else {
        double lag = (double)(n - done);
        json_t *mm = json_object_get(stats, "validation_mismatches");
        if (json_is_integer(mm))
            co_step_notify(ctx, "validation.progress",
                           json_pack("{s:[{s:s, s:I, s:I, s:O}], s:I, s:I, s:b}", "tables",
                                     "table", "public.actor", "rows_validated",
                                     (json_int_t)(100 * done), "chunks_pending",
                                     (json_int_t)(n - done), "mismatches", mm,
                                     "chunks_pending", (json_int_t)(n - done),
                                     "changed_keys_pending", (json_int_t)0, "final", 0));
        co_step_notify(ctx, "engine.status",
                       json_pack("{s:s, s:s, s:f, s:f, s:I}", "task", "main", "Status",
                                 "running", "CDCLatencySource", lag, "CDCLatencyTarget",
                                 lag, "BytesBehind", (json_int_t)((n - done) * 4096)));
    }
    json_object_set_new(ctx->outputs, "stats_calls", json_integer(done));
    if (done >= n)
        return 0;
    co_verdict_set(v, CO_VERDICT_WAIT, counter(stats, "interval_ms"), NULL);
    return 1;
}

static void run_step(co_step_ctx *ctx, co_verdict *v)
{
    json_t *cfg = json_object_get(ctx->run->params, "test");
    json_t *out = ctx->outputs;
    const char *step = ctx->step->id;
    int64_t now = co_clock_now_ms();
    json_int_t calls = counter(out, "calls") + 1;
    json_int_t step_ms = counter(cfg, "step_ms");
    json_int_t nretry = counter(json_object_get(cfg, "retry"), step);
    json_int_t nfail = counter(json_object_get(cfg, "fail"), step);
    const char *effects = json_string_value(json_object_get(cfg, "effects_file"));
    json_t *gates = json_object_get(cfg, "gate");
    size_t i;
    json_t *g;

    json_object_set_new(out, "calls", json_integer(calls));
    if (json_is_string(json_object_get(cfg, "no_verdict")) &&
        strcmp(json_string_value(json_object_get(cfg, "no_verdict")), step) == 0)
        return; /* deliberately leaves *v as it came: CO_VERDICT_NONE */
    if (calls <= nfail) {
        json_object_set_new(out, "failures", json_integer(counter(out, "failures") + 1));
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "test engine: %s fails on command (%lld/%lld)",
                       step, (long long)calls, (long long)nfail);
        return;
    }
    if (calls <= nfail + nretry) {
        json_object_set_new(out, "failures", json_integer(counter(out, "failures") + 1));
        co_verdict_set(v, CO_VERDICT_RETRY, 0,
                       "test engine: %s transient failure on command (%lld/%lld)", step,
                       (long long)(calls - nfail), (long long)nretry);
        return;
    }
    json_array_foreach(gates, i, g) {
        if (json_is_string(g) && strcmp(json_string_value(g), step) == 0 &&
            !json_is_true(json_object_get(out, "gated"))) {
            json_object_set_new(out, "gated", json_true());
            co_verdict_set(v, CO_VERDICT_GATE, 0, NULL);
            return;
        }
    }
    {
        json_t *ticks = json_object_get(cfg, "ticks");
        const char *tstep = json_string_value(json_object_get(ticks, "step"));
        json_int_t count = counter(ticks, "count");
        json_int_t done = counter(out, "ticks");
        if (tstep && strcmp(tstep, step) == 0 && done < count) {
            co_error err;
            co_error_clear(&err);
            if (co_step_event(ctx, "step.progress",
                              json_pack("{s:I, s:I, s:f}", "tick", done + 1, "sent_at_ms",
                                        (json_int_t)co_clock_now_ms(), "percent",
                                        100.0 * (double)(done + 1) / (double)count),
                              &err) != CO_OK) {
                co_verdict_set(v, CO_VERDICT_RETRY, 0, "%s", err.message);
                return;
            }
            json_object_set_new(out, "ticks", json_integer(done + 1));
            if (done + 1 < count) {
                co_verdict_set(v, CO_VERDICT_WAIT, counter(ticks, "interval_ms"), NULL);
                return;
            }
        }
    }
    if (fake_stats(ctx, cfg, v))
        return;
    if (step_ms > 0) {
        json_int_t started = counter(out, "work_started_ms");
        if (!started) {
            json_object_set_new(out, "work_started_ms", json_integer(now));
            co_verdict_set(v, CO_VERDICT_WAIT, step_ms, NULL);
            return;
        }
        if (now - started < step_ms) {
            co_verdict_set(v, CO_VERDICT_WAIT, step_ms - (now - started), NULL);
            return;
        }
    }
    if (effects && record_effect(effects, ctx->run->id, step) != 0) {
        co_verdict_set(v, CO_VERDICT_RETRY, 0, "test engine: cannot write %s", effects);
        return;
    }
    json_object_set_new(out, "completed_at", json_integer(now));
    {
        co_error err;
        co_error_clear(&err);
        if (co_step_event(ctx, "step.progress",
                          json_pack("{s:f, s:s}", "percent", 100.0, "detail", "test engine"),
                          &err) != CO_OK) {
            co_verdict_set(v, CO_VERDICT_RETRY, 0, "%s", err.message);
            return;
        }
        if (strcmp(step, "prepare_target") == 0) {
            static const char script[] = "-- captured by the test engine\nSELECT 1;\n";
            if (co_step_artifact(ctx, "prepare_target.sql", "text/plain", script,
                                 sizeof script - 1, &err) != CO_OK) {
                co_verdict_set(v, CO_VERDICT_RETRY, 0, "%s", err.message);
                return;
            }
        }
    }
    co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
}

static const co_engine test_engine = {
    .name = "test",
    .run_step = run_step,
};

void co_engine_register_extra(void)
{
    co_engine_register(&test_engine);
}
