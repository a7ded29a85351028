"""dms_task_ops: the fake DMS's replication task operations.

Part of the fake DMS (entry point: tests/fakes/fake_dms.py).  Table mappings
are parsed and matched against the catalog here, task settings merged over
DMS's defaults; the task state machine itself lives in dms_state.
"""

import json
import re

from dms_model import DmsError
from dms_ops import _check_identifier, _merge
from dms_state import Table, Task

DEFAULT_TASK_SETTINGS = {
    "TargetMetadata": {"TargetSchema": "", "SupportLobs": True, "FullLobMode": False,
                       "LobChunkSize": 64, "LimitedSizeLobMode": True, "LobMaxSize": 32},
    "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE", "CreatePkAfterFullLoad": False,
                         "StopTaskCachedChangesApplied": False, "StopTaskCachedChangesNotApplied": False,
                         "MaxFullLoadSubTasks": 8, "TransactionConsistencyTimeout": 600,
                         "CommitRate": 10000},
    "Logging": {"EnableLogging": False},
    "ControlTablesSettings": {"ControlSchema": "", "HistoryTimeslotInMinutes": 5,
                              "HistoryTableEnabled": False, "SuspendedTablesTableEnabled": False,
                              "StatusTableEnabled": False},
    "StreamBufferSettings": {"StreamBufferCount": 3, "StreamBufferSizeInMB": 8, "CtrlStreamBufferSizeInMB": 5},
    "ChangeProcessingTuning": {"BatchApplyPreserveTransaction": True, "BatchApplyTimeoutMin": 1,
                               "BatchApplyTimeoutMax": 30, "BatchApplyMemoryLimit": 500,
                               "BatchSplitSize": 0, "MinTransactionSize": 1000,
                               "CommitTimeout": 1, "MemoryLimitTotal": 1024,
                               "MemoryKeepTime": 60, "StatementCacheSize": 50},
    "ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableDropped": True,
                                          "HandleSourceTableTruncated": True,
                                          "HandleSourceTableAltered": True},
    "ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR", "DataTruncationErrorPolicy": "LOG_ERROR",
                      "DataErrorEscalationPolicy": "SUSPEND_TABLE", "DataErrorEscalationCount": 0,
                      "TableErrorPolicy": "SUSPEND_TABLE", "TableErrorEscalationPolicy": "STOP_TASK",
                      "TableErrorEscalationCount": 0, "RecoverableErrorCount": -1,
                      "RecoverableErrorInterval": 5, "RecoverableErrorThrottling": True,
                      "RecoverableErrorThrottlingMax": 1800, "ApplyErrorDeletePolicy": "IGNORE_RECORD",
                      "ApplyErrorInsertPolicy": "LOG_ERROR", "ApplyErrorUpdatePolicy": "LOG_ERROR",
                      "ApplyErrorEscalationPolicy": "LOG_ERROR", "ApplyErrorEscalationCount": 0,
                      "FullLoadIgnoreConflicts": True},
    "ValidationSettings": {"EnableValidation": False},
}


