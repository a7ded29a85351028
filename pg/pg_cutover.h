/* pg_cutover.h - what PostgreSQL's logical replication does not carry,
 * done at the cutover: the schema fingerprint compared by the cutover gate
 * and final_sync (DDL on the source during CDC is not replicated), large
 * objects copied while the source is quiet, materialized views refreshed
 * once the data is in.
 *
 * SCHEMA FINGERPRINT: for the ordinary and partitioned tables of a list of
 * schemas, each column (name, format_type of its type, NOT NULL) and each
 * primary-key, unique, check, foreign-key and exclusion constraint (name
 * and pg_get_constraintdef). Secondary indexes, triggers, replica identity
 * and ownership are not part of it. Columns and constraints are compared
 * by name, so column order and dropped columns do not count.
 *
 * LARGE OBJECTS: every large object of the source (pg_largeobject_metadata)
 * is read with lo_get and written on the target with the same OID with
 * lo_from_bytea, replacing one that exists (lo_unlink first), all in one
 * transaction on the target. Data only: owners and ACLs are not copied.
 * Each object travels in one bytea (at most 1 GB, PostgreSQL's limit).
 *
 * Connections are used from the calling thread only.
 */
#ifndef CUTOVER_PG_CUTOVER_H
#define CUTOVER_PG_CUTOVER_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/status.h"

/* Reads the fingerprint of the tables of schemas (a JSON array of names)
 * through c into *out (owned): {"schema.table": {"columns": {"name":
 * "type[ NOT NULL]"}, "constraints": {"name": "definition"}}}. Errors: from
 * libpq (see pg_conn_fail), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_schema_fingerprint(PGconn *c, const json_t *schemas, json_t **out,
                                              co_error *err);

/* The differences between two fingerprints as a new array (owned, empty
 * when equal) of {"table", "object" ("table", "column <name>" or
 * "constraint <name>"), "source", "target"} where a side that lacks the
 * object is null. */
json_t *pg_schema_fingerprint_diff(const json_t *source, const json_t *target);

/* Copies every large object of src to dst (see above). *report_out (owned,
 * optional) receives {"objects": N, "bytes": N}. Errors: from libpq on
 * either side (the target's transaction is rolled back), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_large_objects_copy(PGconn *src, PGconn *dst, json_t **report_out,
                                              co_error *err);

/* REFRESH MATERIALIZED VIEW for every materialized view of schemas (a JSON
 * array of names) on c, oldest first (pg_dump creates them in dependency
 * order). *report_out (owned, optional) receives the refreshed names
 * ["schema.view", ...]. Errors: from libpq (the failing view is named in
 * the message), CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_matviews_refresh(PGconn *c, const json_t *schemas,
                                            json_t **report_out, co_error *err);

#endif
