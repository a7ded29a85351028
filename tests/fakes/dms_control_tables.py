"""dms_control_tables: the control tables DMS keeps on a PostgreSQL target.

Part of the fake DMS (entry point: tests/fakes/fake_dms.py).  When a task's
ReplicationTaskSettings have ControlTablesSettings.StatusTableEnabled, DMS
creates and updates the replication status table awsdms_status in the
control schema (ControlTablesSettings.ControlSchema, else public) of the
target, one row per task (DMS user guide, "Control table task settings").
With SuspendedTablesTableEnabled, tables put in "Table error" (POST
/_fake/table-error) are written to awsdms_suspended_tables with their
message as SUSPEND_REASON.  With ValidationSettings.EnableValidation, DMS reports each table's
ValidationState in DescribeTableStatistics and keeps the keys of rows that
failed validation in awsdms_validation_failures_v1 in the same schema; the
fake reports "Validated" for loaded tables unless set_validation_failure()
(POST /_fake/validation-failure) named keys of the table, which then is
"Mismatched records" and whose keys it writes into that table.
The fake does the same, really, in the PostgreSQL database the target
endpoint names: it connects with psycopg2 with the ServerName, Port,
DatabaseName, Username and Password the endpoint was created with (only
loopback addresses), whenever DescribeReplicationTasks is answered.  The CDC
latency and pending changes it reports come from set_cdc_latency()
(POST /_fake/cdc-latency).  Callers hold FakeDMS._lock.
"""

import datetime
import ipaddress
import json
import socket
import sys

STATUS_DDL = """CREATE TABLE IF NOT EXISTS {table} (
  server_name varchar(100),
  task_name varchar(128) NOT NULL,
  task_status varchar(32),
  status_time timestamp,
  pending_changes bigint,
  disk_swap_size bigint,
  task_memory bigint,
  source_current_position varchar(128),
  source_current_timestamp timestamp,
  source_tail_position varchar(128),
  source_tail_timestamp timestamp,
  source_timestamp_applied timestamp,
  PRIMARY KEY (task_name))"""

FAILURES_DDL = """CREATE TABLE IF NOT EXISTS {table} (
  task_name varchar(128) NOT NULL,
  table_owner varchar(128) NOT NULL,
  table_name varchar(128) NOT NULL,
  failure_time timestamp NOT NULL,
  key_type varchar(128) NOT NULL,
  key varchar(8000) NOT NULL,
  failure_type varchar(128) NOT NULL,
  details varchar(8000) NOT NULL)"""


SUSPENDED_DDL = """CREATE TABLE IF NOT EXISTS {table} (
  server_name varchar(100),
  task_name varchar(128) NOT NULL,
  table_owner varchar(128) NOT NULL,
  table_name varchar(128) NOT NULL,
  suspend_reason varchar(1024),
  suspend_timestamp timestamp,
  PRIMARY KEY (task_name, table_owner, table_name))"""


def validation_enabled(t):
    try:
        return bool(json.loads(t.settings).get("ValidationSettings", {}).get("EnableValidation"))
    except ValueError:
        return False


def _loopback(host):
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


