/* pg_activity.c - see pg_activity.h. */
#include "pg/pg_activity.h"

#include <stdlib.h>

static const char activity_sql[] =
    "SELECT (SELECT count(*) FROM pg_stat_activity"
    "         WHERE datname = current_database()"
    "           AND backend_type = 'client backend'"
    "           AND pid <> pg_backend_pid()"
    "           AND coalesce(application_name, '') NOT LIKE 'cutover/%')::bigint,"
    "       (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
    "          FROM pg_replication_slots WHERE slot_name = $1),"
    "       " PG_SUBSCRIBER_LAG_SQL("$1");

co_status pg_source_activity_read(const pg_conn_spec *spec, const char *slot,
                                  pg_source_activity *out, co_error *err)
{
    PGconn *c = NULL;
    PGresult *res = NULL;
    const char *params[1] = {slot};
    co_status rc;

    out->client_sessions = 0;
    out->bytes_behind = -1;
    out->lag_seconds = -1;
    if ((rc = pg_conn_open(spec, &c, err)) != CO_OK)
        return rc;
    rc = pg_exec(c, "reading the source's sessions", activity_sql, 1, params, &res, err);
    if (rc == CO_OK && PQntuples(res) == 1) {
        out->client_sessions = pg_res_int(res, 0, 0, 0);
        out->bytes_behind = pg_res_int(res, 0, 1, -1);
        if (slot && pg_res_get(res, 0, 2))
            out->lag_seconds = atof(pg_res_get(res, 0, 2));
    }
    PQclear(res);
    pg_conn_close(c);
    return rc;
}
