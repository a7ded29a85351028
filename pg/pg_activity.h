/* pg_activity.h - a quick look at a PostgreSQL source before cutover: the
 * client sessions still connected to its database and, when a replication
 * slot is named, how far its consumer is behind.
 *
 * DESIGN
 * One connection, one statement, read-only. It is meant to be called where
 * waiting is expensive (the readiness route runs it on an HTTP thread), so
 * the caller bounds it: connect_timeout_s and statement_timeout_ms of the
 * spec (the readiness route uses 2 s and 1000 ms).
 */
#ifndef CUTOVER_PG_ACTIVITY_H
#define CUTOVER_PG_ACTIVITY_H

#include "pg/pg_conn.h"

typedef struct pg_source_activity {
    long long client_sessions; /* client backends on the database, see below */
    long long bytes_behind;    /* pg_wal_lsn_diff(current, confirmed_flush); -1 unknown */
    double lag_seconds;        /* replay_lag of the slot's walsender; -1 unknown */
} pg_source_activity;

/* Connects with spec and measures, in one statement:
 *  - client_sessions: rows of pg_stat_activity on the spec's database with
 *    backend_type 'client backend' (so walsenders, i.e. replication, are
 *    excluded), other than this session and other than cutover's own
 *    sessions (application_name 'cutover/%');
 *  - for slot (NULL: skipped): bytes behind from pg_replication_slots and
 *    replay_lag from pg_stat_replication where application_name = slot (the
 *    subscription of the same name).
 * Errors: those of pg_conn_open and pg_exec (CO_ERR_TRANSIENT when the
 * source cannot be reached in time). */
CO_MUST_CHECK co_status pg_source_activity_read(const pg_conn_spec *spec,
                                                const char *slot,
                                                pg_source_activity *out,
                                                co_error *err);

#endif