def _like(pattern, value):
    """DMS selection-rule match: '%' is the only wildcard."""
    rx = "".join(".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, value, re.DOTALL) is not None


class TaskOpsMixin:
    """FakeDMS's table-mapping and settings checks and the task operations."""

    # ---------------------------------------------------------------- mappings and settings

    def _parse_mappings(self, text):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise DmsError("InvalidParameterValueException", f"Invalid table mappings: not JSON ({e})")
        rules = doc.get("rules") if isinstance(doc, dict) else None
        if not isinstance(rules, list):
            raise DmsError("InvalidParameterValueException", "Invalid table mappings: a 'rules' array is required")
        selection = []
        for r in rules:
            if not isinstance(r, dict) or "rule-type" not in r:
                raise DmsError("InvalidParameterValueException", "Invalid table mappings: rule without rule-type")
            if r["rule-type"] != "selection":
                continue
            loc = r.get("object-locator")
            action = r.get("rule-action")
            if not isinstance(loc, dict) or "schema-name" not in loc:
                raise DmsError("InvalidParameterValueException",
                               f"Error in mapping rules. Rule with ruleId = {r.get('rule-id')} failed "
                               f"validation. The object-locator needs a schema-name.")
            if action not in ("include", "exclude", "explicit"):
                raise DmsError("InvalidParameterValueException",
                               f"Error in mapping rules. Rule with ruleId = {r.get('rule-id')} failed "
                               f"validation. Invalid rule-action '{action}'.")
            selection.append(r)
        if not any(r["rule-action"] in ("include", "explicit") for r in selection):
            raise DmsError("InvalidParameterValueException",
                           "Error in mapping rules. The mapping must have at least one include selection rule.")
        return selection

    def _resolve_tables(self, t):
        src = self.endpoints.get(t.source_arn)
        catalog = self.catalogs.get(src.ident, self.catalog) if src else self.catalog
        rules = self._parse_mappings(t.table_mappings)
        chosen = []
        for entry in catalog:
            included = False
            for r in rules:
                loc = r["object-locator"]
                ttype = loc.get("table-type", "table")
                if ttype != "all" and ttype != entry["type"]:
                    continue
                sname, tname = loc["schema-name"], loc.get("table-name", "%")
                if r["rule-action"] == "explicit":
                    hit = sname == entry["schema"] and tname == entry["table"]
                else:
                    hit = _like(sname, entry["schema"]) and _like(tname, entry["table"])
                if not hit:
                    continue
                if r["rule-action"] == "exclude":
                    included = False
                    break
                included = True
            if included:
                chosen.append(entry)
        chosen.sort(key=lambda e: (e["schema"], e["table"]))
        return [Table(e["schema"], e["table"], e["rows"]) for e in chosen]

    def _check_settings(self, text):
        if text is None:
            return json.dumps(DEFAULT_TASK_SETTINGS)
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise DmsError("InvalidParameterValueException", f"Invalid task settings JSON: {e}")
        if not isinstance(doc, dict):
            raise DmsError("InvalidParameterValueException", "Invalid task settings JSON: an object is required")
        fls = doc.get("FullLoadSettings", {})
        if fls.get("StopTaskCachedChangesApplied") and fls.get("StopTaskCachedChangesNotApplied"):
            raise DmsError("InvalidParameterCombinationException",
                           "StopTaskCachedChangesApplied and StopTaskCachedChangesNotApplied cannot both be true")
        # tolerate the flags at top level too (merged into FullLoadSettings)
        for k in ("StopTaskCachedChangesApplied", "StopTaskCachedChangesNotApplied"):
            if k in doc:
                doc.setdefault("FullLoadSettings", {})[k] = doc.pop(k)
        return json.dumps(_merge(DEFAULT_TASK_SETTINGS, doc))

    # ---------------------------------------------------------------- replication tasks

    def _op_CreateReplicationTask(self, p, now):
        ident = p["ReplicationTaskIdentifier"]
        self._count_create_attempt("CreateReplicationTask", ident)
        _check_identifier("ReplicationTaskIdentifier", ident, 255)
        for t in self.tasks.values():
            if t.ident == ident:
                raise DmsError("ResourceAlreadyExistsFault",
                               f"Replication Task with identifier {ident} already exists", resourceArn=t.arn)
        src = self._endpoint(p["SourceEndpointArn"])
        dst = self._endpoint(p["TargetEndpointArn"])
        if src.params["EndpointType"] != "source":
            raise DmsError("InvalidParameterValueException", f"Endpoint {src.ident} is not a source endpoint")
        if dst.params["EndpointType"] != "target":
            raise DmsError("InvalidParameterValueException", f"Endpoint {dst.ident} is not a target endpoint")
        inst = self._instance(p["ReplicationInstanceArn"])
        if inst.status != "available":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}, not available")
        if p.get("CdcStartTime") is not None and p.get("CdcStartPosition"):
            raise DmsError("InvalidParameterCombinationException",
                           "CdcStartTime and CdcStartPosition cannot both be specified")
        self._parse_mappings(p["TableMappings"])
        settings = self._check_settings(p.get("ReplicationTaskSettings"))
        t = Task(ident, self._new_arn("task"), p, settings, now, now + self.timings["task_create"])
        self.tasks[t.arn] = t
        self._count_create("CreateReplicationTask", ident)
        return {"ReplicationTask": self._task_json(t)}

    def _op_DescribeReplicationTasks(self, p, now):
        filters = self._filters(p, {
            "replication-task-arn": lambda t: t.arn,
            "replication-task-id": lambda t: t.ident,
            "migration-type": lambda t: t.migration_type,
            "endpoint-arn": lambda t: (t.source_arn, t.target_arn),
            "replication-instance-arn": lambda t: t.instance_arn,
        })
        items = [t for t in self.tasks.values() if self._match(t, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No Tasks found matching provided filters")
        page, nxt = self._page("DescribeReplicationTasks", items, p)
        out = {"ReplicationTasks": [self._task_json(t, bool(p.get("WithoutSettings"))) for t in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_StartReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        kind = p["StartReplicationTaskType"]
        if p.get("CdcStartTime") is not None and p.get("CdcStartPosition"):
            raise DmsError("InvalidParameterCombinationException",
                           "CdcStartTime and CdcStartPosition cannot both be specified")
        inst = self.instances.get(t.instance_arn)
        if inst is None or inst.status != "available":
            raise DmsError("InvalidResourceStateFault", "The task's replication instance is not available")
        has_fl = t.migration_type in ("full-load", "full-load-and-cdc")
        if kind == "start-replication" and self.ignore_starts and t.status == "ready":
            # accepted, and nothing happens: the task stays ready
            return {"ReplicationTask": self._task_json(t)}
        if kind == "start-replication":
            if t.status != "ready" or t.ever_started:
                raise DmsError("InvalidResourceStateFault",
                               "Start Type : START_REPLICATION, valid only for tasks running for the first time")
            t.tables = self._resolve_tables(t)
            t.fresh_start_v = now
            t.pending = "full-load" if has_fl else "cdc"
        elif kind == "resume-processing":
            if t.status not in ("stopped", "failed") or not t.ever_started:
                raise DmsError("InvalidResourceStateFault",
                               f"Task {t.ident} is {t.status}; resume-processing needs a stopped task "
                               f"that ran before")
            if not t.tables:  # it failed for want of tables: look again
                t.tables = self._resolve_tables(t)
            incomplete = any(tb.state in ("Before load", "Full load", "Table cancelled") for tb in t.tables)
            if has_fl and incomplete:
                t.pending = "full-load"
            elif t.migration_type == "full-load":
                t.pending = "finish"
            else:
                t.pending = "cdc"
        else:  # reload-target
            if t.status not in ("stopped", "failed") or not t.ever_started:
                raise DmsError("InvalidResourceStateFault",
                               f"Task {t.ident} is {t.status}; reload-target needs a stopped task that ran before")
            if not has_fl:
                raise DmsError("InvalidParameterCombinationException",
                               "reload-target needs a task with a full load (full-load or full-load-and-cdc)")
            old = {(tb.schema, tb.name) for tb in t.tables if tb.fl_start_v is not None}
            t.tables = self._resolve_tables(t)
            for tb in t.tables:
                tb.reloaded = (tb.schema, tb.name) in old
            t.fresh_start_v = now
            t.fl_start_v = None
            t.fl_finish_v = None
            t.elapsed_ms = 0
            t.pending = "full-load"
        if not t.tables:
            # DMS fails a task that selects no table
            t.ever_started = True
            t.task_start_v = t.start_v = now
            self._task_fail(t, now, "No tables were found at task initialization. Either the selected "
                                    "table(s) or schemas(s) no longer exist or no explicit table(s) or "
                                    "schema(s) were provided")
            t.stop_reason = "Stop Reason FATAL_ERROR"
            return {"ReplicationTask": self._task_json(t)}
        if p.get("CdcStartPosition"):
            t.cdc_start_position = p["CdcStartPosition"]
        if p.get("CdcStopPosition"):
            t.cdc_stop_position = p["CdcStopPosition"]
        t.ever_started = True
        t.status = "starting"
        t.stop_reason = None
        t.last_failure = None
        t.task_start_v = now
        t.start_v = now
        t.stop_v = None
        t.until = now + self.timings["task_start"]
        t.next = ("running", None)
        return {"ReplicationTask": self._task_json(t)}

    def _op_StopReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        if t.status not in ("running", "starting"):
            raise DmsError("InvalidResourceStateFault",
                           f"Task {t.ident} is {t.status}; only a running task can be stopped")
        if t.status == "running" and t.fl_active:
            for tb in t.tables:
                if tb.state == "Full load":
                    tb.state = "Table cancelled"
                    tb.last_update_v = now
            t.fl_active = False
        t.pending = None
        t.status = "stopping"
        t.until = now + self.timings["task_stop"]
        t.next = ("stopped", "Stop Reason NORMAL")
        return {"ReplicationTask": self._task_json(t)}

    def _op_ModifyReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        if t.status not in ("ready", "stopped", "failed"):
            raise DmsError("InvalidResourceStateFault",
                           f"Task {t.ident} is {t.status}; it must be stopped or ready to be modified")
        if p.get("CdcStartTime") is not None and p.get("CdcStartPosition"):
            raise DmsError("InvalidParameterCombinationException",
                           "CdcStartTime and CdcStartPosition cannot both be specified")
        ident = p.get("ReplicationTaskIdentifier")
        if ident and ident != t.ident:
            _check_identifier("ReplicationTaskIdentifier", ident, 255)
            for other in self.tasks.values():
                if other.ident == ident:
                    raise DmsError("ResourceAlreadyExistsFault",
                                   f"Replication Task with identifier {ident} already exists",
                                   resourceArn=other.arn)
        if "TableMappings" in p:
            self._parse_mappings(p["TableMappings"])
        settings = None
        if "ReplicationTaskSettings" in p:
            self._check_settings(p["ReplicationTaskSettings"])
            doc = json.loads(p["ReplicationTaskSettings"])
            for k in ("StopTaskCachedChangesApplied", "StopTaskCachedChangesNotApplied"):
                if k in doc:
                    doc.setdefault("FullLoadSettings", {})[k] = doc.pop(k)
            merged = _merge(json.loads(t.settings), doc)
            fls = merged.get("FullLoadSettings", {})
            if fls.get("StopTaskCachedChangesApplied") and fls.get("StopTaskCachedChangesNotApplied"):
                raise DmsError("InvalidParameterCombinationException",
                               "StopTaskCachedChangesApplied and StopTaskCachedChangesNotApplied cannot both "
                               "be true")
            settings = json.dumps(merged)
        if ident:
            t.ident = ident
        if "MigrationType" in p:
            t.migration_type = p["MigrationType"]
        if "TableMappings" in p:
            t.table_mappings = p["TableMappings"]
        if settings is not None:
            t.settings = settings
        for k, attr in (("CdcStartPosition", "cdc_start_position"), ("CdcStopPosition", "cdc_stop_position"),
                        ("CdcStartTime", "cdc_start_time"), ("TaskData", "task_data")):
            if k in p:
                setattr(t, attr, p[k])
        prev = t.status
        t.status = "modifying"
        t.until = now + self.timings["task_modify"]
        t.next = ("status", prev)
        return {"ReplicationTask": self._task_json(t)}

    def _op_DeleteReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        if t.status not in ("ready", "stopped", "failed"):
            raise DmsError("InvalidResourceStateFault",
                           f"Task {t.ident} is {t.status}; stop it before deleting it")
        t.status = "deleting"
        t.until = now + self.timings["task_delete"]
        t.next = ("gone", None)
        return {"ReplicationTask": self._task_json(t)}

    def _op_DescribeTableStatistics(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        filters = self._filters(p, {
            "schema-name": lambda tb: tb.schema,
            "table-name": lambda tb: tb.name,
            "table-state": lambda tb: tb.state,
        })
        items = [tb for tb in t.tables if self._match(tb, filters)]
        page, nxt = self._page("DescribeTableStatistics", items, p, lo=20, hi=500, default=100)
        out = {"ReplicationTaskArn": t.arn,
               "TableStatistics": [self._validation_view(t, tb, self._table_json(tb)) for tb in page]}
        if nxt:
            out["Marker"] = nxt
        return out
