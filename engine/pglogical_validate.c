/* pglogical_validate.c - see pglogical_validate.h. */
#include "engine/pglogical_validate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pglogical_int.h"
#include "engine/steps_pg.h"
#include "core/validate.h"
#include "pg/pg_chunks.h"
#include "pg/pg_conn.h"
#include "core/clock.h"

#define LOG_BATCH 2000        /* change-log entries per read */
#define VACUUM_EVERY 50000    /* deleted log entries between two VACUUMs */
#define KEYS_LISTED 20        /* keys listed per mismatch */
#define BUDGET_CDC_MS 2000    /* work per attempt while CDC runs */
#define BUDGET_GATE_MS 5000   /* work per attempt at the gate */

/* One attempt's context. */
typedef struct vrun {
    co_step_ctx *ctx;
    PGconn *src, *tgt;
    json_t *st;               /* outputs.validation (borrowed) */
    bool final;
    int64_t chunk_rows, max_checks;
    uint64_t confirmed;       /* the slot's confirmed_flush_lsn */
    char confirmed_txt[32];
    char schema[64];
    int64_t rows_read;        /* source rows read in this attempt */
    int64_t start_ms;
    bool progressed;
    bool log_caught_up;       /* the last log read found less than a batch due */
    co_error err;
} vrun;

/* Key verdicts of one comparison. */
typedef enum kverdict { K_MATCH, K_DEFER, K_UNSTABLE, K_MISMATCH } kverdict;

static uint64_t lsn_parse(const char *t)
{
    unsigned hi = 0, lo = 0;
    if (!t || sscanf(t, "%X/%X", &hi, &lo) != 2)
        return UINT64_MAX;
    return ((uint64_t)hi << 32) | lo;
}

static void schema_name(const co_step_ctx *ctx, char *out, size_t size)
{
    const char *id = strchr(ctx->run->id, '_');
    snprintf(out, size, "cutover_%s_validation", id ? id + 1 : ctx->run->id);
}

