"""dms_pg_copy: the rows of a full load, really copied between PostgreSQL
databases on loopback.

Part of the fake DMS (entry point: tests/fakes/fake_dms.py).  When a table of
a task's full load completes and both the task's source and target endpoints
are PostgreSQL databases on a loopback address, the fake does what DMS does:
it prepares the target table per FullLoadSettings.TargetTablePrepMode
(DROP_AND_CREATE, the default: columns with their types and the primary key;
TRUNCATE_BEFORE_LOAD; DO_NOTHING) under the name the table mappings'
schema and table rename rules give it, and copies every row (COPY).  Other
endpoints (Oracle sources known only to the catalog) are not touched.  A
failure puts the table in "Table error" with the message.  Callers hold
FakeDMS._lock.
"""

import io
import json
import sys

from dms_task_ops import _like


def _target_name(mappings_text, schema, table):
    """(schema, table) after the mappings' rename transformation rules."""
    try:
        rules = json.loads(mappings_text).get("rules", [])
    except ValueError:
        return schema, table
    out_schema, out_table = schema, table
    for r in rules:
        if r.get("rule-type") != "transformation" or r.get("rule-action") != "rename":
            continue
        loc = r.get("object-locator", {})
        if not _like(loc.get("schema-name", "%"), schema):
            continue
        if r.get("rule-target") == "schema":
            out_schema = r.get("value", out_schema)
        elif r.get("rule-target") == "table" and _like(loc.get("table-name", "%"), table):
            out_table = r.get("value", out_table)
    return out_schema, out_table


class PgCopyMixin:
    """FakeDMS's real copy of a completed table (needs _control_conn)."""

    def _copy_table(self, t, tb):
        src_ep = self.endpoints.get(t.source_arn)
        dst_ep = self.endpoints.get(t.target_arn)
        if src_ep is None or dst_ep is None:
            return
        try:
            src = self._control_conn(src_ep)
            dst = self._control_conn(dst_ep)
            if src is None or dst is None:
                return
            mode = json.loads(t.settings).get("FullLoadSettings", {}).get(
                "TargetTablePrepMode", "DROP_AND_CREATE")
            self._copy_rows(src, dst, tb.schema, tb.name,
                            _target_name(t.table_mappings, tb.schema, tb.name), mode)
        except Exception as exc:  # noqa: BLE001 - DMS reports it as a table error
            sys.stderr.write(f"fake_dms: copying {tb.schema}.{tb.name}: {exc!r}\n")
            tb.state = "Table error"
            tb.error = f"fake_dms could not load {tb.schema}.{tb.name}: {exc}"
            for ep in (src_ep, dst_ep):
                self._control_conns.pop(ep.arn, None)

    @staticmethod
    def _copy_rows(src, dst, schema, table, target, mode):
        from psycopg2 import sql
        source = sql.Identifier(schema, table)
        dest = sql.Identifier(*target)
        with src.cursor() as cur:
            cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull"
                        " FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0"
                        " AND NOT a.attisdropped ORDER BY a.attnum",
                        [source.as_string(src)])
            cols = cur.fetchall()
            cur.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON"
                        " a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                        " WHERE i.indrelid = %s::regclass AND i.indisprimary"
                        " ORDER BY array_position(i.indkey, a.attnum)", [source.as_string(src)])
            pk = [r[0] for r in cur.fetchall()]
            data = io.StringIO()
            cur.copy_expert(sql.SQL("COPY {} TO STDOUT").format(source).as_string(src), data)
        data.seek(0)
        with dst.cursor() as cur:
            if mode == "DROP_AND_CREATE":
                cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target[0])))
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(dest))
                defs = [sql.SQL("{} {}{}").format(sql.Identifier(n), sql.SQL(ty),
                                                  sql.SQL(" NOT NULL" if nn else ""))
                        for n, ty, nn in cols]
                if pk:
                    defs.append(sql.SQL("PRIMARY KEY ({})").format(
                        sql.SQL(", ").join(map(sql.Identifier, pk))))
                cur.execute(sql.SQL("CREATE TABLE {} ({})").format(dest, sql.SQL(", ").join(defs)))
            elif mode == "TRUNCATE_BEFORE_LOAD":
                cur.execute(sql.SQL("TRUNCATE {}").format(dest))
            cur.copy_expert(sql.SQL("COPY {} FROM STDIN").format(dest).as_string(dst), data)
