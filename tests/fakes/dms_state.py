"""dms_state: the fake DMS's resources and their asynchronous state machines.

Part of the fake DMS (entry point: tests/fakes/fake_dms.py).  Instances,
endpoints, connections, schema refreshes and tasks move between states on the
virtual clock: StateMixin._tick(now) applies every transition that is due
(task full loads are simulated table by table), and the *_json methods render
resources as the API describes them.  Callers hold FakeDMS._lock.
"""

import json

from dms_model import service_model

# Durations in virtual seconds; the virtual clock runs at `speed` times real
# time and can be moved forward with advance().
DEFAULT_TIMINGS = {
    "instance_create": 3.0,
    "instance_delete": 1.0,
    "endpoint_delete": 0.5,
    "connection_test": 1.0,
    "refresh_schemas": 1.0,
    "task_create": 1.0,
    "task_start": 1.0,
    "task_stop": 1.0,
    "task_modify": 0.5,
    "task_delete": 1.0,
    "cached_changes": 1.0,      # applying cached changes after the full load
    "rows_per_second": 2000.0,  # full-load speed of one table
    "min_table_load": 0.5,      # shortest load of one table
}

DEFAULT_CATALOG = [
    {"schema": "HR", "table": "COUNTRIES", "rows": 25},
    {"schema": "HR", "table": "DEPARTMENTS", "rows": 27},
    {"schema": "HR", "table": "EMPLOYEES", "rows": 107},
    {"schema": "HR", "table": "JOBS", "rows": 19},
    {"schema": "HR", "table": "JOB_HISTORY", "rows": 10},
    {"schema": "HR", "table": "LOCATIONS", "rows": 23},
    {"schema": "HR", "table": "REGIONS", "rows": 4},
]

ENGINE_DISPLAY = {
    "oracle": "Oracle", "postgres": "PostgreSQL", "aurora-postgresql": "Amazon Aurora PostgreSQL",
    "mysql": "MySQL", "aurora": "Amazon Aurora MySQL", "mariadb": "MariaDB",
    "sqlserver": "Microsoft SQL Server", "sybase": "SAP Sybase ASE", "db2": "IBM Db2 for Linux, UNIX, and Windows",
    "s3": "Amazon S3", "redshift": "Amazon Redshift", "dynamodb": "Amazon DynamoDB",
}
ENGINE_SETTINGS_KEY = {
    "oracle": "OracleSettings", "postgres": "PostgreSQLSettings", "aurora-postgresql": "PostgreSQLSettings",
    "mysql": "MySQLSettings", "aurora": "MySQLSettings", "mariadb": "MySQLSettings",
    "sqlserver": "MicrosoftSQLServerSettings", "sybase": "SybaseSettings", "db2": "IBMDb2Settings",
}


# --------------------------------------------------------------------------
# resources

class Instance:
    def __init__(self, ident, arn, params, now, ready_at):
        self.ident = ident
        self.arn = arn
        self.cls = params["ReplicationInstanceClass"]
        self.storage = params.get("AllocatedStorage", 50)
        self.multi_az = params.get("MultiAZ", False)
        self.engine_version = params.get("EngineVersion", "3.5.3")
        self.auto_minor = params.get("AutoMinorVersionUpgrade", True)
        self.public = params.get("PubliclyAccessible", True)
        self.az = params.get("AvailabilityZone")
        self.window = params.get("PreferredMaintenanceWindow", "sun:06:00-sun:06:30")
        self.kms = params.get("KmsKeyId")
        self.subnet_group = params.get("ReplicationSubnetGroupIdentifier", "default")
        self.sgs = params.get("VpcSecurityGroupIds") or ["sg-0fa4ef5a7e1c0b1d2"]
        self.network_type = params.get("NetworkType", "IPV4")
        self.created_v = now
        self.status = "creating"
        self.until = ready_at
        self.next = "available"


class Endpoint:
    def __init__(self, ident, arn, params, now):
        self.ident = ident
        self.arn = arn
        self.params = dict(params)
        self.created_v = now
        self.status = "active"
        self.until = None


