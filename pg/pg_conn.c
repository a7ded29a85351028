/* pg_conn.c - see pg_conn.h. */
#include "pg/pg_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

#define DEFAULT_CONNECT_TIMEOUT_S 10

static bool json_int_member(const json_t *obj, const char *key, long long min,
                            long long max, int *out, bool *bad)
{
    const json_t *v = json_object_get(obj, key);
    long long n;
    char *end;
    if (!v || json_is_null(v))
        return false;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        errno = 0;
        n = strtoll(json_string_value(v), &end, 10);
        if (errno || end == json_string_value(v) || *end) {
            *bad = true;
            return false;
        }
    } else {
        *bad = true;
        return false;
    }
    if (n < min || n > max) {
        *bad = true;
        return false;
    }
    *out = (int)n;
    return true;
}

void pg_conn_spec_from_endpoint(const json_t *doc, const char *password,
                                pg_conn_spec *out)
{
    memset(out, 0, sizeof *out);
    out->host = v_str(doc, "host");
    out->port = (int)json_integer_value(json_object_get(doc, "port"));
    out->dbname = v_str(doc, "database");
    out->user = v_str(doc, "username");
    out->password = password;
    out->sslmode = v_str(doc, "sslmode");
    out->sslrootcert = v_str(doc, "sslrootcert");
}

co_status pg_conn_spec_from_json(const json_t *obj, const char *pointer,
                                 pg_conn_spec *out, co_error *err)
{
    static const char *const strings[] = {"host", "dbname", "user", "password",
                                          "sslmode", "run_id",
                                          "application_name"};
    char ptr[160];
    bool bad = false;
    size_t i;
    co_status rc = CO_OK;

    memset(out, 0, sizeof *out);
    if (!pointer)
        pointer = "";
    if (!json_is_object(obj))
        return co_error_field(err, pointer[0] ? pointer : "/", "must be an object");
    for (i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const json_t *v = json_object_get(obj, strings[i]);
        if (v && !json_is_string(v) && !json_is_null(v)) {
            snprintf(ptr, sizeof ptr, "%s/%s", pointer, strings[i]);
            rc = co_error_field(err, ptr, "must be a string");
        }
    }
    out->host = v_str(obj, "host");
    out->dbname = v_str(obj, "dbname");
    out->user = v_str(obj, "user");
    out->password = v_str(obj, "password");
    out->sslmode = v_str(obj, "sslmode");
    out->run_id = v_str(obj, "run_id");
    out->application_name = v_str(obj, "application_name");
    json_int_member(obj, "port", 1, 65535, &out->port, &bad);
    if (bad) {
        snprintf(ptr, sizeof ptr, "%s/port", pointer);
        rc = co_error_field(err, ptr, "must be a TCP port (1-65535)");
        bad = false;
    }
    json_int_member(obj, "connect_timeout", 0, 3600, &out->connect_timeout_s, &bad);
    if (bad) {
        snprintf(ptr, sizeof ptr, "%s/connect_timeout", pointer);
        rc = co_error_field(err, ptr, "must be seconds (0-3600)");
        bad = false;
    }
    json_int_member(obj, "statement_timeout_ms", 0, 2147483647,
                    &out->statement_timeout_ms, &bad);
    if (bad) {
        snprintf(ptr, sizeof ptr, "%s/statement_timeout_ms", pointer);
        rc = co_error_field(err, ptr, "must be milliseconds (>= 0)");
    }
    if (!out->dbname || !*out->dbname) {
        snprintf(ptr, sizeof ptr, "%s/dbname", pointer);
        rc = co_error_field(err, ptr, "is required");
    }
    if (!out->user || !*out->user) {
        snprintf(ptr, sizeof ptr, "%s/user", pointer);
        rc = co_error_field(err, ptr, "is required");
    }
    return rc;
}

static void notice_to_log(void *arg, const char *message)
{
    size_t n = strlen(message);
    (void)arg;
    while (n && message[n - 1] == '\n')
        n--;
    co_log(CO_LOG_DEBUG, "pg", "server notice: %.*s", (int)n, message);
}

