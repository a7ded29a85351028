/* pg_capture_restore.c - the way back: the re-runnable restore script, the
 * restore of indexes and FKs, and trigger states (see pg_capture.h). */
#include "pg/pg_capture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg_sql.h"
#include "core/log.h"
#include "core/validate.h"

static bool jbool(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

/* ---- statement builders (shared by the script and the restore) --------- */

/* The captured CREATE INDEX with IF NOT EXISTS (and CONCURRENTLY) inserted
 * after the fixed prefix pg_get_indexdef() always emits. */
static void build_create_index(pg_sql *b, const json_t *ix, bool concurrently)
{
    const char *def = v_str(ix, "definition");
    size_t skip;
    if (!strncmp(def, "CREATE UNIQUE INDEX ", 20)) {
        pg_sql_add(b, "CREATE UNIQUE INDEX ");
        skip = 20;
    } else {
        pg_sql_add(b, "CREATE INDEX ");
        skip = 13;
    }
    if (concurrently && !jbool(ix, "partitioned"))
        pg_sql_add(b, "CONCURRENTLY ");
    pg_sql_add(b, "IF NOT EXISTS ");
    pg_sql_add(b, def + skip);
}

static void build_attach(pg_sql *b, PGconn *c, const json_t *ix)
{
    const char *ps = v_str(ix, "parent_schema");
    pg_sql_addf(b, c, "ALTER INDEX %Q ATTACH PARTITION %Q", ps ? ps : v_str(ix, "schema"),
                v_str(ix, "parent"), v_str(ix, "schema"), v_str(ix, "name"));
}

/* Tablespace, CLUSTER mark and comment, each as "stmt;\n". */
static void build_index_extras(pg_sql *b, PGconn *c, const json_t *ix)
{
    const char *schema = v_str(ix, "schema"), *name = v_str(ix, "name");
    if (v_str(ix, "tablespace"))
        pg_sql_addf(b, c, "ALTER INDEX %Q SET TABLESPACE %I;\n", schema, name,
                    v_str(ix, "tablespace"));
    if (jbool(ix, "clustered"))
        pg_sql_addf(b, c, "ALTER TABLE %Q CLUSTER ON %I;\n", schema, v_str(ix, "table"), name);
    if (v_str(ix, "comment"))
        pg_sql_addf(b, c, "COMMENT ON INDEX %Q IS %L;\n", schema, name, v_str(ix, "comment"));
}

/* Whether the FK is added NOT VALID first and validated afterwards. */
static bool fk_two_phase(const json_t *fk)
{
    return jbool(fk, "validated") && !jbool(fk, "partitioned");
}

static void build_add_fk(pg_sql *b, PGconn *c, const json_t *fk)
{
    /* the definition is server-generated (pg_get_constraintdef) */
    pg_sql_addf(b, c, "ALTER TABLE %Q ADD CONSTRAINT %I %s%s", v_str(fk, "schema"),
                v_str(fk, "table"), v_str(fk, "name"), v_str(fk, "definition"),
                fk_two_phase(fk) ? " NOT VALID" : "");
}

static void build_validate_fk(pg_sql *b, PGconn *c, const json_t *fk)
{
    pg_sql_addf(b, c, "ALTER TABLE %Q VALIDATE CONSTRAINT %I", v_str(fk, "schema"),
                v_str(fk, "table"), v_str(fk, "name"));
}

static void build_fk_comment(pg_sql *b, PGconn *c, const json_t *fk)
{
    pg_sql_addf(b, c, "COMMENT ON CONSTRAINT %I ON %Q IS %L", v_str(fk, "name"),
                v_str(fk, "schema"), v_str(fk, "table"), v_str(fk, "comment"));
}

static const char *trigger_verb(const char *enabled)
{
    switch (enabled[0]) {
    case 'D': return " DISABLE TRIGGER ";
    case 'R': return " ENABLE REPLICA TRIGGER ";
    case 'A': return " ENABLE ALWAYS TRIGGER ";
    default: return " ENABLE TRIGGER ";
    }
}

static void build_trigger_state(pg_sql *b, PGconn *c, const json_t *tg)
{
    pg_sql_addf(b, c, "ALTER TABLE %Q%s%I", v_str(tg, "schema"), v_str(tg, "table"),
                trigger_verb(v_str(tg, "enabled")), v_str(tg, "name"));
}

/* Index order for restore: partitioned parents before the indexes attached
 * to them (depth along the parent chain, at most 32 levels). */
static int index_depth(const json_t *indexes, const json_t *ix)
{
    int depth = 0;
    while (ix && v_str(ix, "parent") && depth < 32) {
        const char *ps = v_str(ix, "parent_schema");
        const char *schema = ps ? ps : v_str(ix, "schema");
        const char *parent = v_str(ix, "parent");
        const json_t *next = NULL, *it;
        size_t i;
        json_array_foreach(indexes, i, it) {
            if (!strcmp(v_str(it, "schema"), schema) && !strcmp(v_str(it, "name"), parent)) {
                next = it;
                break;
            }
        }
        depth++;
        ix = next;
    }
    return depth;
}

/* Returns a new array of borrowed index objects in restore order. */
static json_t *indexes_in_order(const json_t *indexes)
{
    json_t *out = json_array();
    int d, maxd = 0;
    size_t i;
    const json_t *it;
    if (!out)
        return NULL;
    json_array_foreach(indexes, i, it) {
        int di = index_depth(indexes, it);
        if (di > maxd)
            maxd = di;
    }
    for (d = 0; d <= maxd; d++)
        json_array_foreach(indexes, i, it)
            if (index_depth(indexes, it) == d && json_array_append(out, (json_t *)it)) {
                json_decref(out);
                return NULL;
            }
    return out;
}

/* ---- script --------------------------------------------------------------- */

/* Wraps body in a DO block with a dollar-quote tag that body does not
 * contain. */
static void add_do_block(pg_sql *b, const char *body)
{
    char tag[32];
    int n = 0;
    snprintf(tag, sizeof tag, "$cutover$");
    while (strstr(body, tag))
        snprintf(tag, sizeof tag, "$cutover%d$", ++n);
    pg_sql_add(b, "DO ");
    pg_sql_add(b, tag);
    pg_sql_add(b, "\nBEGIN\n");
    pg_sql_add(b, body);
    pg_sql_add(b, "END\n");
    pg_sql_add(b, tag);
    pg_sql_add(b, ";\n");
}

static void script_fk(pg_sql *b, PGconn *c, const json_t *fk, pg_sql *tmp)
{
    char *qn;
    pg_sql_reset(tmp);
    pg_sql_add(tmp, "  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint"
                    " WHERE conrelid = ");
    /* to_regclass takes the quoted, qualified name as a literal. */
    qn = pg_sql_qname_new(c, v_str(fk, "schema"), v_str(fk, "table"), NULL);
    pg_sql_literal(tmp, c, qn ? qn : "");
    free(qn);
    pg_sql_add(tmp, "::pg_catalog.regclass AND conname = ");
    pg_sql_literal(tmp, c, v_str(fk, "name"));
    pg_sql_add(tmp, ") THEN\n    ");
    build_add_fk(tmp, c, fk);
    pg_sql_add(tmp, ";\n  END IF;\n");
    if (tmp->failed != CO_OK) {
        b->failed = tmp->failed;
        snprintf(b->why, sizeof b->why, "%s", tmp->why);
        return;
    }
    add_do_block(b, tmp->data);
    if (fk_two_phase(fk)) {
        build_validate_fk(b, c, fk);
        pg_sql_add(b, ";\n");
    }
    if (v_str(fk, "comment")) {
        build_fk_comment(b, c, fk);
        pg_sql_add(b, ";\n");
    }
}

static void script_drop(pg_sql *b, PGconn *c, const json_t *capture)
{
    size_t i;
    const json_t *it;
    pg_sql_add(b, "-- Drops performed by prepare_target\n");
    json_array_foreach(json_object_get(capture, "foreign_keys"), i, it)
        pg_sql_addf(b, c, "ALTER TABLE IF EXISTS %Q DROP CONSTRAINT IF EXISTS %I;\n",
                    v_str(it, "schema"), v_str(it, "table"), v_str(it, "name"));
    json_array_foreach(json_object_get(capture, "indexes"), i, it)
        if (!v_str(it, "parent"))
            pg_sql_addf(b, c, "DROP INDEX IF EXISTS %Q;\n", v_str(it, "schema"),
                        v_str(it, "name"));
    json_array_foreach(json_object_get(capture, "triggers"), i, it)
        pg_sql_addf(b, c, "ALTER TABLE IF EXISTS %Q DISABLE TRIGGER %I;\n",
                    v_str(it, "schema"), v_str(it, "table"), v_str(it, "name"));
}

char *pg_capture_script_new(PGconn *conn, const json_t *capture, unsigned parts,
                            co_error *err)
{
    pg_sql b, tmp;
    json_t *order = NULL;
    size_t i;
    const json_t *it;

    if (pg_capture_validate(capture, err) != CO_OK)
        return NULL;
    pg_sql_init(&b);
    pg_sql_init(&tmp);
    pg_sql_add(&b, "-- cutover: generated from a capture; safe to run more than once.\n");
    if (parts & PG_SCRIPT_DROP)
        script_drop(&b, conn, capture);
    if (parts & PG_SCRIPT_RESTORE) {
        order = indexes_in_order(json_object_get(capture, "indexes"));
        if (!order) {
            pg_sql_free(&b);
            co_error_set(err, CO_ERR_NOMEM, "out of memory");
            return NULL;
        }
        pg_sql_add(&b, "-- Secondary indexes\n");
        json_array_foreach(order, i, it) {
            build_create_index(&b, it, false);
            pg_sql_add(&b, ";\n");
            if (v_str(it, "parent")) {
                build_attach(&b, conn, it);
                pg_sql_add(&b, ";\n");
            }
            build_index_extras(&b, conn, it);
        }
        json_decref(order);
        pg_sql_add(&b, "-- Foreign keys\n");
        json_array_foreach(json_object_get(capture, "foreign_keys"), i, it)
            script_fk(&b, conn, it, &tmp);
    }
    if (parts & PG_SCRIPT_TRIGGERS) {
        pg_sql_add(&b, "-- Trigger states (tables before their partitions)\n");
        for (int pass = 0; pass < 2; pass++)
            json_array_foreach(json_object_get(capture, "triggers"), i, it) {
                if (jbool(it, "clone") != (pass == 1))
                    continue;
                build_trigger_state(&b, conn, it);
                pg_sql_add(&b, ";\n");
            }
    }
    pg_sql_free(&tmp);
    return pg_sql_take(&b, err);
}

/* ---- restore -------------------------------------------------------------- */

typedef struct restore_ctx {
    pthread_mutex_t mu; /* guards everything below while workers run */
    pthread_t main;     /* the caller's thread: the only one that reports progress */
    const pg_restore_opts *opts;
    json_t *objects;  /* report entries */
    size_t total, done, created, present, failed;
    co_error first;   /* first per-object failure */
    char first_obj[300];
    bool lost;        /* connection gone: stop */
} restore_ctx;

static void report_object(restore_ctx *x, const char *kind, const json_t *o,
                          const char *action, const co_error *e)
{
    char disp[300];
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", kind, "schema",
                          v_str(o, "schema"), "table", v_str(o, "table"), "name",
                          v_str(o, "name"), "action", action);
    if (r && e) {
        json_object_set_new(r, "error", json_string(e->message));
        if (e->sqlstate[0])
            json_object_set_new(r, "sqlstate", json_string(e->sqlstate));
    }
    pthread_mutex_lock(&x->mu);
    if (r)
        json_array_append_new(x->objects, r);
    snprintf(disp, sizeof disp, "%s %s.%s", kind, v_str(o, "schema"), v_str(o, "name"));
    if (e) {
        x->failed++;
        if (x->first.status == CO_OK) {
            x->first = *e;
            snprintf(x->first_obj, sizeof x->first_obj, "%s", disp);
        }
        co_log(CO_LOG_WARN, "pg", "restore of %s failed: %s", disp, e->message);
    } else if (!strcmp(action, "present")) {
        x->present++;
    } else {
        x->created++;
    }
    x->done++;
    pthread_mutex_unlock(&x->mu);
    if (x->opts && x->opts->progress && pthread_equal(pthread_self(), x->main))
        x->opts->progress(x->opts->progress_user, disp, x->done, x->total);
}