class ControlTablesMixin:
    """FakeDMS's writes of control tables into real PostgreSQL targets."""

    def _close_control_conns(self):
        for conn in getattr(self, "_control_conns", {}).values():
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
        self._control_conns = {}

    def _control_conn(self, ep):
        p = ep.params
        if p.get("EngineName") not in ("postgres", "aurora-postgresql") or not p.get("ServerName"):
            return None
        if not _loopback(p["ServerName"]):  # never anything but loopback
            return None
        key = ep.arn
        conn = self._control_conns.get(key)
        if conn is not None and not conn.closed:
            return conn
        import psycopg2  # only needed when a task asks for control tables
        conn = psycopg2.connect(host=p["ServerName"], port=p.get("Port", 5432),
                                dbname=p.get("DatabaseName", "postgres"), user=p.get("Username"),
                                password=p.get("Password"), connect_timeout=5,
                                application_name="fake_dms")
        conn.autocommit = True
        self._control_conns[key] = conn
        return conn

    def _status_row(self, t, now):
        lat, pending = self.cdc_latency.get(t.ident, self.cdc_latency["*"])
        if t.status == "running" and t.fl_active:
            status = "FULL LOAD"
        elif t.status == "running" and t.cdc_active:
            status = "CHANGE PROCESSING"
        else:
            status, lat, pending = "NOT RUNNING", 0.0, 0
        wall = datetime.datetime.fromtimestamp(float(self._wall(now)), tz=datetime.timezone.utc)
        wall = wall.replace(tzinfo=None)
        return {
            "server_name": "fake-dms", "task_name": t.arn.rsplit(":", 1)[1], "task_status": status,
            "status_time": wall, "pending_changes": pending,
            "source_current_timestamp": wall,
            "source_timestamp_applied": wall - datetime.timedelta(seconds=lat),
        }

    def _validation_view(self, t, tb, out):
        """Table statistics of tb with the validation members of task t."""
        if not validation_enabled(t) or tb.state == "Table error":
            return out
        keys = self.validation_failures.get((tb.schema, tb.name), [])
        if tb.state != "Table completed":
            out.update(ValidationState="Pending records",
                       ValidationPendingRecords=max(0, tb.rows - tb.loaded))
        elif keys:
            out.update(ValidationState="Mismatched records", ValidationFailedRecords=len(keys))
        else:
            out.update(ValidationState="Validated")
        return out

    def _write_failures(self, conn, schema, t):
        from psycopg2 import sql
        table = sql.Identifier(schema, "awsdms_validation_failures_v1")
        task_name = t.arn.rsplit(":", 1)[1]
        wall = datetime.datetime.fromtimestamp(float(self._wall(self.now())), tz=datetime.timezone.utc)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            cur.execute(sql.SQL(FAILURES_DDL).format(table=table))
            cur.execute(sql.SQL("DELETE FROM {} WHERE task_name = %s").format(table), [task_name])
            for (owner, name), keys in self.validation_failures.items():
                if not any(tb.schema == owner and tb.name == name for tb in t.tables):
                    continue
                for key in keys:
                    cur.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(table),
                                [task_name, owner, name, wall.replace(tzinfo=None), "Row",
                                 key, "RECORD_DIFF",
                                 "Target record differs from the source record"])

    def _write_suspended(self, conn, schema, t):
        from psycopg2 import sql
        table = sql.Identifier(schema, "awsdms_suspended_tables")
        task_name = t.arn.rsplit(":", 1)[1]
        with conn.cursor() as cur:
            cur.execute(sql.SQL(SUSPENDED_DDL).format(table=table))
            for tb in t.tables:
                if tb.error:
                    wall = datetime.datetime.fromtimestamp(float(self._wall(tb.last_update_v)),
                                                           tz=datetime.timezone.utc)
                    cur.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s)"
                                        " ON CONFLICT DO NOTHING").format(table),
                                ["fake-dms", task_name, tb.schema, tb.name, tb.error,
                                 wall.replace(tzinfo=None)])

    def _write_control_tables(self, result=None):
        """Updates awsdms_status for every task that enabled it."""
        now = self.now()
        for t in list(self.tasks.values()):
            try:
                settings = json.loads(t.settings)
            except ValueError:
                continue
            cts = settings.get("ControlTablesSettings") or {}
            if not cts.get("StatusTableEnabled") or t.migration_type == "full-load":
                continue
            ep = self.endpoints.get(t.target_arn)
            if ep is None:
                continue
            schema = cts.get("ControlSchema") or "public"
            try:
                conn = self._control_conn(ep)
                if conn is None:
                    continue
                self._upsert_status(conn, schema, self._status_row(t, now))
                if validation_enabled(t):
                    self._write_failures(conn, schema, t)
                if cts.get("SuspendedTablesTableEnabled"):
                    self._write_suspended(conn, schema, t)
            except Exception as exc:  # noqa: BLE001 - DMS goes on when a control write fails
                sys.stderr.write(f"fake_dms: writing {schema}.awsdms_status: {exc!r}\n")
                self._control_conns.pop(ep.arn, None)

    @staticmethod
    def _upsert_status(conn, schema, row):
        from psycopg2 import sql
        table = sql.Identifier(schema, "awsdms_status")
        cols = list(row)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            cur.execute(sql.SQL(STATUS_DDL).format(table=table))
            cur.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (task_name) DO UPDATE SET {}").format(
                table, sql.SQL(", ").join(map(sql.Identifier, cols)),
                sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
                                   for c in cols if c != "task_name")),
                [row[c] for c in cols])
