/* pg_schema.c - see pg_schema.h. */
#include "pg/pg_schema.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg/pg_script.h"
#include "core/clock.h"
#include "core/log.h"

extern char **environ;

#define DUMP_MAX_BYTES ((size_t)256 * 1024 * 1024)
#define DUMP_STDERR_MAX 8192
#define STMT_TEXT_MAX 2000

/* ---- applying a script ------------------------------------------------- */

static bool word_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && !strncasecmp(s, word, n) &&
           (len == n || !((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
                          s[n] == '_' || (s[n] >= '0' && s[n] <= '9')));
}

static bool is_transaction_control(const char *s, size_t len)
{
    return word_is(s, len, "BEGIN") || word_is(s, len, "START") ||
           word_is(s, len, "COMMIT") || word_is(s, len, "END") ||
           word_is(s, len, "ROLLBACK") || word_is(s, len, "ABORT");
}

/* "CREATE SCHEMA <one identifier>" -> offset of the identifier, else 0. */
static size_t bare_create_schema(const char *s, size_t len)
{
    size_t i = 0, id;
    if (!word_is(s, len, "CREATE"))
        return 0;
    i = 6;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (!word_is(s + i, len - i, "SCHEMA"))
        return 0;
    i += 6;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    id = i;
    if (i < len && s[i] == '"') {
        for (i++; i < len; i++) {
            if (s[i] == '"') {
                if (i + 1 < len && s[i + 1] == '"') {
                    i++;
                    continue;
                }
                i++;
                break;
            }
        }
    } else {
        if (word_is(s + i, len - i, "IF") || word_is(s + i, len - i, "AUTHORIZATION"))
            return 0;
        while (i < len && (((unsigned char)s[i] >= 0x80) || s[i] == '_' || s[i] == '$' ||
                           (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                           (s[i] >= '0' && s[i] <= '9')))
            i++;
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return (i == len && id < len) ? id : 0;
}

/* Sends one statement; returns the final result (caller PQclears). COPY
 * FROM STDIN is refused, COPY TO STDOUT drained. */
static PGresult *exec_statement(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql), *next;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COPY_IN) {
        PQclear(res);
        if (PQputCopyEnd(conn, "COPY FROM STDIN is not supported in schema scripts") < 0)
            return NULL;
        res = NULL;
        while ((next = PQgetResult(conn))) {
            PQclear(res);
            res = next;
        }
    } else if (st == PGRES_COPY_OUT) {
        char *buf;
        while (PQgetCopyData(conn, &buf, 0) > 0)
            PQfreemem(buf);
        PQclear(res);
        res = NULL;
        while ((next = PQgetResult(conn))) {
            PQclear(res);
            res = next;
        }
    }
    return res;
}

static void set_opt_field(json_t *o, const char *key, const PGresult *res, int field)
{
    const char *v = res ? PQresultErrorField(res, field) : NULL;
    if (v)
        json_object_set_new(o, key, json_string(v));
}

/* Builds the error object and records the failure into err. */
static co_status statement_failed(PGconn *conn, const PGresult *res, const char *script,
                                  const pg_stmt *st, size_t index, json_t *report,
                                  co_error *err)
{
    const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    size_t off = st->offset;
    int line, col;
    long charpos;
    json_t *e;
    char what[120];
    size_t tl = st->len < STMT_TEXT_MAX ? st->len : STMT_TEXT_MAX;
    char *text = strndup(script + st->offset, tl);

    if (pos)
        off += pg_script_char_to_byte(script + st->offset, st->len, strtol(pos, NULL, 10));
    pg_script_line_col(script, off, &line, &col);
    charpos = 1; /* character position of off in the whole script (1-based) */
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)script[i] & 0xC0) != 0x80)
            charpos++;
    snprintf(what, sizeof what, "statement %zu (line %d, position %ld)", index + 1, line,
             charpos);
    pg_conn_fail(conn, res, what, err);
    e = json_pack("{s:I, s:i, s:i, s:I, s:s, s:s, s:s}", "index", (json_int_t)(index + 1),
                  "line", line, "column", col, "position", (json_int_t)charpos,
                  "statement", text ? text : "", "sqlstate",
                  err && err->sqlstate[0] ? err->sqlstate : "",
                  "message", err ? err->message : "");
    free(text);
    if (e) {
        set_opt_field(e, "server_message", res, PG_DIAG_MESSAGE_PRIMARY);
        set_opt_field(e, "detail", res, PG_DIAG_MESSAGE_DETAIL);
        set_opt_field(e, "hint", res, PG_DIAG_MESSAGE_HINT);
        set_opt_field(e, "context", res, PG_DIAG_CONTEXT);
        set_opt_field(e, "internal_query", res, PG_DIAG_INTERNAL_QUERY);
        set_opt_field(e, "internal_position", res, PG_DIAG_INTERNAL_POSITION);
        json_object_set_new(report, "error", e);
    }
    return err ? err->status : CO_ERR_REMOTE;
}