/* Runs b's text; on failure fills e and notes a lost connection. */
static co_status run_stmt(restore_ctx *x, PGconn *c, pg_sql *b, const char *what,
                          co_error *e)
{
    co_status rc = pg_sql_run(c, what, b, e);
    if (rc != CO_OK && PQstatus(c) != CONNECTION_OK) {
        pthread_mutex_lock(&x->mu);
        x->lost = true;
        pthread_mutex_unlock(&x->mu);
    }
    return rc;
}

/* Runs the ";\n"-separated extras as one simple-query string. */
static co_status run_extras(restore_ctx *x, PGconn *c, pg_sql *b, const char *what,
                            co_error *e)
{
    if (b->failed == CO_OK && b->len == 0)
        return CO_OK;
    return run_stmt(x, c, b, what, e);
}

/* Builds one statement for object o with build and runs it. */
static co_status build_run(restore_ctx *x, PGconn *c, pg_sql *b,
                           void (*build)(pg_sql *, PGconn *, const json_t *), const json_t *o,
                           const char *what, co_error *e)
{
    build(b, c, o);
    return run_stmt(x, c, b, what, e);
}

/* What restore finds on the target before it acts: the relation that holds
 * an index's name (its kind, and whether the index is valid) and whether a
 * foreign key of that name is there and validated. */
