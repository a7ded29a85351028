/* schema.h - ordered schema migrations of the SQLite store.
 *
 * co_schema_migrations[i] takes the file from user_version i to i + 1.
 * Append only: never edit a migration that has shipped.
 */
#ifndef CUTOVER_STORE_SCHEMA_H
#define CUTOVER_STORE_SCHEMA_H

extern const char *const co_schema_migrations[];
extern const int co_schema_migration_count;

#endif