co_status pg_schema_apply_script(PGconn *conn, const char *script, const pg_apply_opts *opts,
                                 json_t **report_out, co_error *err)
{
    pg_stmt_list list;
    json_t *report = NULL, *skipped = NULL;
    size_t i, executed = 0;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    if (!script)
        return co_error_set(err, CO_ERR_INVALID, "no script");
    if ((rc = pg_script_split(script, strlen(script), &list, err)) != CO_OK)
        return rc;
    report = json_object();
    skipped = json_array();
    if (!report || !skipped) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < list.count; i++) {
        const pg_stmt *st = &list.items[i];
        if (st->meta && !word_is(script + st->offset + 1, st->len - 1, "restrict") &&
            !word_is(script + st->offset + 1, st->len - 1, "unrestrict")) {
            rc = co_error_set(err, CO_ERR_UNPROCESSABLE,
                              "statement %zu (line %d): psql meta-command %.*s is not "
                              "supported", i + 1, st->line,
                              (int)(st->len > 40 ? 40 : st->len), script + st->offset);
            goto done;
        }
    }
    if ((rc = pg_begin(conn, err)) != CO_OK)
        goto done;
    for (i = 0; i < list.count; i++) {
        const pg_stmt *st = &list.items[i];
        const char *s = script + st->offset;
        size_t id;
        char *sql;
        PGresult *res;
        ExecStatusType es;

        if (st->meta || is_transaction_control(s, st->len)) {
            json_t *sk = json_pack("{s:I, s:i, s:s%}", "index", (json_int_t)(i + 1), "line",
                                   st->line, "text", s,
                                   (size_t)(st->len > 200 ? 200 : st->len));
            if (sk)
                json_array_append_new(skipped, sk);
            continue;
        }
        id = (opts && opts->if_not_exists_schemas) ? bare_create_schema(s, st->len) : 0;
        if (id) {
            size_t n = st->len - id;
            sql = malloc(n + 29);
            if (sql) {
                memcpy(sql, "CREATE SCHEMA IF NOT EXISTS ", 28);
                memcpy(sql + 28, s + id, n);
                sql[28 + n] = '\0';
            }
        } else {
            sql = strndup(s, st->len);
        }
        if (!sql) {
            rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
            pg_rollback(conn);
            goto done;
        }
        res = exec_statement(conn, sql);
        free(sql);
        es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK && es != PGRES_EMPTY_QUERY) {
            rc = statement_failed(conn, res, script, st, i, report, err);
            PQclear(res);
            pg_rollback(conn);
            goto done;
        }
        PQclear(res);
        executed++;
        if (opts && opts->progress)
            opts->progress(opts->progress_user, "statement", i + 1, list.count);
    }
    rc = pg_commit(conn, err);
done:
    if (report) {
        json_object_set_new(report, "statements", json_integer((json_int_t)list.count));
        json_object_set_new(report, "executed", json_integer((json_int_t)executed));
        json_object_set(report, "skipped", skipped);
    }
    json_decref(skipped);
    pg_stmt_list_free(&list);
    if (report_out && report)
        *report_out = report;
    else
        json_decref(report);
    return rc;
}

/* ---- pg_dump --------------------------------------------------------------- */

static char *find_pg_dump(const char *given)
{
    const char *env = getenv("CUTOVER_PG_DUMP");
    char path[64];
    int v;
    if (given && *given)
        return strdup(given);
    if (env && *env)
        return strdup(env);
    for (v = 30; v >= 10; v--) {
        snprintf(path, sizeof path, "/usr/lib/postgresql/%d/bin/pg_dump", v);
        if (access(path, X_OK) == 0)
            return strdup(path);
    }
    return strdup("pg_dump");
}

/* "NAME=value" (malloc'd). */
static char *env_pair(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s=%s", name, value);
    return p;
}

