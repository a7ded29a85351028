/* pg_schema_copy.c - copying the schema of a PostgreSQL source with pg_dump,
 * pg_restore and psql (see pg_schema.h). */
#include "pg/pg_schema.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pg/pg_script.h"
#include "pg/pg_sql.h"
#include "pg/pg_tool.h"
#include "core/log.h"

#define LIST_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define SCRIPT_MAX_BYTES ((size_t)256 * 1024 * 1024)
#define STMT_TEXT_MAX 2000

/* ---- child programs ------------------------------------------------------ */

/* Last 400 bytes of a child's stderr, newlines folded. */
static const char *stderr_tail(char *t)
{
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++)
        if (t[i] == '\n')
            t[i] = ' ';
    return n > 400 ? t + n - 400 : t;
}

/* Runs argv; a non-zero exit is CO_ERR_REMOTE naming the program and its
 * stderr. On CO_OK *out (if wanted) holds stdout. */
static co_status run_ok(char *const *argv, char *const *envp, size_t max_out, char **out,
                        co_error *err)
{
    pg_tool_result r;
    co_status rc = pg_tool_run(argv, envp, 0, out != NULL, max_out, &r, err);
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (rc != CO_OK)
        return rc;
    if (r.exit_code != 0) {
        rc = co_error_set(err, CO_ERR_REMOTE, "%s failed (%s %d): %s", prog,
                          r.exit_code > 0 ? "exit" : "signal",
                          r.exit_code > 0 ? r.exit_code : -r.exit_code,
                          stderr_tail(r.err_text));
    } else if (out) {
        *out = r.out;
        r.out = NULL;
    }
    pg_tool_result_free(&r);
    return rc;
}

/* argv of pg_dump: custom format into path, schema only, one -n per schema
 * as a double-quoted pattern (matches the name literally). */
static char **dump_argv(const char *exe, const char *path, const char *const *schemas,
                        size_t n)
{
    static const char *const flags[] = {
        "--schema-only", "--format=custom", "--no-owner", "--no-privileges",
        "--no-tablespaces", "--no-publications", "--no-subscriptions",
        "--no-security-labels", "--strict-names", "--no-password", "-f"};
    size_t nf = sizeof flags / sizeof flags[0], i, k = 0;
    char **argv = calloc(1 + nf + 1 + 2 * n + 1, sizeof *argv);
    if (!argv || !(argv[k++] = strdup(exe)))
        goto nomem;
    for (i = 0; i < nf; i++)
        if (!(argv[k++] = strdup(flags[i])))
            goto nomem;
    if (!(argv[k++] = strdup(path)))
        goto nomem;
    for (i = 0; i < n; i++) {
        size_t len = strlen(schemas[i]), j, o = 0;
        char *pat = malloc(2 * len + 3);
        if (!(argv[k++] = strdup("-n")) || !pat) {
            free(pat);
            goto nomem;
        }
        pat[o++] = '"';
        for (j = 0; j < len; j++) {
            if (schemas[i][j] == '"')
                pat[o++] = '"';
            pat[o++] = schemas[i][j];
        }
        pat[o++] = '"';
        pat[o] = '\0';
        argv[k++] = pat;
    }
    return argv;
nomem:
    pg_tool_vec_free(argv);
    return NULL;
}

/* A NULL-terminated argv from a fixed list of strings (n of them). */
static char **argv_of(const char *const *items, size_t n)
{
    char **argv = calloc(n + 1, sizeof *argv);
    for (size_t i = 0; argv && i < n; i++)
        if (!(argv[i] = strdup(items[i]))) {
            pg_tool_vec_free(argv);
            return NULL;
        }
    return argv;
}

static co_status run_items(const char *const *items, size_t n, char *const *envp,
                           size_t max_out, char **out, co_error *err)
{
    char **argv = argv_of(items, n);
    co_status rc;
    if (!argv)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    rc = run_ok(argv, envp, max_out, out, err);
    pg_tool_vec_free(argv);
    return rc;
}