static int64_t ival(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void add_int(json_t *o, const char *k, int64_t d)
{
    json_object_set_new(o, k, json_integer(ival(o, k) + d));
}

static char *tname(const json_t *t, char *buf, size_t size)
{
    snprintf(buf, size, "%s.%s", v_str(t, "schema"), v_str(t, "name"));
    return buf;
}

static json_t *tables_of(vrun *r)
{
    return json_object_get(r->st, "tables");
}

static bool over_budget(const vrun *r)
{
    int64_t rate = co_param_int(r->ctx, "validation_rate_rows", 100000);
    int64_t budget = r->final ? BUDGET_GATE_MS : BUDGET_CDC_MS;
    if (co_clock_mono_ms() - r->start_ms >= budget)
        return true;
    /* while CDC runs, at most half a second's worth of rows per attempt */
    return !r->final && rate > 0 && r->rows_read >= rate / 2;
}

/* ------------------------------------------------------------- judging */

/* Decides one key from its source and target digests ("" = no row) and
 * what earlier checks saw (prev_checks 0 = first check). */
static kverdict judge(const vrun *r, const char *s, const char *g, const char *prev_src,
                      int prev_checks, int *checks)
{
    if (strcmp(s, g) == 0)
        return K_MATCH;
    if (prev_checks > 0 && strcmp(prev_src, s) != 0) {
        *checks = 1; /* the source row moved: not stable */
        return K_UNSTABLE;
    }
    *checks = prev_checks + 1;
    return *checks >= r->max_checks ? K_MISMATCH : K_DEFER;
}

/* Records a mismatch {table, lo, hi, keys, keys_total, found_by}, counts it
 * on the table and publishes validation.mismatch. keys is stolen. */
static void add_mismatch(vrun *r, json_t *t, const json_t *lo, const json_t *hi, json_t *keys,
                         int64_t total, const char *found_by)
{
    char name[300];
    json_t *m = json_pack("{s:s, s:O, s:O, s:o, s:I, s:s}", "table",
                          tname(t, name, sizeof name), "lo", lo ? lo : json_null(), "hi",
                          hi ? hi : json_null(), "keys", keys, "keys_total",
                          (json_int_t)total, "found_by", found_by);
    json_array_append(json_object_get(r->st, "mismatches"), m);
    add_int(t, "mismatches", 1);
    co_step_notify(r->ctx, "validation.mismatch", m);
    r->progressed = true;
}

static json_t *key_entry(const char *keytext, const char *s, const char *g)
{
    return json_pack("{s:o, s:s?, s:s?}", "key",
                     json_loads(keytext, JSON_DECODE_ANY, NULL), "source", *s ? s : NULL,
                     "target", *g ? g : NULL);
}

/* Digests of the key tuples `keys` on both sides, source read last; the
 * source LSN after the read goes to lsn. */
static co_status digests(vrun *r, const json_t *t, const json_t *keys, json_t **s, json_t **g,
                         char *lsn, size_t lsn_size)
{
    PGresult *res = NULL;
    *s = *g = NULL;
    if (pg_chunk_digests(r->tgt, t, NULL, NULL, keys, 0, g, &r->err) != CO_OK ||
        pg_chunk_digests(r->src, t, NULL, NULL, keys, 0, s, &r->err) != CO_OK ||
        pg_exec(r->src, "reading the source LSN", "SELECT pg_current_wal_insert_lsn()::text", 0,
                NULL, &res, &r->err) != CO_OK) {
        json_decref(*s);
        json_decref(*g);
        *s = *g = NULL;
        return r->err.status;
    }
    snprintf(lsn, lsn_size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    r->rows_read += (int64_t)json_object_size(*s);
    return CO_OK;
}

static const char *digest_of(const json_t *map, const char *k)
{
    const char *d = json_string_value(json_object_get(map, k));
    return d ? d : "";
}

/* One comparison of a set of keys on both sides. */
typedef struct keycheck {
    json_t *s, *g;     /* digests by key text: source, target */
    json_t *bad;       /* the mismatching keys listed (at most KEYS_LISTED) */
    int64_t nbad;      /* all mismatching keys */
    char lsn[32];      /* the source LSN after the read */
} keycheck;

/* Reads the digests of the keys of the object keys (normalised key texts)
 * into c; on an error c holds nothing to free. */
static co_status keycheck_read(vrun *r, const json_t *t, const json_t *keys, keycheck *c)
{
    json_t *list = json_array(), *val;
    const char *k;
    co_status rc;

    json_object_foreach((json_t *)keys, k, val)
        json_array_append_new(list, json_loads(k, JSON_DECODE_ANY, NULL));
    rc = digests(r, t, list, &c->s, &c->g, c->lsn, sizeof c->lsn);
    json_decref(list);
    c->bad = rc == CO_OK ? json_array() : NULL;
    c->nbad = 0;
    return rc;
}

/* Judges key k (val: {"src", "checks"} of the earlier checks) as judge does
 * and lists it when it is a mismatch. */
static kverdict keycheck_judge(const vrun *r, keycheck *c, const char *k, const json_t *val,
                               int *checks)
{
    const char *sd = digest_of(c->s, k), *gd = digest_of(c->g, k);
    kverdict kv = judge(r, sd, gd, v_str(val, "src"), (int)ival(val, "checks"), checks);
    if (kv == K_MISMATCH && c->nbad++ < KEYS_LISTED)
        json_array_append_new(c->bad, key_entry(k, sd, gd));
    return kv;
}

/* Records the listed keys as one mismatch (see add_mismatch), if any. */
static void keycheck_report(vrun *r, json_t *t, keycheck *c, const json_t *lo, const json_t *hi,
                            const char *found_by)
{
    if (c->nbad) {
        add_mismatch(r, t, lo, hi, c->bad, c->nbad, found_by);
        c->bad = NULL;
    }
}

static void keycheck_free(keycheck *c)
{
    json_decref(c->bad);
    json_decref(c->s);
    json_decref(c->g);
}

/* ------------------------------------------------------------- chunks */

static void chunk_validated(vrun *r, json_t *t, int64_t rows)
{
    add_int(t, "chunks_done", 1);
    add_int(t, "rows_validated", rows);
    r->progressed = true;
}

static void fp_text(const pg_chunk_fp *fp, char *out, size_t size)
{
    snprintf(out, size, "%" PRId64 "/%s", fp->rows, fp->sum);
}

/* The next chunk of the pass over table t. */
static co_status next_chunk(vrun *r, json_t *t)
{
    pg_chunk_fp a, b;
    const json_t *lo = json_object_get(t, "after");
    json_t *hi;
    co_status rc;

    if ((rc = pg_chunk_first(r->tgt, t, lo, r->chunk_rows, &a, &r->err)) != CO_OK)
        return rc;
    if (a.rows >= r->chunk_rows) {
        hi = a.last_key;
        rc = pg_chunk_range(r->src, t, lo, hi, &b, &r->err);
    } else if ((rc = pg_chunk_first(r->src, t, lo, r->chunk_rows, &b, &r->err)) == CO_OK &&
               b.rows >= r->chunk_rows) {
        /* the target ends here but the source goes on: the source's chunk
         * fixes the range, so that a chunk never grows past chunk_rows */
        json_decref(a.last_key);
        a.last_key = b.last_key;
        b.last_key = NULL;
        hi = a.last_key;
        rc = pg_chunk_range(r->tgt, t, lo, hi, &a, &r->err);
        a.last_key = hi;
    } else {
        hi = NULL;
    }
    json_decref(b.last_key);
    if (rc != CO_OK) {
        json_decref(a.last_key);
        return rc;
    }
    r->rows_read += b.rows;
    if (a.rows == b.rows && strcmp(a.sum, b.sum) == 0) {
        chunk_validated(r, t, b.rows);
    } else {
        char fp[80];
        fp_text(&b, fp, sizeof fp);
        json_array_append_new(json_object_get(t, "pending"),
                              json_pack("{s:O, s:O, s:s, s:s, s:I}", "lo",
                                        lo ? lo : json_null(), "hi", hi ? hi : json_null(),
                                        "wait_lsn", b.lsn, "source", fp, "source_rows",
                                        (json_int_t)b.rows));
        r->progressed = true;
    }
    json_object_set(t, "after", hi ? hi : json_null());
    if (!hi || json_array_size(json_object_get(t, "keys")) == 0)
        json_object_set_new(t, "pass_done", json_true());
    json_decref(a.last_key);
    return CO_OK;
}

/* Second look at a differing chunk: whole again, then row by row. */
static co_status drill_down(vrun *r, json_t *t, json_t *p, bool *retire)
{
    const json_t *lo = json_object_get(p, "lo"), *hi = json_object_get(p, "hi");
    pg_chunk_fp a, b;
    json_t *s = NULL, *g = NULL, *keys;
    const char *k;
    json_t *val;
    char fp[80];
    PGresult *res = NULL;
    co_status rc;

    if ((rc = pg_chunk_range(r->tgt, t, lo, hi, &a, &r->err)) != CO_OK ||
        (rc = pg_chunk_range(r->src, t, lo, hi, &b, &r->err)) != CO_OK)
        return rc;
    r->rows_read += b.rows;
    if (a.rows == b.rows && strcmp(a.sum, b.sum) == 0) {
        chunk_validated(r, t, b.rows);
        *retire = true;
        return CO_OK;
    }
    fp_text(&b, fp, sizeof fp);
    if (json_array_size(json_object_get(t, "keys")) == 0) {
        /* no key: the whole table is the chunk */
        int checks = 0;
        kverdict kv = judge(r, fp, "", v_str(p, "source"), (int)ival(p, "checks"), &checks);
        if (kv == K_MISMATCH) {
            add_mismatch(r, t, NULL, NULL, json_array(), 0, "chunk");
            *retire = true;
        } else {
            json_object_set_new(p, "checks", json_integer(kv == K_UNSTABLE ? 1 : checks));
            json_object_set_new(p, "source", json_string(fp));
            json_object_set_new(p, "wait_lsn", json_string(b.lsn));
        }
        return CO_OK;
    }
    rc = pg_chunk_digests(r->tgt, t, lo, hi, NULL, 4 * r->chunk_rows + 1000, &g, &r->err);
    if (rc == CO_OK)
        rc = pg_chunk_digests(r->src, t, lo, hi, NULL, 4 * r->chunk_rows + 1000, &s, &r->err);
    if (rc == CO_ERR_TOO_LARGE) {
        co_error_clear(&r->err);
        *retire = true;
        if (json_is_null(hi)) {
            /* the open end of the table grew: chunk it again from lo */
            json_object_set_new(t, "after", json_deep_copy(lo));
            json_object_set_new(t, "pass_done", json_false());
            rc = CO_OK;
            goto out;
        }
        /* far more rows differ than a chunk holds: the range is the report */
        add_mismatch(r, t, lo, hi, json_array(), b.rows > a.rows ? b.rows - a.rows
                                                                 : a.rows - b.rows, "chunk");
        rc = CO_OK;
        goto out;
    }
    if (rc != CO_OK ||
        (rc = pg_exec(r->src, "reading the source LSN", "SELECT pg_current_wal_insert_lsn()::text",
                      0, NULL, &res, &r->err)) != CO_OK)
        goto out;
    r->rows_read += (int64_t)json_object_size(s);
    keys = json_object();
    json_object_foreach(s, k, val)
        if (strcmp(json_string_value(val), digest_of(g, k)) != 0)
            json_object_set_new(keys, k, json_pack("{s:s, s:i}", "src",
                                                   json_string_value(val), "checks", 1));
    json_object_foreach(g, k, val)
        if (!json_object_get(s, k))
            json_object_set_new(keys, k, json_pack("{s:s, s:i}", "src", "", "checks", 1));
    json_object_set_new(p, "keys", keys);
    json_object_set_new(p, "wait_lsn", json_string(PQgetvalue(res, 0, 0)));
    *retire = json_object_size(keys) == 0;
    if (*retire)
        chunk_validated(r, t, b.rows);
out:
    PQclear(res);
    json_decref(s);
    json_decref(g);
    return rc;
}

/* Follows the differing keys of a chunk; keys whose source row keeps
 * changing are left to the change log. */
static co_status follow_keys(vrun *r, json_t *t, json_t *p, bool *retire)
{
    json_t *keys = json_object_get(p, "keys"), *val;
    const char *k;
    void *tmp;
    keycheck c;
    co_status rc;

    if ((rc = keycheck_read(r, t, keys, &c)) != CO_OK)
        return rc;
    json_object_foreach_safe(keys, tmp, k, val) {
        int checks = 0;
        kverdict kv = keycheck_judge(r, &c, k, val, &checks);
        if (kv == K_DEFER) {
            json_object_set_new(val, "checks", json_integer(checks));
            continue;
        }
        if (kv == K_MATCH)
            add_int(t, "keys_validated", 1);
        json_object_del(keys, k);
    }
    json_object_set_new(p, "wait_lsn", json_string(c.lsn));
    keycheck_report(r, t, &c, json_object_get(p, "lo"), json_object_get(p, "hi"), "chunk");
    *retire = json_object_size(keys) == 0;
    if (*retire)
        chunk_validated(r, t, ival(p, "source_rows"));
    keycheck_free(&c);
    return CO_OK;
}

/* Re-checks one pending chunk whose wait is over; false when none is due. */
static co_status recheck_due(vrun *r, bool *did)
{
    size_t i, j;
    json_t *t, *p;
    *did = false;
    json_array_foreach(tables_of(r), i, t) {
        json_t *pending = json_object_get(t, "pending");
        json_array_foreach(pending, j, p) {
            bool retire = false;
            co_status rc;
            if (lsn_parse(v_str(p, "wait_lsn")) > r->confirmed)
                continue;
            *did = true;
            rc = json_object_get(p, "keys") ? follow_keys(r, t, p, &retire)
                                             : drill_down(r, t, p, &retire);
            if (rc == CO_OK && retire)
                json_array_remove(pending, j);
            return rc;
        }
    }
    return CO_OK;
}

/* -------------------------------------------------------- the change log */

/* Compares one table's share of a log batch. entries maps the normalised
 * key text to {"ids": [...], "checks", "src"}. */
static co_status log_table(vrun *r, json_t *t, json_t *entries, json_t *done)
{
    json_t *defer, *val;
    const char *k;
    keycheck c;
    co_status rc;

    if ((rc = keycheck_read(r, t, entries, &c)) != CO_OK)
        return rc;
    defer = json_array();
    json_object_foreach(entries, k, val) {
        int checks = 0;
        json_t *ids = json_object_get(val, "ids");
        kverdict kv = keycheck_judge(r, &c, k, val, &checks);
        size_t i, from = 0;
        json_t *id;
        if (kv == K_DEFER || kv == K_UNSTABLE) {
            /* keep the oldest entry of the key, with what this check saw */
            json_array_append_new(defer, json_pack("{s:O, s:i, s:s}", "id",
                                                   json_array_get(ids, 0), "checks", checks,
                                                   "src", digest_of(c.s, k)));
            from = 1;
        } else if (kv == K_MATCH) {
            add_int(t, "keys_validated", 1);
            add_int(r->st, "changed_keys_validated", 1);
        }
        json_array_foreach(ids, i, id)
            if (i >= from)
                json_array_append(done, id);
    }
    if (json_array_size(defer) > 0)
        rc = pg_changelog_defer(r->tgt, r->schema, defer, c.lsn, &r->err);
    if (rc == CO_OK) {
        keycheck_report(r, t, &c, NULL, NULL, "changed_keys");
        r->progressed = true;
    }
    json_decref(defer);
    keycheck_free(&c);
    return rc;
}

/* Validates one batch of due change-log entries; *did false when none. */
static co_status log_batch(vrun *r, bool *did)
{
    PGresult *res = NULL;
    json_t *by_table = json_object(), *done = json_array(), *entries;
    const char *tk;
    co_status rc;

    *did = false;
    rc = pg_changelog_read(r->tgt, r->schema, r->confirmed_txt, LOG_BATCH, &res, &r->err);
    /* less than a batch due: the consumer keeps up with the writes */
    r->log_caught_up = rc == CO_OK && PQntuples(res) < LOG_BATCH;
    for (int i = 0; rc == CO_OK && i < PQntuples(res); i++) {
        json_t *key = json_loads(PQgetvalue(res, i, 2), JSON_DECODE_ANY, NULL);
        char *kt = key ? json_dumps(key, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        const char *tbl = PQgetvalue(res, i, 1);
        json_t *per, *e;
        json_decref(key);
        if (!kt)
            continue;
        if (!(per = json_object_get(by_table, tbl))) {
            per = json_object();
            json_object_set_new(by_table, tbl, per);
        }
        if (!(e = json_object_get(per, kt))) {
            e = json_pack("{s:[], s:I, s:s}", "ids", "checks",
                          (json_int_t)pg_res_int(res, i, 3, 0), "src", PQgetvalue(res, i, 4));
            json_object_set_new(per, kt, e);
        }
        json_array_append_new(json_object_get(e, "ids"),
                              json_integer(pg_res_int(res, i, 0, 0)));
        free(kt);
        *did = true;
    }
    PQclear(res);
    json_object_foreach(by_table, tk, entries) {
        json_t *t = json_array_get(tables_of(r), (size_t)atoi(tk));
        if (rc != CO_OK)
            break;
        if (t)
            rc = log_table(r, t, entries, done);
    }
    if (rc == CO_OK && json_array_size(done) > 0)
        rc = pg_changelog_delete(r->tgt, r->schema, done, &r->err);
    if (rc == CO_OK) {
        /* deleted entries slow the oldest-first read: vacuum now and then */
        add_int(r->st, "log_deleted", (int64_t)json_array_size(done));
        if (ival(r->st, "log_deleted") >= VACUUM_EVERY &&
            (rc = pg_changelog_vacuum(r->tgt, r->schema, &r->err)) == CO_OK)
            json_object_set_new(r->st, "log_deleted", json_integer(0));
    }
    json_decref(by_table);
    json_decref(done);
    return rc;
}

/* ------------------------------------------------------------- the state */

/* Leaves out the tables full_load excluded (tables_without_key: exclude):
 * they are not replicated, so they are not validated either. */
static void drop_excluded(co_step_ctx *ctx, json_t *tables)
{
    const json_t *ex = json_object_get(
        json_object_get(json_object_get(ctx->all_outputs, "full_load"), "main"), "excluded");
    for (size_t i = json_array_size(tables); i-- > 0;) {
        const json_t *t = json_array_get(tables, i), *e;
        char name[300];
        size_t k;
        snprintf(name, sizeof name, "%s.%s", v_str(t, "schema"), v_str(t, "name"));
        json_array_foreach(ex, k, e)
            if (!strcmp(json_string_value(e), name)) {
                json_array_remove(tables, i);
                break;
            }
    }
}

/* The state of the first call: the tables and the change log; at the gate
 * the state await_cdc_sync left, if any. */
static co_status init_state(vrun *r)
{
    json_t *holder, *tables = NULL, *earlier, *st;
    pg_scope scope;
    char trigger[64];
    const char *id = strchr(r->ctx->run->id, '_');
    co_status rc;

    /* the newest state: the gate's watch, else await_cdc_sync's; a step
     * after await_cdc_sync goes on from it instead of starting again */
    earlier = json_object_get(json_object_get(r->ctx->all_outputs, "cutover_gate"),
                              "validation");
    if (!json_is_object(earlier) || !json_object_get(earlier, "tables"))
        earlier = json_object_get(json_object_get(r->ctx->all_outputs, "await_cdc_sync"),
                                  "validation");
    if (strcmp(r->ctx->step->id, "await_cdc_sync") != 0 && json_is_object(earlier) &&
        json_object_get(earlier, "tables")) {
        st = json_deep_copy(earlier);
        json_object_set_new(st, "state", json_string("running"));
        json_object_set_new(r->ctx->outputs, "validation", st);
        r->st = st;
        return CO_OK;
    }
    memset(&scope, 0, sizeof scope);
    holder = json_pack("{s:O}", "schemas", json_object_get(r->ctx->run->params, "schemas"));
    rc = pg_scope_from_json(holder, "/parameters", &scope, &r->err);
    if (rc == CO_OK)
        rc = pg_chunks_tables(r->tgt, &scope, &tables, &r->err);
    if (rc == CO_OK)
        drop_excluded(r->ctx, tables);
    snprintf(trigger, sizeof trigger, "cutover_%s_ck", id ? id + 1 : r->ctx->run->id);
    if (rc == CO_OK)
        rc = pg_changelog_install(r->tgt, r->schema, trigger, tables, &r->err);
    pg_scope_clear(&scope);
    json_decref(holder);
    if (rc != CO_OK) {
        json_decref(tables);
        return rc;
    }
    {
        size_t i;
        json_t *t;
        json_array_foreach(tables, i, t) {
            json_object_set_new(t, "after", json_null());
            json_object_set_new(t, "pass_done", json_false());
            json_object_set_new(t, "pending", json_array());
            json_object_set_new(t, "chunks_done", json_integer(0));
            json_object_set_new(t, "rows_validated", json_integer(0));
            json_object_set_new(t, "keys_validated", json_integer(0));
            json_object_set_new(t, "mismatches", json_integer(0));
        }
    }
    st = json_pack("{s:s, s:s, s:I, s:o, s:[], s:i, s:i}", "state", "running", "change_log",
                   r->schema, "chunk_rows", (json_int_t)r->chunk_rows, "tables", tables,
                   "mismatches",
                   "changed_keys_validated", 0, "changed_keys_pending", 0);
    json_object_set_new(r->ctx->outputs, "validation", st);
    r->st = st;
    return CO_OK;
}

/* A retried step: mismatched keys are looked at again (the operator may
 * have repaired them); earlier mismatch records are dropped. */
static void requeue_mismatches(vrun *r)
{
    size_t i;
    json_t *m, *t;
    json_array_foreach(json_object_get(r->st, "mismatches"), i, m) {
        size_t j, k;
        json_t *key, *keys = json_object();
        char name[300];
        bool by_chunk = strcmp(v_str(m, "found_by"), "chunk") == 0;
        t = NULL;
        for (j = 0; !t && j < json_array_size(tables_of(r)); j++)
            if (strcmp(tname(json_array_get(tables_of(r), j), name, sizeof name),
                       v_str(m, "table")) == 0)
                t = json_array_get(tables_of(r), j);
        if (!t) {
            json_decref(keys);
            continue;
        }
        /* a chunk is read again whole; changed keys one by one */
        json_array_foreach(by_chunk ? NULL : json_object_get(m, "keys"), k, key) {
            char *kt = json_dumps(json_object_get(key, "key"), JSON_COMPACT | JSON_ENCODE_ANY);
            if (kt)
                json_object_set_new(keys, kt, json_pack("{s:s, s:i}", "src", "", "checks", 0));
            free(kt);
        }
        /* a chunk (or a whole table without key) to look at again */
        json_array_append_new(json_object_get(t, "pending"),
                              json_pack("{s:O, s:O, s:s, s:s, s:i, s:o*}", "lo",
                                        json_object_get(m, "lo"), "hi",
                                        json_object_get(m, "hi"), "wait_lsn", "0/0", "source",
                                        "", "source_rows", 0, "keys",
                                        json_object_size(keys) ? keys : NULL));
        if (!json_object_size(keys))
            json_decref(keys);
        json_object_set_new(t, "mismatches", json_integer(0));
    }
    json_object_set_new(r->st, "mismatches", json_array());
}

/* Reads the slot: confirmed_flush_lsn and bytes behind. */
static co_status measure(vrun *r, int64_t *behind)
{
    pgl_names n;
    PGresult *res = NULL;
    const char *params[1];
    co_status rc;
    pgl_names_make(r->ctx, "main", &n);
    params[0] = n.slot;
    rc = pg_exec(r->src, "reading the replication slot",
                 "SELECT confirmed_flush_lsn::text,"
                 " pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
                 " FROM pg_replication_slots WHERE slot_name = $1",
                 1, params, &res, &r->err);
    if (rc != CO_OK)
        return rc;
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return co_error_set(&r->err, CO_ERR_REMOTE, "replication slot %s is missing", n.slot);
    }
    snprintf(r->confirmed_txt, sizeof r->confirmed_txt, "%s", PQgetvalue(res, 0, 0));
    r->confirmed = lsn_parse(r->confirmed_txt);
    *behind = pg_res_int(res, 0, 1, 0);
    PQclear(res);
    return CO_OK;
}

/* Per-table figures {"s.t": {...}} for events and readers; *pending
 * receives the chunks still to validate over all tables. */
static json_t *summary(vrun *r, int64_t *pending, bool *passed)
{
    json_t *out = json_object(), *t;
    size_t i;
    char name[300];
    *pending = 0;
    *passed = true;
    json_array_foreach(tables_of(r), i, t) {
        int64_t np = (int64_t)json_array_size(json_object_get(t, "pending"));
        int64_t est = (ival(t, "est_rows") + r->chunk_rows - 1) / r->chunk_rows;
        int64_t left = json_is_true(json_object_get(t, "pass_done"))
                           ? 0
                           : (est > ival(t, "chunks_done") ? est - ival(t, "chunks_done") : 1);
        *pending += np + left;
        *passed = *passed && json_is_true(json_object_get(t, "pass_done"));
        json_object_set_new(out, tname(t, name, sizeof name),
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "rows_validated",
                                      (json_int_t)ival(t, "rows_validated"), "chunks_done",
                                      (json_int_t)ival(t, "chunks_done"), "chunks_pending",
                                      (json_int_t)(np + left), "keys_validated",
                                      (json_int_t)ival(t, "keys_validated"), "mismatches",
                                      (json_int_t)ival(t, "mismatches")));
    }
    return out;
}

/* The verdict after the work of an attempt. */
static void conclude(vrun *r, co_verdict *v)
{
    int64_t pending, nlog = 0, elapsed;
    bool passed, finished;
    json_t *sum, *mm = json_object_get(r->st, "mismatches");
    co_status rc = pg_changelog_count(r->tgt, r->schema, &nlog, &r->err);

    if (rc != CO_OK) {
        co_verdict_from_error(v, "counting changed keys", &r->err);
        return;
    }
    sum = summary(r, &pending, &passed);
    json_object_set_new(r->st, "changed_keys_pending", json_integer(nlog));
    json_object_set(r->st, "progress", sum);
    if (r->progressed)
        co_step_notify(r->ctx, "validation.progress",
                       json_pack("{s:O, s:I, s:I, s:b}", "tables", sum, "chunks_pending",
                                 (json_int_t)pending, "changed_keys_pending", (json_int_t)nlog,
                                 "final", r->final));
    json_decref(sum);
    finished = passed && pending == 0 && (r->final ? nlog == 0 : r->log_caught_up);
    if (json_array_size(mm) > 0 && finished) {
        json_t *m = json_array_get(mm, 0);
        char *lo = json_dumps(json_object_get(m, "lo"), JSON_COMPACT | JSON_ENCODE_ANY);
        char *hi = json_dumps(json_object_get(m, "hi"), JSON_COMPACT | JSON_ENCODE_ANY);
        char *keys = json_dumps(json_object_get(m, "keys"), JSON_COMPACT);
        json_object_set_new(r->st, "state", json_string("mismatch"));
        co_verdict_set(v, CO_VERDICT_FAIL, 0,
                       "validation: %zu mismatches; first: %s keys (%s, %s]: %.600s",
                       json_array_size(mm), v_str(m, "table"), lo ? lo : "?", hi ? hi : "?",
                       keys ? keys : "?");
        free(lo);
        free(hi);
        free(keys);
        return;
    }
    if (finished && json_array_size(mm) == 0) {
        json_object_set_new(r->st, "state", json_string("done"));
        co_verdict_set(v, CO_VERDICT_DONE, 0, NULL);
        return;
    }
    elapsed = co_clock_mono_ms() - r->start_ms;
    if (r->final) {
        co_verdict_set(v, CO_VERDICT_WAIT, r->progressed ? 10 : 100, NULL);
    } else {
        int64_t rate = co_param_int(r->ctx, "validation_rate_rows", 100000);
        int64_t wait = rate > 0 ? r->rows_read * 1000 / rate - elapsed : 0;
        co_verdict_set(v, CO_VERDICT_WAIT, r->progressed ? (wait > 20 ? wait : 20) : 500,
                       NULL);
    }
}

static co_status open_side(vrun *r, const co_resource *ep, PGconn **c)
{
    co_status rc = co_step_pg_open(r->ctx, ep, c, &r->err);
    return rc == CO_OK ? pg_chunks_session(*c, &r->err) : rc;
}

void pgl_validate_task(co_step_ctx *ctx, const char *role, bool final, co_verdict *v)
{
    vrun r;
    int64_t behind = 0;
    co_status rc;

    memset(&r, 0, sizeof r);
    co_error_clear(&r.err);
    if (strcmp(role, "main") != 0) {
        co_verdict_set(v, CO_VERDICT_FAIL, 0, "validation covers the main task only");
        return;
    }
    r.ctx = ctx;
    r.final = final;
    r.start_ms = co_clock_mono_ms();
    r.chunk_rows = co_param_int(ctx, "validation_chunk_rows", 10000);
    r.max_checks = co_param_int(ctx, "validation_max_checks", 3);
    schema_name(ctx, r.schema, sizeof r.schema);
    if ((rc = open_side(&r, &ctx->source, &r.src)) != CO_OK ||
        (rc = open_side(&r, &ctx->target, &r.tgt)) != CO_OK)
        goto fail;
    r.st = json_object_get(ctx->outputs, "validation");
    if (!json_is_object(r.st) && (rc = init_state(&r)) != CO_OK)
        goto fail;
    r.chunk_rows = ival(r.st, "chunk_rows") > 0 ? ival(r.st, "chunk_rows") : r.chunk_rows;
    if (ctx->state_before == CO_STEP_PENDING)
        requeue_mismatches(&r);
    if ((rc = measure(&r, &behind)) != CO_OK)
        goto fail;
    if (!final && behind > co_param_int(ctx, "validation_backoff_lag_bytes", 67108864)) {
        json_object_set_new(r.st, "backoff_bytes_behind", json_integer(behind));
        co_verdict_set(v, CO_VERDICT_WAIT, 2000, NULL);
        goto out;
    }
    json_object_del(r.st, "backoff_bytes_behind");
    /* rechecks, the pass and the change log take turns, so that the log
     * does not pile up while a long pass runs */
    while (!over_budget(&r)) {
        bool did = false, any;
        size_t i;
        json_t *t = NULL;
        if ((rc = recheck_due(&r, &did)) != CO_OK)
            goto fail;
        any = did;
        for (i = 0; !t && i < json_array_size(tables_of(&r)); i++)
            if (!json_is_true(json_object_get(json_array_get(tables_of(&r), i), "pass_done")))
                t = json_array_get(tables_of(&r), i);
        if (t && (rc = next_chunk(&r, t)) != CO_OK)
            goto fail;
        any = any || t;
        if ((rc = log_batch(&r, &did)) != CO_OK)
            goto fail;
        if (!any && !did)
            break;
        if (!any && r.log_caught_up)
            break;
    }
    conclude(&r, v);
    goto out;
fail:
    co_verdict_from_error(v, "validating", &r.err);
out:
    pg_conn_close(r.src);
    pg_conn_close(r.tgt);
}

co_status pgl_validate_remove(co_step_ctx *ctx, PGconn *target, co_error *err)
{
    char schema[64];
    schema_name(ctx, schema, sizeof schema);
    return pg_changelog_remove(target, schema, err);
}