static void free_vec(char **v)
{
    size_t i;
    if (!v)
        return;
    for (i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

/* The child's environment: PATH, HOME and TZ from ours, LC_ALL=C, and the
 * connection as PG* variables. */
static char **child_env(const pg_conn_spec *src)
{
    static const char *const keep[] = {"PATH", "HOME", "TZ"};
    char **env = calloc(24, sizeof *env);
    char port[16], timeout[16], app[128];
    size_t n = 0, i;
    bool ok = true;
    if (!env)
        return NULL;
    for (i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const char *v = getenv(keep[i]);
        if (v)
            ok = ok && (env[n++] = env_pair(keep[i], v));
    }
    ok = ok && (env[n++] = env_pair("LC_ALL", "C"));
    ok = ok && (env[n++] = env_pair("PGCLIENTENCODING", "UTF8"));
    if (src->host)
        ok = ok && (env[n++] = env_pair("PGHOST", src->host));
    if (src->port > 0) {
        snprintf(port, sizeof port, "%d", src->port);
        ok = ok && (env[n++] = env_pair("PGPORT", port));
    }
    ok = ok && (env[n++] = env_pair("PGDATABASE", src->dbname));
    ok = ok && (env[n++] = env_pair("PGUSER", src->user));
    if (src->password)
        ok = ok && (env[n++] = env_pair("PGPASSWORD", src->password));
    if (src->sslmode)
        ok = ok && (env[n++] = env_pair("PGSSLMODE", src->sslmode));
    snprintf(timeout, sizeof timeout, "%d",
             src->connect_timeout_s > 0 ? src->connect_timeout_s : 10);
    ok = ok && (env[n++] = env_pair("PGCONNECT_TIMEOUT", timeout));
    snprintf(app, sizeof app, "cutover/%s", src->run_id ? src->run_id : "pg_dump");
    ok = ok && (env[n++] = env_pair("PGAPPNAME", app));
    if (!ok) {
        free_vec(env);
        return NULL;
    }
    return env;
}

static char **dump_argv(const char *exe, const char *const *schemas, size_t n)
{
    static const char *const flags[] = {
        "--schema-only", "--no-owner", "--no-privileges", "--no-tablespaces",
        "--no-publications", "--no-subscriptions", "--no-security-labels",
        "--strict-names"};
    size_t nf = sizeof flags / sizeof flags[0], i, k = 0;
    char **argv = calloc(1 + nf + 2 * n + 1, sizeof *argv);
    if (!argv)
        return NULL;
    if (!(argv[k++] = strdup(exe)))
        goto nomem;
    for (i = 0; i < nf; i++)
        if (!(argv[k++] = strdup(flags[i])))
            goto nomem;
    for (i = 0; i < n; i++) {
        /* a double-quoted pattern matches the name literally; "" is a quote */
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
    free_vec(argv);
    return NULL;
}

typedef struct grow_buf {
    char *data;
    size_t len, cap, max;
    bool over;
} grow_buf;

static bool buf_append(grow_buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->max) {
        b->over = true;
        n = b->max > b->len + 1 ? b->max - b->len - 1 : 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        char *q;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(q = realloc(b->data, cap)))
            return false;
        b->data = q;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* Reads the child's stdout/stderr until both close or the deadline. */
static co_status pump(int *out_fdp, int *err_fdp, grow_buf *out, grow_buf *errb,
                      int64_t deadline, co_error *err)
{
    struct pollfd fds[2];
    char chunk[65536];
    int out_fd = *out_fdp, err_fd = *err_fdp;
    while (out_fd >= 0 || err_fd >= 0) {
        int64_t left = deadline - co_clock_mono_ms();
        int nf = 0, r, k;
        if (left <= 0)
            return co_error_set(err, CO_ERR_IO, "pg_dump timed out");
        if (out_fd >= 0)
            fds[nf++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
        if (err_fd >= 0)
            fds[nf++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
        r = poll(fds, (nfds_t)nf, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return co_error_set(err, CO_ERR_IO, "poll: %s", strerror(errno));
        for (k = 0; r > 0 && k < nf; k++) {
            ssize_t got;
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            got = read(fds[k].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(fds[k].fd);
                if (fds[k].fd == out_fd)
                    out_fd = *out_fdp = -1;
                else
                    err_fd = *err_fdp = -1;
                continue;
            }
            if (!buf_append(fds[k].fd == out_fd ? out : errb, chunk, (size_t)got))
                return co_error_set(err, CO_ERR_NOMEM, "out of memory reading pg_dump");
            if (out->over)
                return co_error_set(err, CO_ERR_TOO_LARGE, "pg_dump output over %zu bytes",
                                    DUMP_MAX_BYTES);
        }
    }
    return CO_OK;
}

/* Last non-empty lines of pg_dump's stderr, newlines folded. */
static const char *stderr_tail(grow_buf *b)
{
    size_t i;
    if (!b->data)
        return "(no message)";
    for (i = 0; i < b->len; i++)
        if (b->data[i] == '\n')
            b->data[i] = ' ';
    return b->len > 400 ? b->data + b->len - 400 : b->data;
}

co_status pg_schema_dump_new(const pg_conn_spec *source, const char *const *schemas,
                             size_t nschemas, const char *pg_dump_path, int timeout_s,
                             char **sql_out, co_error *err)
{
    PGconn *probe = NULL;
    char *exe = NULL, **argv = NULL, **envp = NULL;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    pid_t pid = -1;
    grow_buf out = {.max = DUMP_MAX_BYTES}, errb = {.max = DUMP_STDERR_MAX};
    int status = 0, spawn_rc;
    size_t i;
    co_status rc;

    *sql_out = NULL;
    if (nschemas == 0)
        return co_error_set(err, CO_ERR_INVALID, "at least one schema is required");
    for (i = 0; i < nschemas; i++)
        if (!schemas[i] || !*schemas[i])
            return co_error_set(err, CO_ERR_INVALID, "schema names must not be empty");
    /* Classify connection problems the same way as everywhere else. */
    if ((rc = pg_conn_open(source, &probe, err)) != CO_OK)
        return rc;
    pg_conn_close(probe);

    exe = find_pg_dump(pg_dump_path);
    argv = exe ? dump_argv(exe, schemas, nschemas) : NULL;
    envp = child_env(source);
    if (!exe || !argv || !envp) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
        rc = co_error_set(err, CO_ERR_IO, "pipe: %s", strerror(errno));
        goto done;
    }
    if (posix_spawn_file_actions_init(&fa)) {
        rc = co_error_set(err, CO_ERR_NOMEM, "out of memory");
        goto done;
    }
    fa_init = true;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    spawn_rc = strchr(exe, '/') ? posix_spawn(&pid, exe, &fa, NULL, argv, envp)
                                : posix_spawnp(&pid, exe, &fa, NULL, argv, envp);
    if (spawn_rc) {
        pid = -1;
        rc = co_error_set(err, CO_ERR_IO, "cannot start %s: %s", exe, strerror(spawn_rc));
        goto done;
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;
    co_log(CO_LOG_INFO, "pg", "running %s for %zu schema(s)", exe, nschemas);
    rc = pump(&outp[0], &errp[0], &out, &errb,
              co_clock_mono_ms() + (int64_t)(timeout_s > 0 ? timeout_s : 1800) * 1000, err);
    if (rc != CO_OK)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (rc != CO_OK)
        goto done;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = co_error_set(err, CO_ERR_REMOTE, "pg_dump failed (%s %d): %s",
                          WIFEXITED(status) ? "exit" : "signal",
                          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                          stderr_tail(&errb));
        goto done;
    }
    *sql_out = out.data ? out.data : strdup("");
    out.data = NULL;
    rc = *sql_out ? CO_OK : co_error_set(err, CO_ERR_NOMEM, "out of memory");
done:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    for (i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    free(out.data);
    free(errb.data);
    free(exe);
    free_vec(argv);
    free_vec(envp);
    return rc;
}

co_status pg_schema_copy(const pg_conn_spec *source, PGconn *target,
                         const char *const *schemas, size_t nschemas,
                         const char *pg_dump_path, json_t **report_out, co_error *err)
{
    pg_apply_opts opts = {.if_not_exists_schemas = true};
    char *sql = NULL;
    json_t *report = NULL;
    co_status rc;

    if (report_out)
        *report_out = NULL;
    rc = pg_schema_dump_new(source, schemas, nschemas, pg_dump_path, 0, &sql, err);
    if (rc != CO_OK)
        return rc;
    rc = pg_schema_apply_script(target, sql, &opts, &report, err);
    if (report)
        json_object_set_new(report, "dump_bytes", json_integer((json_int_t)strlen(sql)));
    free(sql);
    if (report_out)
        *report_out = report;
    else
        json_decref(report);
    return rc;
}