/* Writes text to path. */
static co_status write_file(const char *path, const char *text, co_error *err)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0;
    if (f)
        ok = (fclose(f) == 0) && ok;
    return ok ? CO_OK : co_error_set(err, CO_ERR_IO, "cannot write %s", path);
}

/* Drops the "SCHEMA - name" entries of a pg_restore table of contents (the
 * schemas are created beforehand with IF NOT EXISTS); counts the rest. */
static size_t filter_list(char *list)
{
    size_t kept = 0;
    char *w = list, *line = list;
    while (*line) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
        bool entry = line[0] != ';' && line[0] != '\n';
        if (!(entry && strstr(line, " SCHEMA - ") && strstr(line, " SCHEMA - ") < line + n)) {
            memmove(w, line, n);
            w += n;
            kept += entry;
        }
        line += n;
    }
    *w = '\0';
    return kept;
}

/* The connection of target as a spec (strings owned by *opts, free with
 * PQconninfoFree after wiping the password). */
static void target_spec(PGconn *target, PQconninfoOption **opts, pg_conn_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    *opts = PQconninfo(target);
    for (PQconninfoOption *o = *opts; o && o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            spec->host = o->val;
        else if (!strcmp(o->keyword, "port"))
            spec->port = atoi(o->val);
        else if (!strcmp(o->keyword, "dbname"))
            spec->dbname = o->val;
        else if (!strcmp(o->keyword, "user"))
            spec->user = o->val;
        else if (!strcmp(o->keyword, "password"))
            spec->password = o->val;
        else if (!strcmp(o->keyword, "sslmode"))
            spec->sslmode = o->val;
        else if (!strcmp(o->keyword, "sslrootcert"))
            spec->sslrootcert = o->val;
    }
}

static void free_target_spec(PQconninfoOption *opts, pg_conn_spec *spec)
{
    if (spec->password)
        OPENSSL_cleanse((char *)spec->password, strlen(spec->password));
    PQconninfoFree(opts);
}

/* ---- psql's error ------------------------------------------------------- */

/* Fills report.error from psql's stderr ("psql:<file>:<line>: ERROR:
 * <SQLSTATE>: <message>", then DETAIL/HINT/... lines) and the statement of
 * script that holds that line. */
static co_status psql_failed(const char *script, char *stderr_text, json_t *report,
                             co_error *err)
{
    char *p = strstr(stderr_text, ": ERROR:  "), *msg, *eol, *colon, *q;
    long line = 0;
    json_t *e = json_object();
    char sqlstate[6] = "";
    pg_stmt_list list;
    co_error ignored;

    if (!p || !e) {
        json_decref(e);
        return co_error_set(err, CO_ERR_REMOTE, "psql failed: %s", stderr_tail(stderr_text));
    }
    for (q = p; q > stderr_text && q[-1] != ':'; q--)
        ;
    line = strtol(q, NULL, 10);
    msg = p + 10;
    if (strlen(msg) > 7 && msg[5] == ':' && msg[6] == ' ') {
        memcpy(sqlstate, msg, 5);
        msg += 7;
    }
    if ((eol = strchr(msg, '\n')))
        *eol = '\0';
    json_object_set_new(e, "message", json_string(msg));
    json_object_set_new(e, "sqlstate", json_string(sqlstate));
    for (char *l = eol ? eol + 1 : NULL; l && *l; l = eol ? eol + 1 : NULL) {
        static const char *const keys[][2] = {{"DETAIL:  ", "detail"}, {"HINT:  ", "hint"},
                                              {"CONTEXT:  ", "context"}};
        if ((eol = strchr(l, '\n')))
            *eol = '\0';
        for (size_t k = 0; k < 3; k++)
            if (!strncmp(l, keys[k][0], strlen(keys[k][0])))
                json_object_set_new(e, keys[k][1], json_string(l + strlen(keys[k][0])));
    }
    co_error_clear(&ignored);
    json_object_set_new(e, "line", json_integer(line));
    if (pg_script_split(script, strlen(script), &list, &ignored) == CO_OK) {
        for (size_t i = 0; i < list.count; i++) {
            const pg_stmt *st = &list.items[i];
            int last, col;
            pg_script_line_col(script, st->offset + st->len, &last, &col);
            if (line >= st->line && line <= last + 1) {
                size_t tl = st->len < STMT_TEXT_MAX ? st->len : STMT_TEXT_MAX;
                json_object_set_new(e, "index", json_integer((json_int_t)i + 1));
                json_object_set_new(e, "line", json_integer(st->line));
                json_object_set_new(e, "statement", json_stringn(script + st->offset, tl));
                line = st->line;
                break;
            }
        }
        pg_stmt_list_free(&list);
    }
    colon = (char *)json_string_value(json_object_get(e, "statement"));
    co_error_set(err, CO_ERR_REMOTE, "schema.sql line %ld: %s%s%.80s", line, msg,
                 colon ? " in: " : "", colon ? colon : "");
    if (err)
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", sqlstate);
    json_object_set_new(report, "error", e);
    return CO_ERR_REMOTE;
}

