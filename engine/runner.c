/* runner.c - see runner.h. */
#include "engine/runner.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cleanup.h"
#include "engine/engine.h"
#include "engine/plans.h"
#include "engine/step.h"
#include "engine/transition.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "store/cleanup.h"

/* A lease only keeps the other workers of this process off a step that is
 * executing; a restart (new boot id) frees every lease at once. Threads do
 * not die alone, so the lease can outlast any attempt (index builds may take
 * hours). */
#define LEASE_MS (24LL * 60 * 60 * 1000)
#define IDLE_MAX_MS 5000

static const double dur_buckets[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600};
#define NDUR (sizeof dur_buckets / sizeof dur_buckets[0])
_Static_assert(NDUR <= CO_RUNNER_MAX_BUCKETS, "CO_RUNNER_MAX_BUCKETS too small");

struct co_runner {
    co_app *app;
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    unsigned long wake_gen;
    char boot_id[20];
    atomic_ullong verdicts[CO_VERDICT_LAST];
    atomic_ullong dur_hist[NDUR];
    atomic_ullong dur_count;
    atomic_ullong dur_sum_ms;
};

typedef struct worker_arg {
    co_runner *r;
    int index;
} worker_arg;

static double rand01(void)
{
    unsigned int v;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        return 0.5;
    return (double)v / 4294967296.0;
}

/* Runs one attempt of the claimed step and records its verdict. */
static void execute(co_runner *r, const co_claim *claim)
{
    co_app *app = r->app;
    co_step_ctx ctx;
    co_run_row run;
    co_step_row step;
    co_verdict v;
    co_change c;
    co_error err;
    const co_plan_def *plan;
    int64_t t0 = co_clock_mono_ms();

    memset(&ctx, 0, sizeof ctx);
    memset(&step, 0, sizeof step);
    memset(&v, 0, sizeof v);
    co_error_clear(&err);
    if (co_runs_load(app->store, claim->run_id, &run, &err) != CO_OK) {
        co_log(CO_LOG_ERROR, "runner", "cannot load run %s: %s", claim->run_id, err.message);
        return;
    }
    plan = co_plan_find(run.plan);
    if (!plan || (size_t)claim->idx >= plan->nsteps) {
        co_log(CO_LOG_ERROR, "runner", "run %s has an unknown plan or step", run.id);
        co_run_row_clear(&run);
        return;
    }
    memset(&c, 0, sizeof c);
    c.step_index = claim->idx;
    /* First attempt of a pending step: mark it running (or a gate). */
    if (claim->step_state == CO_STEP_PENDING) {
        c.action = CO_ACT_START_STEP;
        if (co_transition(app, run.id, &c, NULL, &err) != CO_OK) {
            co_log(CO_LOG_WARN, "runner", "run %s: %s", run.id, err.message);
            co_run_row_clear(&run);
            return;
        }
    }
    if (co_runs_load_step(app->store, run.id, claim->idx, &step, &err) != CO_OK) {
        co_log(CO_LOG_ERROR, "runner", "run %s: %s", run.id, err.message);
        co_run_row_clear(&run);
        return;
    }
    ctx.app = app;
    ctx.run = &run;
    ctx.plan = plan;
    ctx.step = &plan->steps[claim->idx];
    ctx.index = claim->idx;
    ctx.state_before = claim->step_state;
    ctx.outputs = step.outputs;
    ctx.engine = co_engine_find(run.engine);
    co_step_load_endpoints(&ctx);
    if (co_runs_all_outputs(app->store, run.id, &ctx.all_outputs, &err) != CO_OK)
        ctx.all_outputs = json_object();

    /* Attempts count step function calls that are not WAIT polls. */
    if (claim->step_state != CO_STEP_WAITING &&
        claim->step_state != CO_STEP_AWAITING_APPROVAL) {
        co_step_write w = co_step_write_keep();
        step.attempts++;
        w.attempts = step.attempts;
        co_error tmp;
        co_error_clear(&tmp);
        if (co_runs_write_step(app->store, run.id, claim->idx, &w, &tmp) != CO_OK)
            co_log(CO_LOG_WARN, "runner", "recording an attempt: %s", tmp.message);
    }
    ctx.attempt = step.attempts;

    if (ctx.step->gate) {
        /* a gate's own check (if any) runs before it asks for approval */
        co_step_fn fn = co_plan_step_fn(plan, (size_t)claim->idx);
        if (fn && ctx.engine && !ctx.engine->run_step)
            fn(&ctx, &v);
        /* DONE asks for approval; GATE with after_ms also asks to be called
         * again while the run awaits it (ctx.state_before then says so) */
        if (!fn || !ctx.engine || ctx.engine->run_step || v.kind == CO_VERDICT_DONE)
            co_verdict_set(&v, CO_VERDICT_GATE, 0, NULL);
    } else if (ctx.engine && ctx.engine->run_step) {
        ctx.engine->run_step(&ctx, &v);
    } else {
        co_step_fn fn = co_plan_step_fn(plan, (size_t)claim->idx);
        if (!ctx.engine)
            co_verdict_set(&v, CO_VERDICT_FAIL, 0, "engine %s is not available", run.engine);
        else if (!fn)
            co_verdict_set(&v, CO_VERDICT_FAIL, 0,
                           "step %s is not implemented for engine %s in this build",
                           ctx.step->id, run.engine);
        else
            fn(&ctx, &v);
    }
    if (v.kind == CO_VERDICT_NONE || v.kind >= CO_VERDICT_LAST)
        co_verdict_set(&v, CO_VERDICT_FAIL, 0,
                       "step %s returned without a verdict (a defect of cutover: "
                       "please report it)", ctx.step->id);

    atomic_fetch_add(&r->verdicts[v.kind], 1);
    {
        int64_t ms = co_clock_mono_ms() - t0;
        double secs = (double)ms / 1000.0;
        for (size_t b = 0; b < NDUR; b++)
            if (secs <= dur_buckets[b])
                atomic_fetch_add(&r->dur_hist[b], 1);
        atomic_fetch_add(&r->dur_count, 1);
        atomic_fetch_add(&r->dur_sum_ms, (unsigned long long)ms);
    }
    c.action = CO_ACT_VERDICT;
    c.verdict = &v;
    c.outputs = ctx.outputs;
    c.max_attempts = (int)co_param_int(&ctx, "max_attempts", 5);
    c.backoff_ms = v.after_ms > 0 ? v.after_ms
                                  : co_backoff_ms(step.attempts,
                                                  co_param_int(&ctx, "retry_base_ms", 1000),
                                                  co_param_int(&ctx, "retry_cap_ms", 60000),
                                                  rand01());
    co_error_clear(&err);
    if (co_transition(app, run.id, &c, NULL, &err) != CO_OK)
        co_log(CO_LOG_ERROR, "runner", "run %s step %s: recording verdict %s: %s", run.id,
               ctx.step->id, co_verdict_name(v.kind), err.message);
    json_decref(ctx.all_outputs);
    co_resource_clear(&ctx.source);
    co_resource_clear(&ctx.target);
    co_step_row_clear(&step);
    co_run_row_clear(&run);
}

