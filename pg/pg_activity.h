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

/* SQL expression: the CDC latency in seconds (float8) of the walsender
 * whose application_name is the parameter app (a "$n" string), from
 * pg_stat_replication: replay_lag, or 0 when it is NULL (PostgreSQL clears
 * it once the subscriber has caught up with what was sent and is idle; the
 * walsender's sent_lsn may then still be ahead of what the subscriber
 * reported, by WAL it read and did not need to send, until the next
 * keepalive); NULL when no walsender of that name is connected: unknown,
 * not caught up. */
#define PG_SUBSCRIBER_LAG_SQL(app)                                                         \
    "(SELECT coalesce(extract(epoch FROM r.replay_lag), 0)::float8"                      \
    " FROM pg_stat_replication r WHERE r.application_name = " app " LIMIT 1)"

typedef struct pg_source_activity {
    long long client_sessions; /* client backends on the database, see below */
    long long bytes_behind;    /* pg_wal_lsn_diff(current, confirmed_flush); -1 unknown */
    double lag_seconds;        /* PG_SUBSCRIBER_LAG_SQL of the slot; -1 unknown */
} pg_source_activity;

/* Connects with spec and measures, in one statement:
 *  - client_sessions: rows of pg_stat_activity on the spec's database with
 *    backend_type 'client backend' (so walsenders, i.e. replication, are
 *    excluded), other than this session and other than cutover's own
 *    sessions (application_name 'cutover/%');
 *  - for slot (NULL: skipped): bytes behind from pg_replication_slots and
 *    the lag (PG_SUBSCRIBER_LAG_SQL, -1 when unknown) of the walsender whose
 *    application_name is slot (the subscription of the same name).
 * Errors: those of pg_conn_open and pg_exec (CO_ERR_TRANSIENT when the
 * source cannot be reached in time). */
CO_MUST_CHECK co_status pg_source_activity_read(const pg_conn_spec *spec,
                                                const char *slot,
                                                pg_source_activity *out,
                                                co_error *err);

#endif