/* ---- the copy --------------------------------------------------------------- */

static co_status create_schemas(PGconn *target, const char *const *schemas, size_t n,
                                co_error *err)
{
    co_status rc = CO_OK;
    pg_sql q;
    pg_sql_init(&q);
    for (size_t i = 0; rc == CO_OK && i < n; i++) {
        pg_sql_addf(&q, target, "CREATE SCHEMA IF NOT EXISTS %I", schemas[i]);
        rc = pg_sql_run(target, "creating a schema", &q, err);
    }
    pg_sql_free(&q);
    return rc;
}

typedef struct copy_job {
    char *dir, *dump, *list, *sql, *pass;
    char *pg_dump, *pg_restore, *psql;
    char **src_env, **tgt_env;
} copy_job;

static void job_free(copy_job *j)
{
    char *owned[] = {j->dump, j->list, j->sql, j->pass, j->pg_dump, j->pg_restore, j->psql};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++)
        free(owned[i]);
    pg_tool_vec_free(j->src_env);
    pg_tool_vec_free(j->tgt_env);
    pg_tool_workdir_remove(j->dir);
}

static co_status job_init(copy_job *j, const pg_conn_spec *source, PGconn *target,
                          const char *pg_dump_path, co_error *err)
{
    const pg_conn_spec *specs[2];
    PQconninfoOption *opts = NULL;
    pg_conn_spec tspec;
    co_status rc;
    memset(j, 0, sizeof *j);
    if ((rc = pg_tool_workdir_new(&j->dir, err)) != CO_OK)
        return rc;
    j->dump = pg_tool_join(j->dir, '/', "schema.dump");
    j->list = pg_tool_join(j->dir, '/', "schema.list");
    j->sql = pg_tool_join(j->dir, '/', "schema.sql");
    j->pass = pg_tool_join(j->dir, '/', "pgpass");
    j->pg_dump = pg_tool_find("pg_dump", pg_dump_path, "CUTOVER_PG_DUMP");
    j->pg_restore = pg_tool_find("pg_restore", NULL, "CUTOVER_PG_RESTORE");
    j->psql = pg_tool_find("psql", NULL, "CUTOVER_PSQL");
    target_spec(target, &opts, &tspec);
    tspec.run_id = source->run_id;
    specs[0] = source;
    specs[1] = &tspec;
    j->src_env = pg_tool_env_new(source, j->pass);
    j->tgt_env = pg_tool_env_new(&tspec, j->pass);
    if (!j->dump || !j->list || !j->sql || !j->pass || !j->pg_dump || !j->pg_restore ||
        !j->psql || !j->src_env || !j->tgt_env)
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
    else
        rc = pg_tool_passfile_write(j->pass, specs, 2, err);
    free_target_spec(opts, &tspec);
    return rc;
}