class Table:
    def __init__(self, schema, name, rows):
        self.schema = schema
        self.name = name
        self.rows = int(rows)
        self.state = "Before load"
        self.loaded = 0
        self.start_v = None   # load slot start (this attempt)
        self.end_v = None     # load slot end (this attempt)
        self.fl_start_v = None
        self.fl_end_v = None
        self.reloaded = False
        self.inserts = self.updates = self.deletes = self.ddls = 0
        self.last_update_v = None
        self.error = None


class Task:
    def __init__(self, ident, arn, params, settings, now, ready_at):
        self.ident = ident
        self.arn = arn
        self.source_arn = params["SourceEndpointArn"]
        self.target_arn = params["TargetEndpointArn"]
        self.instance_arn = params["ReplicationInstanceArn"]
        self.migration_type = params["MigrationType"]
        self.table_mappings = params["TableMappings"]
        self.settings = settings
        self.cdc_start_position = params.get("CdcStartPosition")
        self.cdc_start_time = params.get("CdcStartTime")
        self.cdc_stop_position = params.get("CdcStopPosition")
        self.task_data = params.get("TaskData")
        self.created_v = now
        self.status = "creating"
        self.until = ready_at
        self.next = ("status", "ready")
        self.prev_status = None
        self.stop_reason = None
        self.last_failure = None
        self.recovery_checkpoint = None
        self.ever_started = False
        self.task_start_v = None
        self.fresh_start_v = None
        self.start_v = None
        self.stop_v = None
        self.fl_start_v = None
        self.fl_finish_v = None
        self.elapsed_ms = 0
        self.run_started_v = None
        self.tables = []
        self.fl_active = False
        self.fl_sim = None
        self.pending = None   # what happens when "starting" turns "running"
        self.cdc_active = False