static const char index_state_sql[] =
    "SELECT c.relkind::text, i.indisvalid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace"
    " n ON n.oid = c.relnamespace LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid"
    " WHERE n.nspname = $1 AND c.relname = $2";
static const char fk_state_sql[] =
    "SELECT k.convalidated FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c"
    " ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3";

/* Restores one index; *action becomes "present" when it is there and
 * valid. */
static co_status restore_index(restore_ctx *x, PGconn *c, const json_t *ix, pg_sql *b,
                               const char **action, co_error *e)
{
    const char *params[2] = {v_str(ix, "schema"), v_str(ix, "name")};
    bool concurrently = x->opts && x->opts->concurrently;
    PGresult *res = NULL;
    co_status rc;

    if ((rc = pg_exec(c, "look up index", index_state_sql, 2, params, &res, e)) != CO_OK)
        return rc;
    if (PQntuples(res) > 0) {
        const char *kind = PQgetvalue(res, 0, 0);
        if (strcmp(kind, "i") != 0 && strcmp(kind, "I") != 0) {
            rc = co_error_set(e, CO_ERR_CONFLICT,
                              "another relation (relkind %s) already has the index's name",
                              kind);
        } else if (kind[0] == 'I' || pg_res_bool(res, 0, 1)) {
            *action = "present";
        } else {
            /* INVALID leftover of an interrupted concurrent build. */
            pg_sql_addf(b, c, "DROP INDEX %sIF EXISTS %Q", concurrently ? "CONCURRENTLY " : "",
                        v_str(ix, "schema"), v_str(ix, "name"));
            rc = run_stmt(x, c, b, "drop invalid index", e);
        }
    }
    PQclear(res);
    if (rc != CO_OK)
        return rc;
    if (strcmp(*action, "present") != 0) {
        build_create_index(b, ix, concurrently);
        if ((rc = run_stmt(x, c, b, "create index", e)) != CO_OK)
            return rc;
    }
    if (v_str(ix, "parent") &&
        (rc = build_run(x, c, b, build_attach, ix, "attach index", e)) != CO_OK)
        return rc;
    build_index_extras(b, c, ix);
    return run_extras(x, c, b, "index tablespace/cluster/comment", e);
}