static void *worker_main(void *p)
{
    worker_arg *arg = p;
    co_runner *r = arg->r;
    char owner[40];
    snprintf(owner, sizeof owner, "%s:%d", r->boot_id, arg->index);
    free(arg);
    for (;;) {
        co_claim claim;
        co_error err;
        int found = 0;
        unsigned long gen;

        pthread_mutex_lock(&r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        gen = r->wake_gen;
        pthread_mutex_unlock(&r->mu);

        co_error_clear(&err);
        if (co_runs_claim(r->app->store, owner, r->boot_id, co_clock_now_ms(), LEASE_MS,
                          &claim, &found, &err) != CO_OK)
            co_log(CO_LOG_WARN, "runner", "claiming a step: %s", err.message);
        if (found) {
            execute(r, &claim);
            continue;
        }
        {
            char run_id[CO_ID_SIZE];
            co_error_clear(&err);
            if (co_runs_claim_cleanup(r->app->store, owner, r->boot_id, co_clock_now_ms(),
                                      LEASE_MS, run_id, &found, &err) != CO_OK)
                co_log(CO_LOG_WARN, "runner", "claiming a clean-up: %s", err.message);
            if (found) {
                co_cleanup_attempt(r->app, run_id, rand01());
                continue;
            }
        }
        {
            int64_t due = co_runs_next_due(r->app->store);
            int64_t cdue = co_runs_cleanup_next_due(r->app->store);
            int64_t now = co_clock_now_ms();
            int64_t wait_ms;
            if (cdue < due)
                due = cdue;
            wait_ms = due == INT64_MAX ? IDLE_MAX_MS : due - now;
            struct timespec ts;
            if (wait_ms > IDLE_MAX_MS)
                wait_ms = IDLE_MAX_MS;
            if (wait_ms < 1)
                wait_ms = 1;
            co_clock_deadline(&ts, wait_ms);
            pthread_mutex_lock(&r->mu);
            while (!r->stop && r->wake_gen == gen &&
                   pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
                ;
            pthread_mutex_unlock(&r->mu);
        }
    }
    return NULL;
}

co_status co_runner_start(co_app *app, int n, co_runner **out, co_error *err)
{
    co_runner *r = calloc(1, sizeof *r);
    unsigned char raw[6];
    if (!r)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    r->app = app;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (RAND_bytes(raw, sizeof raw) != 1) {
        free(r);
        return co_error_set(err, CO_ERR_CRYPTO, "RAND_bytes failed");
    }
    r->boot_id[0] = 'b';
    co_hex_encode(raw, 6, r->boot_id + 1);
    /* one process owns the store: leases of an earlier process are void */
    if (co_runs_release_all_leases(app->store, err) != CO_OK) {
        free(r);
        return err->status;
    }
    r->threads = calloc((size_t)n, sizeof *r->threads);
    if (!r->threads) {
        free(r);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) {
            arg->r = r;
            arg->index = i;
        }
        if (!arg || pthread_create(&r->threads[i], NULL, worker_main, arg) != 0) {
            free(arg);
            co_runner_stop(r);
            return co_error_set(err, CO_ERR_INTERNAL, "cannot start runner threads");
        }
        r->n = i + 1;
    }
    co_log(CO_LOG_INFO, "runner", "%d workers started (boot %s)", n, r->boot_id);
    *out = r;
    return CO_OK;
}

void co_runner_wake(co_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->wake_gen++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void co_runner_stop(co_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->n; i++)
        pthread_join(r->threads[i], NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->threads);
    free(r);
}

void co_runner_counters_read(co_runner *r, co_runner_counters *out)
{
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    for (int k = 0; k < CO_VERDICT_LAST; k++)
        out->verdicts[k] = atomic_load(&r->verdicts[k]);
    out->dur_buckets = dur_buckets;
    out->ndur = NDUR;
    for (size_t b = 0; b < NDUR; b++)
        out->dur_hist[b] = atomic_load(&r->dur_hist[b]);
    out->dur_count = atomic_load(&r->dur_count);
    out->dur_sum_ms = atomic_load(&r->dur_sum_ms);
}
