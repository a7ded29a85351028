/* pg_sequences.h - move the target's sequences past the data after a
 * cutover (step reset_sequences of the oracle-to-postgres plan).
 *
 * Which sequences: for the tables of a pg_scope, every sequence that feeds a
 * column of those tables, found through pg_depend:
 *   - owned sequences (serial/bigserial, ALTER SEQUENCE ... OWNED BY;
 *     deptype 'a'), which is what pg_get_serial_sequence() reports,
 *   - identity columns' sequences (deptype 'i'),
 *   - free-standing sequences referenced by a column DEFAULT nextval(...)
 *     (the attrdef depends on the sequence), as pagila and dms_sample use.
 *
 * What value: with gap G (default PG_SEQ_DEFAULT_GAP), the next value the
 * sequence hands out becomes the largest of
 *   max(column) + G over every column it feeds (rounded up for numeric and
 *   double precision columns), and
 *   source last_value + G when the caller supplies source values,
 * for ascending sequences (descending ones mirror this with min and -G).
 * A sequence is never moved backwards: if it would already hand out a value
 * at or past the target, it is left alone ("unchanged"). Empty tables with no
 * source value leave the sequence alone ("no-data"). The value is set with
 * setval(seq, next, false), so nextval() returns exactly `next`.
 *
 * Connections are used from the calling thread only.
 */
#ifndef CUTOVER_PG_SEQUENCES_H
#define CUTOVER_PG_SEQUENCES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "pg/pg_scope.h"
#include "core/status.h"

#define PG_SEQ_DEFAULT_GAP 1000

typedef struct pg_seq_opts {
    long long gap;                    /* >= 0; a negative value means the default */
    const json_t *source_last_values; /* {"schema":{"sequence":last_value}} from
                                         pg_sequences_read_last_values, or NULL;
                                         borrowed; values may be integers or
                                         numeric strings */
} pg_seq_opts;

/* Reads last_value of every sequence in the scope's schemas on a source
 * database (pg_sequences; sequences never used, or that the user may not
 * read, are left out). *out (owned, json_decref) receives
 * {"schema":{"sequence":last_value,...},...}; the tables of the scope are
 * ignored. Errors: see pg_conn_fail, CO_ERR_INVALID, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_sequences_read_last_values(PGconn *source, const pg_scope *scope,
                                                      json_t **out, co_error *err);

/* Sets every sequence that feeds a column of the scope's tables as described
 * above. opts may be NULL (default gap, no source values). *report_out
 * (owned, optional) receives {"changed":N,"sequences":[{"schema","name",
 * "columns":["schema.table.column",...],"data_bound":str|null,
 * "source_last_value":str|null,"previous_next":str,"next_value":str,
 * "action":"set|unchanged|no-data|failed","error"?}]} (numbers as strings:
 * they may exceed 2^53). One failing sequence (value past its MAXVALUE,
 * permission) does not stop the others. Errors: CO_ERR_REMOTE naming the
 * first failed sequence (report still returned), CO_ERR_NOT_FOUND (schema),
 * see pg_conn_fail, CO_ERR_INVALID, CO_ERR_NOMEM. */
CO_MUST_CHECK co_status pg_sequences_reset(PGconn *conn, const pg_scope *scope,
                                           const pg_seq_opts *opts,
                                           json_t **report_out, co_error *err);

#endif