/* Restores one foreign key; *action becomes "present" or "validated" when
 * it was there. */
static co_status restore_fk(restore_ctx *x, PGconn *c, const json_t *fk, pg_sql *b,
                            const char **action, co_error *e)
{
    const char *params[3] = {v_str(fk, "schema"), v_str(fk, "table"), v_str(fk, "name")};
    PGresult *res = NULL;
    bool exists, valid;
    co_status rc;

    if ((rc = pg_exec(c, "look up foreign key", fk_state_sql, 3, params, &res, e)) != CO_OK)
        return rc;
    exists = PQntuples(res) > 0;
    valid = exists && pg_res_bool(res, 0, 0);
    PQclear(res);
    if (exists)
        *action = "present";
    else if ((rc = build_run(x, c, b, build_add_fk, fk, "add foreign key", e)) != CO_OK)
        return rc;
    if (fk_two_phase(fk) && !valid) {
        if ((rc = build_run(x, c, b, build_validate_fk, fk, "validate foreign key", e)) !=
            CO_OK)
            return rc;
        if (exists)
            *action = "validated";
    }
    if (v_str(fk, "comment"))
        rc = build_run(x, c, b, build_fk_comment, fk, "comment on foreign key", e);
    return rc;
}

/* Restores one index or foreign key and reports it. */
static void restore_object(restore_ctx *x, PGconn *c, const json_t *o, pg_sql *b, bool fk)
{
    const char *action = "created";
    co_error e;
    co_error_clear(&e);
    if ((fk ? restore_fk : restore_index)(x, c, o, b, &action, &e) == CO_OK) {
        report_object(x, fk ? "foreign_key" : "index", o, action, NULL);
    } else {
        pg_sql_reset(b);
        report_object(x, fk ? "foreign_key" : "index", o, "failed", &e);
    }
}