class StateMixin:
    """FakeDMS's resource ids, time-driven transitions and JSON views (needs
    self.instances, endpoints, connections, refreshes, tasks, timings, _wall)."""

    def _new_arn(self, kind):
        rid = "".join(self._id_rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(26))
        return f"arn:aws:dms:{self.region}:{self.account_id}:{kind}:{rid}"

    # ---------------------------------------------------------------- time-driven transitions

    def _tick(self, now):
        for arn, inst in list(self.instances.items()):
            if inst.until is not None and now >= inst.until:
                if inst.next == "gone":
                    del self.instances[arn]
                    for key in [k for k in self.connections if k[0] == arn]:
                        del self.connections[key]
                else:
                    inst.status, inst.until, inst.next = inst.next, None, None
        for arn, ep in list(self.endpoints.items()):
            if ep.until is not None and now >= ep.until:
                del self.endpoints[arn]
                for key in [k for k in self.connections if k[1] == arn]:
                    del self.connections[key]
                self.refreshes.pop(arn, None)
        for conn in self.connections.values():
            if conn["status"] == "testing" and now >= conn["until"]:
                conn["status"] = conn["result"]
                conn["until"] = None
        for ref in self.refreshes.values():
            if ref["status"] == "refreshing" and now >= ref["until"]:
                ref["status"] = "successful"
                ref["last_v"] = ref["until"]
        for arn, t in list(self.tasks.items()):
            if self._tick_task(t, now) == "gone":
                del self.tasks[arn]

    def _tick_task(self, t, now):
        for _ in range(10000):
            if t.until is not None and now >= t.until:
                at, (kind, arg) = t.until, t.next
                t.until, t.next = None, None
                if kind == "gone":
                    return "gone"
                if kind == "status":
                    t.status = arg
                elif kind == "running":
                    self._task_running(t, at)
                elif kind == "stopped":
                    self._task_stopped(t, at, arg)
                continue
            if t.status == "running" and t.fl_active:
                if self._fl_advance(t, now):
                    self._after_full_load(t, t.fl_sim)
                    continue
            break
        return None

    def _task_settings(self, t):
        return json.loads(t.settings)

    def _task_running(self, t, at):
        t.status = "running"
        t.run_started_v = at
        what = t.pending
        t.pending = None
        if what == "full-load":
            t.fl_active = True
            t.fl_sim = at
            if t.fl_start_v is None:
                t.fl_start_v = at
            for tb in t.tables:
                if tb.state not in ("Table completed", "Table error"):
                    tb.state = "Before load"
                    tb.loaded = 0
                    tb.start_v = tb.end_v = None
        elif what == "finish":  # a full-load-only task with nothing left to load
            self._task_stopped(t, at, "Stop Reason FULL_LOAD_ONLY_FINISHED")
        else:  # change data capture
            t.cdc_active = True
            for tb in t.tables:
                if tb.state in ("Before load", "Table cancelled"):
                    tb.state = "Table completed"
                    tb.last_update_v = at

    def _task_stopped(self, t, at, reason):
        if t.run_started_v is not None:
            t.elapsed_ms += int(round((at - t.run_started_v) * 1000))
            t.run_started_v = None
        t.status = "stopped"
        t.stop_reason = reason
        t.stop_v = at
        t.cdc_active = False
        t.fl_active = False
        t.recovery_checkpoint = f"checkpoint:V1#{int(at * 1000)}#fake#0#0#*#0#0"
        for tb in t.tables:
            if tb.state == "Full load":
                tb.state = "Table cancelled"
                tb.last_update_v = at

    def _task_fail(self, t, at, message):
        if t.run_started_v is not None:
            t.elapsed_ms += int(round((at - t.run_started_v) * 1000))
            t.run_started_v = None
        t.status = "failed"
        t.last_failure = message
        t.stop_reason = "Stop Reason FATAL_ERROR"
        t.stop_v = at
        t.until = t.next = None
        t.fl_active = False
        t.cdc_active = False
        for tb in t.tables:
            if tb.state == "Full load":
                tb.state = "Table cancelled"
                tb.last_update_v = at

    def _table_duration(self, tb):
        return max(self.timings["min_table_load"], tb.rows / self.timings["rows_per_second"])

    def _fl_advance(self, t, now):
        """Advance the full-load simulation to `now`; True when the load is over
        (t.fl_sim is then the moment it ended)."""
        settings = self._task_settings(t)
        slots = max(1, int(settings.get("FullLoadSettings", {}).get("MaxFullLoadSubTasks", 8)))
        while True:
            loading = [tb for tb in t.tables if tb.state == "Full load"]
            queued = [tb for tb in t.tables if tb.state == "Before load"]
            while len(loading) < slots and queued:
                tb = queued.pop(0)
                tb.state = "Full load"
                tb.loaded = 0
                tb.start_v = t.fl_sim
                tb.end_v = t.fl_sim + self._table_duration(tb)
                tb.fl_start_v = t.fl_sim
                tb.fl_end_v = None
                tb.last_update_v = t.fl_sim
                loading.append(tb)
            if not loading:
                return True
            nxt = min(tb.end_v for tb in loading)
            if nxt > now:
                t.fl_sim = max(t.fl_sim, now)
                for tb in loading:
                    span = tb.end_v - tb.start_v
                    frac = 1.0 if span <= 0 else min(1.0, max(0.0, (now - tb.start_v) / span))
                    tb.loaded = int(tb.rows * frac)
                return False
            t.fl_sim = max(t.fl_sim, nxt)
            for tb in loading:
                if tb.end_v <= nxt:
                    tb.state = "Table completed"
                    tb.loaded = tb.rows
                    tb.fl_end_v = tb.end_v
                    tb.last_update_v = tb.end_v
                    self._copy_table(t, tb)  # real rows between loopback PostgreSQL databases

    def _after_full_load(self, t, at):
        t.fl_active = False
        t.fl_finish_v = at
        fls = self._task_settings(t).get("FullLoadSettings", {})
        if t.migration_type == "full-load":
            self._task_stopped(t, at, "Stop Reason FULL_LOAD_ONLY_FINISHED")
        elif fls.get("StopTaskCachedChangesNotApplied"):
            self._task_stopped(t, at, "Stop Reason STOPPED_AFTER_FULL_LOAD")
        elif fls.get("StopTaskCachedChangesApplied"):
            t.cdc_active = True
            t.until = at + self.timings["cached_changes"]
            t.next = ("stopped", "Stop Reason STOPPED_AFTER_CACHED_EVENTS")
        else:
            t.cdc_active = True

    # ---------------------------------------------------------------- JSON views

    def _instance_json(self, i):
        out = {
            "ReplicationInstanceIdentifier": i.ident,
            "ReplicationInstanceClass": i.cls,
            "ReplicationInstanceStatus": i.status,
            "AllocatedStorage": i.storage,
            "InstanceCreateTime": self._wall(i.created_v),
            "VpcSecurityGroups": [{"VpcSecurityGroupId": sg, "Status": "active"} for sg in i.sgs],
            "ReplicationSubnetGroup": {
                "ReplicationSubnetGroupIdentifier": i.subnet_group,
                "ReplicationSubnetGroupDescription": i.subnet_group,
                "VpcId": "vpc-0a1b2c3d4e5f60718",
                "SubnetGroupStatus": "Complete",
                "Subnets": [
                    {"SubnetIdentifier": "subnet-0aa11bb22cc33dd44",
                     "SubnetAvailabilityZone": {"Name": f"{self.region}a"}, "SubnetStatus": "Active"},
                    {"SubnetIdentifier": "subnet-0ee55ff66aa77bb88",
                     "SubnetAvailabilityZone": {"Name": f"{self.region}b"}, "SubnetStatus": "Active"},
                ],
                "SupportedNetworkTypes": ["IPV4"],
            },
            "PreferredMaintenanceWindow": i.window,
            "PendingModifiedValues": {},
            "MultiAZ": i.multi_az,
            "EngineVersion": i.engine_version,
            "AutoMinorVersionUpgrade": i.auto_minor,
            "KmsKeyId": i.kms or f"arn:aws:kms:{self.region}:{self.account_id}:key/00000000-fake-0000-0000-000000000000",
            "ReplicationInstanceArn": i.arn,
            "PubliclyAccessible": i.public,
            "DnsNameServers": "",
            "NetworkType": i.network_type,
        }
        if i.status != "creating":
            out["AvailabilityZone"] = i.az or f"{self.region}a"
            out["ReplicationInstancePrivateIpAddress"] = "10.0.0.10"
            out["ReplicationInstancePrivateIpAddresses"] = ["10.0.0.10"]
            if i.public:
                out["ReplicationInstancePublicIpAddress"] = "192.0.2.10"
                out["ReplicationInstancePublicIpAddresses"] = ["192.0.2.10"]
        if i.multi_az and i.status != "creating":
            out["SecondaryAvailabilityZone"] = f"{self.region}b"
        return out

    def _endpoint_json(self, e):
        p = e.params
        engine = p["EngineName"]
        out = {
            "EndpointIdentifier": e.ident,
            "EndpointType": p["EndpointType"].upper(),
            "EngineName": engine,
            "EngineDisplayName": ENGINE_DISPLAY.get(engine, engine),
            "Status": e.status,
            "KmsKeyId": p.get("KmsKeyId") or
            f"arn:aws:kms:{self.region}:{self.account_id}:key/00000000-fake-0000-0000-000000000000",
            "EndpointArn": e.arn,
            "SslMode": p.get("SslMode", "none"),
        }
        for k in ("Username", "ServerName", "Port", "DatabaseName", "ExtraConnectionAttributes",
                  "CertificateArn", "ServiceAccessRoleArn", "ExternalTableDefinition"):
            if p.get(k) is not None:
                out[k] = p[k]
        if out.get("ExtraConnectionAttributes") is None:
            out["ExtraConnectionAttributes"] = ""
        settings_shapes = service_model().shape_for("Endpoint").members
        for key, shape in settings_shapes.items():
            if key.endswith("Settings") and isinstance(p.get(key), dict):
                out[key] = {k: v for k, v in p[key].items()
                            if k in shape.members and shape.members[k].name != "SecretString"}
        skey = ENGINE_SETTINGS_KEY.get(engine)
        if skey:
            s = out.setdefault(skey, {})
            for k in ("DatabaseName", "Port", "ServerName", "Username"):
                if p.get(k) is not None:
                    s.setdefault(k, p[k])
        return out

    def _connection_json(self, key, c):
        inst = self.instances.get(key[0])
        ep = self.endpoints.get(key[1])
        out = {"ReplicationInstanceArn": key[0], "EndpointArn": key[1], "Status": c["status"]}
        if ep:
            out["EndpointIdentifier"] = ep.ident
        if inst:
            out["ReplicationInstanceIdentifier"] = inst.ident
        if c["status"] == "failed" and c.get("message"):
            out["LastFailureMessage"] = c["message"]
        return out

    def _task_stats(self, t, now):
        tables = t.tables
        total_rows = sum(tb.rows for tb in tables)
        done_rows = sum(tb.rows if tb.state == "Table completed" else tb.loaded for tb in tables
                        if tb.state != "Table error")
        if not t.ever_started:
            pct = 0
        elif t.fl_finish_v is not None and not t.fl_active:
            pct = 100
        elif total_rows == 0:
            pct = 100 if tables and all(tb.state in ("Table completed", "Table error") for tb in tables) else 0
        else:
            pct = min(100, int(100 * done_rows / total_rows))
        elapsed = t.elapsed_ms
        if t.run_started_v is not None:
            elapsed += int(round((now - t.run_started_v) * 1000))
        st = {
            "FullLoadProgressPercent": pct,
            "ElapsedTimeMillis": elapsed,
            "TablesLoaded": sum(1 for tb in tables if tb.state == "Table completed"),
            "TablesLoading": sum(1 for tb in tables if tb.state == "Full load"),
            "TablesQueued": sum(1 for tb in tables if tb.state in ("Before load", "Table cancelled")),
            "TablesErrored": sum(1 for tb in tables if tb.state == "Table error"),
        }
        for key, v in (("FreshStartDate", t.fresh_start_v), ("StartDate", t.start_v), ("StopDate", t.stop_v),
                       ("FullLoadStartDate", t.fl_start_v), ("FullLoadFinishDate", t.fl_finish_v)):
            if v is not None:
                st[key] = self._wall(v)
        return st

    def _task_json(self, t, without_settings=False):
        now = self.now()
        out = {
            "ReplicationTaskIdentifier": t.ident,
            "SourceEndpointArn": t.source_arn,
            "TargetEndpointArn": t.target_arn,
            "ReplicationInstanceArn": t.instance_arn,
            "MigrationType": t.migration_type,
            "Status": t.status,
            "ReplicationTaskCreationDate": self._wall(t.created_v),
            "ReplicationTaskArn": t.arn,
            "ReplicationTaskStats": self._task_stats(t, now),
        }
        if not without_settings:
            out["TableMappings"] = t.table_mappings
            out["ReplicationTaskSettings"] = t.settings
            if t.task_data is not None:
                out["TaskData"] = t.task_data
        if t.last_failure:
            out["LastFailureMessage"] = t.last_failure
        if t.stop_reason and t.status in ("stopped", "failed", "ready"):
            out["StopReason"] = t.stop_reason
        if t.task_start_v is not None:
            out["ReplicationTaskStartDate"] = self._wall(t.task_start_v)
        if t.cdc_start_position:
            out["CdcStartPosition"] = t.cdc_start_position
        if t.cdc_stop_position:
            out["CdcStopPosition"] = t.cdc_stop_position
        if t.recovery_checkpoint:
            out["RecoveryCheckpoint"] = t.recovery_checkpoint
        return out

    def _table_json(self, tb):
        out = {
            "SchemaName": tb.schema,
            "TableName": tb.name,
            "Inserts": tb.inserts,
            "Deletes": tb.deletes,
            "Updates": tb.updates,
            "Ddls": tb.ddls,
            "AppliedInserts": tb.inserts,
            "AppliedDeletes": tb.deletes,
            "AppliedUpdates": tb.updates,
            "AppliedDdls": tb.ddls,
            "FullLoadRows": tb.rows if tb.state == "Table completed" else tb.loaded,
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": tb.reloaded,
            "TableState": tb.state,
            "ValidationPendingRecords": 0,
            "ValidationFailedRecords": 0,
            "ValidationSuspendedRecords": 0,
            "ValidationState": "Not enabled",
        }
        if tb.fl_start_v is not None:
            out["FullLoadStartTime"] = self._wall(tb.fl_start_v)
        if tb.fl_end_v is not None:
            out["FullLoadEndTime"] = self._wall(tb.fl_end_v)
        if tb.last_update_v is not None:
            out["LastUpdateTime"] = self._wall(tb.last_update_v)
        if tb.state == "Table error":
            out["ValidationState"] = "Table error"
        return out
