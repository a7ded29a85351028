/* schema.c - see schema.h. */
#include "store/schema.h"

const char *const co_schema_migrations[] = {
    /* 0 -> 1: resources, references, idempotency keys. */
    "CREATE TABLE resources ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('project','endpoint',"
    "    'replication_instance','task')),"
    "  project_id TEXT REFERENCES resources(id) ON DELETE RESTRICT,"
    "  name TEXT NOT NULL,"
    "  doc TEXT NOT NULL CHECK (json_valid(doc)),"
    "  secret BLOB,"
    "  version INTEGER NOT NULL DEFAULT 1,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE UNIQUE INDEX resources_name ON resources"
    "  (kind, coalesce(project_id, ''), name);"
    "CREATE INDEX resources_project ON resources (project_id, kind, seq);"
    "CREATE TABLE resource_refs ("
    "  from_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,"
    "  to_id TEXT NOT NULL REFERENCES resources(id) ON DELETE RESTRICT,"
    "  PRIMARY KEY (from_id, to_id));"
    "CREATE INDEX resource_refs_to ON resource_refs (to_id);"
    "CREATE TABLE idempotency_keys ("
    "  principal TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  method TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  body_sha256 TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  location TEXT,"
    "  etag TEXT,"
    "  body BLOB NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  PRIMARY KEY (principal, key));",
};

const int co_schema_migration_count =
    (int)(sizeof co_schema_migrations / sizeof co_schema_migrations[0]);