typedef struct restore_job {
    restore_ctx *x;
    PGconn *conn;
    const json_t *items;
    size_t *next;
    bool fk;
} restore_job;

/* Takes objects off the shared list until it is empty or the connection
 * of some job is lost. */
static void *job_main(void *arg)
{
    restore_job *j = arg;
    pg_sql b;
    pg_sql_init(&b);
    for (;;) {
        const json_t *it = NULL;
        pthread_mutex_lock(&j->x->mu);
        if (!j->x->lost && *j->next < json_array_size(j->items))
            it = json_array_get(j->items, (*j->next)++);
        pthread_mutex_unlock(&j->x->mu);
        if (!it)
            break;
        restore_object(j->x, j->conn, it, &b, j->fk);
    }
    pg_sql_free(&b);
    return NULL;
}

/* Restores items with n connections: conns[0] on the calling thread, the
 * others on threads of their own, joined before returning. */
static void run_jobs(restore_ctx *x, PGconn *const *conns, size_t n, const json_t *items,
                     bool fk)
{
    restore_job jobs[1 + PG_RESTORE_MAX_JOBS];
    pthread_t th[1 + PG_RESTORE_MAX_JOBS];
    bool started[1 + PG_RESTORE_MAX_JOBS] = {false};
    size_t next = 0, i;
    if (n > json_array_size(items))
        n = json_array_size(items) ? json_array_size(items) : 1;
    for (i = 0; i < n; i++)
        jobs[i] = (restore_job){.x = x, .conn = conns[i], .items = items, .next = &next,
                                .fk = fk};
    for (i = 1; i < n; i++)
        started[i] = pthread_create(&th[i], NULL, job_main, &jobs[i]) == 0;
    job_main(&jobs[0]);
    for (i = 1; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}

/* Partitioned indexes are restored in order (parents, children, attach):
 * one connection. */
static bool has_partitioned(const json_t *indexes)
{
    const json_t *ix;
    size_t i;
    json_array_foreach(indexes, i, ix)
        if (jbool(ix, "partitioned") || v_str(ix, "parent"))
            return true;
    return false;
}

co_status pg_capture_restore_constraints(PGconn *conn, const json_t *capture,
                                         const pg_restore_opts *opts,
                                         json_t **report_out, co_error *err)
{
    restore_ctx x;
    json_t *order = NULL;
    size_t i;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    if ((rc = pg_capture_validate(capture, err)) != CO_OK)
        return rc;
    memset(&x, 0, sizeof x);
    co_error_clear(&x.first);
    pthread_mutex_init(&x.mu, NULL);
    x.main = pthread_self();
    x.opts = opts;
    x.objects = json_array();
    order = indexes_in_order(json_object_get(capture, "indexes"));
    if (!x.objects || !order) {
        json_decref(x.objects);
        json_decref(order);
        pthread_mutex_destroy(&x.mu);
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    }
    x.total = json_array_size(order) +
              json_array_size(json_object_get(capture, "foreign_keys"));
    {
        /* more connections: indexes (unless partitioned), then foreign keys,
         * one object per connection at a time */
        PGconn *conns[1 + PG_RESTORE_MAX_JOBS];
        size_t n = 1;
        conns[0] = conn;
        for (i = 0; opts && i < opts->nmore && n < 1 + PG_RESTORE_MAX_JOBS; i++)
            conns[n++] = opts->more[i];
        run_jobs(&x, conns, has_partitioned(order) ? 1 : n, order, false);
        run_jobs(&x, conns, n, json_object_get(capture, "foreign_keys"), true);
    }
    json_decref(order);
    pthread_mutex_destroy(&x.mu);

    if (pg_report_out(json_pack("{s:I, s:I, s:I, s:I, s:o}", "total", (json_int_t)x.total,
                                "created", (json_int_t)x.created, "present",
                                (json_int_t)x.present, "failed", (json_int_t)x.failed,
                                "objects", x.objects),
                      report_out, err) != CO_OK)
        return CO_ERR_NOMEM;
    if (x.lost) {
        rc = co_error_set(err, CO_ERR_TRANSIENT,
                          "connection lost during restore at %s: %s", x.first_obj,
                          x.first.message);
    } else if (x.failed) {
        rc = co_error_set(err, CO_ERR_REMOTE, "%zu of %zu objects failed to restore; "
                          "first: %s: %s", x.failed, x.total, x.first_obj,
                          x.first.message);
    } else {
        rc = CO_OK;
    }
    if (rc != CO_OK && err && x.first.sqlstate[0])
        memcpy(err->sqlstate, x.first.sqlstate, 6);
    return rc;
}

/* ---- triggers --------------------------------------------------------------- */

static void set_trigger(PGconn *conn, const json_t *tg, json_t *list, size_t *failed,
                        co_error *first, pg_sql *b)
{
    static const char sql_exists[] =
        "SELECT 1 FROM pg_catalog.pg_trigger g"
        " JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relname = $2 AND g.tgname = $3";
    const char *params[3] = {v_str(tg, "schema"), v_str(tg, "table"), v_str(tg, "name")};
    PGresult *res = NULL;
    co_error e;
    json_t *r;

    co_error_clear(&e);
    if (pg_exec(conn, "look up trigger", sql_exists, 3, params, &res, &e) == CO_OK) {
        if (PQntuples(res) == 0) {
            co_error_set(&e, CO_ERR_CONFLICT, "trigger %s on %s.%s no longer exists",
                         v_str(tg, "name"), v_str(tg, "schema"), v_str(tg, "table"));
        } else {
            build_trigger_state(b, conn, tg);
            if (pg_sql_check(b, &e) == CO_OK &&
                pg_exec_simple(conn, "set trigger state", b->data, NULL, &e) != CO_OK)
                co_log(CO_LOG_WARN, "pg", "cannot set trigger state: %s", e.message);
            pg_sql_reset(b);
        }
    }
    PQclear(res);
    r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "schema", v_str(tg, "schema"), "table",
                  v_str(tg, "table"), "name", v_str(tg, "name"), "enabled",
                  v_str(tg, "enabled"), "action", e.status == CO_OK ? "set" : "failed");
    if (r && e.status != CO_OK)
        json_object_set_new(r, "error", json_string(e.message));
    if (r)
        json_array_append_new(list, r);
    if (e.status != CO_OK) {
        (*failed)++;
        if (first->status == CO_OK)
            *first = e;
    }
}