co_status pg_schema_copy(const pg_conn_spec *source, PGconn *target,
                         const char *const *schemas, size_t nschemas,
                         const char *pg_dump_path, json_t **report_out, co_error *err)
{
    PGconn *probe = NULL;
    copy_job j;
    char **argv = NULL, *list = NULL, *script = NULL;
    json_t *report = json_object();
    struct stat st;
    size_t entries = 0;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    if (!report)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (nschemas == 0) {
        json_decref(report);
        return co_error_set(err, CO_ERR_INVALID, "at least one schema is required");
    }
    for (size_t i = 0; i < nschemas; i++)
        if (!schemas[i] || !*schemas[i]) {
            json_decref(report);
            return co_error_set(err, CO_ERR_INVALID, "schema names must not be empty");
        }
    /* Classify connection problems the same way as everywhere else. */
    if ((rc = pg_conn_open(source, &probe, err)) != CO_OK) {
        json_decref(report);
        return rc;
    }
    pg_conn_close(probe);
    if ((rc = job_init(&j, source, target, pg_dump_path, err)) != CO_OK)
        goto done;
    co_log(CO_LOG_INFO, "pg", "running %s for %zu schema(s)", j.pg_dump, nschemas);
    if (!(argv = dump_argv(j.pg_dump, j.dump, schemas, nschemas))) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = run_ok(argv, j.src_env, 0, NULL, err)) != CO_OK)
        goto done;
    {
        const char *ls[] = {j.pg_restore, "--list", j.dump};
        if ((rc = run_items(ls, 3, j.src_env, LIST_MAX_BYTES, &list, err)) != CO_OK)
            goto done;
    }
    entries = filter_list(list);
    if ((rc = write_file(j.list, list, err)) != CO_OK)
        goto done;
    {
        const char *rs[] = {j.pg_restore, "--no-owner", "--no-privileges", "--no-tablespaces",
                            "--use-list", j.list, "--file", j.sql, j.dump};
        if ((rc = run_items(rs, 9, j.src_env, 0, NULL, err)) != CO_OK)
            goto done;
    }
    if ((rc = create_schemas(target, schemas, nschemas, err)) != CO_OK)
        goto done;
    {
        const char *ps[] = {j.psql, "-X", "-q", "--no-password", "--single-transaction",
                            "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-f", j.sql};
        char **pargv = argv_of(ps, 11);
        pg_tool_result r;
        if (!pargv) {
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            goto done;
        }
        rc = pg_tool_run(pargv, j.tgt_env, 0, false, 0, &r, err);
        pg_tool_vec_free(pargv);
        if (rc == CO_OK && r.exit_code != 0) {
            FILE *f = fopen(j.sql, "r");
            size_t size = (f && stat(j.sql, &st) == 0) ? (size_t)st.st_size : 0;
            script = f ? calloc(1, (size < SCRIPT_MAX_BYTES ? size : SCRIPT_MAX_BYTES) + 1)
                       : NULL;
            if (script)
                script[fread(script, 1, size < SCRIPT_MAX_BYTES ? size : SCRIPT_MAX_BYTES,
                             f)] = '\0';
            if (f)
                fclose(f);
            rc = psql_failed(script ? script : "", r.err_text, report, err);
        }
        pg_tool_result_free(&r);
    }
done:
    if (j.dump && stat(j.dump, &st) == 0)
        json_object_set_new(report, "dump_bytes", json_integer((json_int_t)st.st_size));
    if (j.sql && stat(j.sql, &st) == 0)
        json_object_set_new(report, "script_bytes", json_integer((json_int_t)st.st_size));
    json_object_set_new(report, "entries", json_integer((json_int_t)entries));
    pg_tool_vec_free(argv);
    free(list);
    free(script);
    job_free(&j);
    if (report_out)
        *report_out = report;
    else
        json_decref(report);
    return rc;
}