/* Recognises server refusals that retrying cannot fix; fills sqlstate. */
static bool connect_refusal(const char *msg, char sqlstate[6])
{
    static const struct {
        const char *needle;
        const char *also; /* a second phrase that must follow, or NULL */
        const char *state;
    } table[] = {
        {"password authentication failed", NULL, "28P01"},
        {"no pg_hba.conf entry", NULL, "28000"},
        {"pg_hba.conf rejects connection", NULL, "28000"},
        {"not permitted to log in", NULL, "28000"},
        {"role \"", "does not exist", "28000"},
        {"database \"", "does not exist", "3D000"},
        {"permission denied for database", NULL, "42501"},
    };
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *p = strstr(msg, table[i].needle);
        if (!p || (table[i].also && !strstr(p, table[i].also)))
            continue;
        memcpy(sqlstate, table[i].state, 6);
        return true;
    }
    return false;
}

static void trim_message(char *dst, size_t size, const char *src)
{
    size_t n;
    snprintf(dst, size, "%s", src ? src : "");
    n = strlen(dst);
    while (n && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
    for (n = 0; dst[n]; n++)
        if (dst[n] == '\n')
            dst[n] = ' ';
}

static void add_kv(const char **keys, const char **vals, int *n, const char *k,
                   const char *v)
{
    if (!v)
        return;
    keys[*n] = k;
    vals[*n] = v;
    (*n)++;
}

co_status pg_conn_open(const pg_conn_spec *spec, PGconn **out, co_error *err)
{
    const char *keys[20], *vals[20];
    char port[16], timeout[16], appname[128], options[64];
    char msg[400], state[6] = "";
    int n = 0;
    PGconn *conn;

    *out = NULL;
    if (!spec || !spec->dbname || !*spec->dbname || !spec->user || !*spec->user)
        return co_error_set(err, CO_ERR_INVALID,
                            "a connection needs a database name and a user");
#define KV(k, v) add_kv(keys, vals, &n, (k), (v))
    KV("host", spec->host);
    if (spec->port > 0) {
        snprintf(port, sizeof port, "%d", spec->port);
        KV("port", port);
    }
    KV("dbname", spec->dbname);
    KV("user", spec->user);
    KV("password", spec->password);
    KV("sslmode", spec->sslmode);
    KV("sslrootcert", spec->sslrootcert);
    snprintf(timeout, sizeof timeout, "%d",
             spec->connect_timeout_s > 0 ? spec->connect_timeout_s
                                         : DEFAULT_CONNECT_TIMEOUT_S);
    KV("connect_timeout", timeout);
    if (spec->application_name)
        snprintf(appname, sizeof appname, "%s", spec->application_name);
    else if (spec->run_id)
        snprintf(appname, sizeof appname, "cutover/%s", spec->run_id);
    else
        snprintf(appname, sizeof appname, "cutover");
    KV("application_name", appname);
    KV("client_encoding", "UTF8");
    if (spec->replication)
        KV("replication", "database");
    KV("keepalives", "1");
    KV("keepalives_idle", "30");
    KV("keepalives_interval", "10");
    KV("keepalives_count", "3");
    if (spec->statement_timeout_ms > 0) {
        snprintf(options, sizeof options, "-c statement_timeout=%d",
                 spec->statement_timeout_ms);
        KV("options", options);
    }
#undef KV
    keys[n] = NULL;
    vals[n] = NULL;

    conn = PQconnectdbParams(keys, vals, 0);
    if (!conn)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory creating a connection");
    if (PQstatus(conn) != CONNECTION_OK) {
        co_status st;
        trim_message(msg, sizeof msg, PQerrorMessage(conn));
        if (connect_refusal(msg, state)) {
            st = co_error_set(err, CO_ERR_REMOTE, "cannot connect to %s: %s",
                              spec->dbname, msg);
            if (err && err->status == CO_ERR_REMOTE)
                memcpy(err->sqlstate, state, 6);
        } else {
            st = co_error_set(err, CO_ERR_TRANSIENT, "cannot connect to %s: %s",
                              spec->dbname, msg);
            if (err && err->status == CO_ERR_TRANSIENT)
                memcpy(err->sqlstate, "08001", 6);
        }
        PQfinish(conn);
        return st;
    }
    PQsetNoticeProcessor(conn, notice_to_log, NULL);
    *out = conn;
    return CO_OK;
}

void pg_conn_close(PGconn *conn)
{
    if (conn)
        PQfinish(conn);
}

bool pg_sqlstate_is_transient(const char *s)
{
    if (!s || strlen(s) != 5)
        return false;
    if (!strncmp(s, "08", 2) || !strncmp(s, "53", 2))
        return true;
    return !strcmp(s, "57P01") || !strcmp(s, "57P02") || !strcmp(s, "57P03") ||
           !strcmp(s, "40001") || !strcmp(s, "40P01") || !strcmp(s, "55P03");
}

co_status pg_conn_fail(PGconn *conn, const PGresult *res, const char *what,
                       co_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char msg[420], det[200];
    co_status st;
    bool lost = !conn || PQstatus(conn) == CONNECTION_BAD;

    if (primary)
        trim_message(msg, sizeof msg, primary);
    else if (res && *PQresultErrorMessage(res))
        trim_message(msg, sizeof msg, PQresultErrorMessage(res));
    else
        trim_message(msg, sizeof msg, conn ? PQerrorMessage(conn) : "no connection");
    if (!msg[0])
        snprintf(msg, sizeof msg, "unexpected result status %s",
                 res ? PQresStatus(PQresultStatus(res)) : "(none)");
    det[0] = '\0';
    if (detail)
        trim_message(det, sizeof det, detail);

    if (lost || !state || pg_sqlstate_is_transient(state))
        st = CO_ERR_TRANSIENT;
    else
        st = CO_ERR_REMOTE;
    if (!state && !lost && res && PQresultStatus(res) != PGRES_FATAL_ERROR)
        st = CO_ERR_REMOTE; /* e.g. a COPY state we did not expect: a bug, not a blip */
    if (err && err->status != CO_OK)
        return err->status;
    co_error_set(err, st, "%s: %s%s%s%s", what ? what : "query", msg,
                 state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
    if (err && det[0]) {
        size_t used = strlen(err->message);
        if (used + 10 < sizeof err->message)
            snprintf(err->message + used, sizeof err->message - used, "; DETAIL: %s", det);
    }
    if (err) {
        if (state && strlen(state) == 5)
            memcpy(err->sqlstate, state, 6);
        else if (lost)
            memcpy(err->sqlstate, "08006", 6);
    }
    return st;
}

static co_status finish_result(PGconn *conn, PGresult *res, const char *what,
                               PGresult **out, co_error *err)
{
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        co_status st = pg_conn_fail(conn, res, what, err);
        PQclear(res);
        return st;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return CO_OK;
}

co_status pg_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                  const char *const *params, PGresult **out, co_error *err)
{
    PGresult *res;
    if (out)
        *out = NULL;
    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    return finish_result(conn, res, what, out, err);
}

co_status pg_exec_simple(PGconn *conn, const char *what, const char *sql,
                         PGresult **out, co_error *err)
{
    PGresult *res;
    if (out)
        *out = NULL;
    res = PQexec(conn, sql);
    return finish_result(conn, res, what, out, err);
}

co_status pg_conn_set_config(PGconn *conn, const char *name, const char *value, co_error *err)
{
    const char *params[2] = {name, value};
    return pg_exec(conn, "set a session setting",
                   "SELECT pg_catalog.set_config($1, $2, false)", 2, params, NULL, err);
}

co_status pg_conn_set_statement_timeout(PGconn *conn, int ms, co_error *err)
{
    char v[24];
    snprintf(v, sizeof v, "%d", ms < 0 ? 0 : ms);
    return pg_conn_set_config(conn, "statement_timeout", v, err);
}

co_status pg_begin(PGconn *conn, co_error *err)
{
    return pg_exec_simple(conn, "BEGIN", "BEGIN", NULL, err);
}

co_status pg_commit(PGconn *conn, co_error *err)
{
    return pg_exec_simple(conn, "COMMIT", "COMMIT", NULL, err);
}

void pg_rollback(PGconn *conn)
{
    PGresult *res;
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(conn) == PQTRANS_IDLE)
        return;
    res = PQexec(conn, "ROLLBACK");
    PQclear(res);
}

const char *pg_res_get(const PGresult *res, int row, int col)
{
    if (!res || row >= PQntuples(res) || col >= PQnfields(res) ||
        PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}

long long pg_res_int(const PGresult *res, int row, int col, long long def)
{
    const char *v = pg_res_get(res, row, col);
    char *end;
    long long n;
    if (!v || !*v)
        return def;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end)
        return def;
    return n;
}

bool pg_res_bool(const PGresult *res, int row, int col)
{
    const char *v = pg_res_get(res, row, col);
    return v && v[0] == 't';
}

co_status pg_report_out(json_t *report, json_t **report_out, co_error *err)
{
    if (!report)
        return co_error_set(err, CO_ERR_NOMEM, "out of memory");
    if (report_out)
        *report_out = report;
    else
        json_decref(report);
    return CO_OK;
}