co_status pg_capture_enable_triggers(PGconn *conn, const json_t *capture,
                                     json_t **report_out, co_error *err)
{
    json_t *list;
    const json_t *it;
    size_t i, failed = 0;
    co_error first;
    pg_sql b;
    int pass;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    if ((rc = pg_capture_validate(capture, err)) != CO_OK)
        return rc;
    co_error_clear(&first);
    list = json_array();
    if (!list)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    pg_sql_init(&b);
    for (pass = 0; pass < 2; pass++) {
        json_array_foreach(json_object_get(capture, "triggers"), i, it) {
            if (jbool(it, "clone") != (pass == 1))
                continue;
            if (PQstatus(conn) != CONNECTION_OK)
                break;
            set_trigger(conn, it, list, &failed, &first, &b);
        }
    }
    pg_sql_free(&b);
    if (pg_report_out(json_pack("{s:I, s:I, s:o}", "total",
                                (json_int_t)json_array_size(json_object_get(capture, "triggers")),
                                "failed", (json_int_t)failed, "triggers", list),
                      report_out, err) != CO_OK)
        return CO_ERR_NOMEM;
    rc = CO_OK;
    if (PQstatus(conn) != CONNECTION_OK)
        rc = co_error_set(err, CO_ERR_TRANSIENT, "connection lost while setting triggers");
    else if (failed) {
        rc = co_error_set(err, first.status, "%zu trigger(s) not restored; first: %s",
                          failed, first.message);
        if (err && first.sqlstate[0])
            memcpy(err->sqlstate, first.sqlstate, 6);
    }
    return rc;
}
