"""Tests of tests/fakes/fake_dms.py, driven by botocore's own DMS client:
the lifecycle of a migration, concurrency, the control API and the CLI.
Authentication, validation and fault injection: test_fake_dms_faults.py.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_fake_dms.py
Its fixtures and helpers live in fake_dms_util.py; it talks to 127.0.0.1 only.
"""

import datetime
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

botocore = pytest.importorskip("botocore")
from botocore.exceptions import ClientError  # noqa: E402

from fake_dms_util import (  # noqa: E402,F401 (*_fixture: the fake and dms fixtures)
    AK, CATALOG, FAKE_PATH, SK, all_table_stats, build_stack, control, dms_fixture, err_code,
    fake_dms, fake_fixture, make_client, mappings, raw_call, task_of, wait_for)


# --------------------------------------------------------------------------
# the lifecycle of a migration


def test_full_lifecycle(fake, dms):
    acct = dms.describe_account_attributes()
    assert {q["AccountQuotaName"] for q in acct["AccountQuotas"]} >= {"ReplicationInstances", "Endpoints"}

    ri = dms.create_replication_instance(ReplicationInstanceIdentifier="RI-Mig-1",
                                         ReplicationInstanceClass="dms.t3.medium")["ReplicationInstance"]
    assert ri["ReplicationInstanceIdentifier"] == "ri-mig-1"  # DMS stores it lower case
    assert ri["ReplicationInstanceStatus"] == "creating"
    ri_arn = ri["ReplicationInstanceArn"]
    assert ri_arn.startswith("arn:aws:dms:us-east-1:") and ":rep:" in ri_arn

    src = dms.create_endpoint(EndpointIdentifier="ora-src", EndpointType="source", EngineName="oracle",
                              ServerName="ora", Port=1521, DatabaseName="ORCL", Username="dms",
                              Password="pw")["Endpoint"]
    dst = dms.create_endpoint(EndpointIdentifier="pg-dst", EndpointType="target", EngineName="postgres",
                              ServerName="pg", Port=5432, DatabaseName="app", Username="dms",
                              Password="pw")["Endpoint"]
    assert src["EndpointType"] == "SOURCE" and dst["EngineDisplayName"] == "PostgreSQL"
    assert "Password" not in json.dumps(dst)

    # instance not yet available: connection tests refused
    with pytest.raises(ClientError) as ei:
        dms.test_connection(ReplicationInstanceArn=ri_arn, EndpointArn=src["EndpointArn"])
    assert err_code(ei) == "InvalidResourceStateFault"

    wait_for(fake, lambda: dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": ["ri-mig-1"]}]
    )["ReplicationInstances"][0]["ReplicationInstanceStatus"] == "available", "instance available")

    for ep in (src, dst):
        c = dms.test_connection(ReplicationInstanceArn=ri_arn, EndpointArn=ep["EndpointArn"])["Connection"]
        assert c["Status"] == "testing"
    with pytest.raises(ClientError) as ei:
        dms.test_connection(ReplicationInstanceArn=ri_arn, EndpointArn=src["EndpointArn"])
    assert err_code(ei) == "InvalidResourceStateFault"
    assert "already being tested" in ei.value.response["Error"]["Message"]

    def conns_ok():
        cs = dms.describe_connections(
            Filters=[{"Name": "replication-instance-arn", "Values": [ri_arn]}])["Connections"]
        return len(cs) == 2 and all(c["Status"] == "successful" for c in cs)
    wait_for(fake, conns_ok, "connections successful")

    rs = dms.refresh_schemas(EndpointArn=src["EndpointArn"], ReplicationInstanceArn=ri_arn)
    assert rs["RefreshSchemasStatus"]["Status"] == "refreshing"
    wait_for(fake, lambda: dms.describe_refresh_schemas_status(EndpointArn=src["EndpointArn"])
             ["RefreshSchemasStatus"]["Status"] == "successful", "refresh done")

    settings = {"FullLoadSettings": {"StopTaskCachedChangesApplied": True, "MaxFullLoadSubTasks": 8}}
    task = dms.create_replication_task(
        ReplicationTaskIdentifier="mig-task-1", SourceEndpointArn=src["EndpointArn"],
        TargetEndpointArn=dst["EndpointArn"], ReplicationInstanceArn=ri_arn, MigrationType="full-load-and-cdc",
        TableMappings=mappings(("HR", "%", "include"), ("SALES", "%", "include"), ("SALES", "AUDIT%", "exclude")),
        ReplicationTaskSettings=json.dumps(settings))["ReplicationTask"]
    arn = task["ReplicationTaskArn"]
    assert task["Status"] == "creating"
    assert json.loads(task["ReplicationTaskSettings"])["FullLoadSettings"]["StopTaskCachedChangesApplied"] is True

    with pytest.raises(ClientError) as ei:  # not ready yet
        dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    assert err_code(ei) == "InvalidResourceStateFault"
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "ready", "task ready")

    # a ready task can be modified; it is "modifying" for a while, then ready again
    m = dms.modify_replication_task(ReplicationTaskArn=arn, TaskData="{}")["ReplicationTask"]
    assert m["Status"] == "modifying"
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "ready", "task ready after modify")

    started = dms.start_replication_task(ReplicationTaskArn=arn,
                                         StartReplicationTaskType="start-replication")["ReplicationTask"]
    assert started["Status"] == "starting"
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "running", "task running")

    # mid-load: some tables loading, progress below 100
    fake.advance(1.2)
    t = task_of(dms, arn)
    st = t["ReplicationTaskStats"]
    assert t["Status"] == "running"
    assert 0 < st["FullLoadProgressPercent"] < 100
    assert st["TablesLoading"] == 8  # MaxFullLoadSubTasks
    assert st["TablesLoaded"] + st["TablesLoading"] + st["TablesQueued"] == 47

    # modify while running is refused
    with pytest.raises(ClientError) as ei:
        dms.modify_replication_task(ReplicationTaskArn=arn, TaskData="x")
    assert err_code(ei) == "InvalidResourceStateFault"

    done = wait_for(fake, lambda: (lambda x: x if x["Status"] == "stopped" else None)(task_of(dms, arn)),
                    "stopped after cached events")
    assert done["StopReason"] == "Stop Reason STOPPED_AFTER_CACHED_EVENTS"
    st = done["ReplicationTaskStats"]
    assert st["FullLoadProgressPercent"] == 100
    assert (st["TablesLoaded"], st["TablesLoading"], st["TablesQueued"], st["TablesErrored"]) == (47, 0, 0, 0)
    assert st["FullLoadFinishDate"] >= st["FullLoadStartDate"] >= st["FreshStartDate"]
    assert st["ElapsedTimeMillis"] > 0

    # table statistics, paginated 20 at a time: 47 tables -> 20 + 20 + 7
    pages = all_table_stats(dms, arn, 20)
    assert [len(p) for p in pages] == [20, 20, 7]
    rows = {(s["SchemaName"], s["TableName"]): s for p in pages for s in p}
    assert len(rows) == 47 and ("SALES", "AUDIT_LOG") not in rows and ("SALES", "V_ORDERS") not in rows
    for entry in CATALOG:
        key = (entry["schema"], entry["table"])
        if key in rows:
            assert rows[key]["TableState"] == "Table completed"
            assert rows[key]["FullLoadRows"] == entry["rows"]
    # one page of up to 500
    assert len(dms.describe_table_statistics(ReplicationTaskArn=arn, MaxRecords=500)["TableStatistics"]) == 47
    with pytest.raises(ClientError) as ei:
        dms.describe_table_statistics(ReplicationTaskArn=arn, MaxRecords=501)
    assert err_code(ei) == "InvalidParameterValueException"
    only = dms.describe_table_statistics(ReplicationTaskArn=arn,
                                         Filters=[{"Name": "schema-name", "Values": ["SALES"]}])
    assert sorted(s["TableName"] for s in only["TableStatistics"]) == ["ITEMS", "ORDERS"]

    # start-replication again is refused; resume-processing goes on with CDC
    with pytest.raises(ClientError) as ei:
        dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    assert err_code(ei) == "InvalidResourceStateFault"
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "running", "running CDC")
    fake.advance(10)
    assert task_of(dms, arn)["Status"] == "running"  # no second stop after cached events

    # change events, bumped through the control API over HTTP
    control(fake, "POST", "/_fake/cdc", {"task": "mig-task-1", "schema": "SALES", "table": "ORDERS",
                                         "inserts": 5, "updates": 3, "deletes": 1})
    s = dms.describe_table_statistics(ReplicationTaskArn=arn, Filters=[
        {"Name": "table-name", "Values": ["ORDERS"]}])["TableStatistics"][0]
    assert (s["Inserts"], s["Updates"], s["Deletes"], s["AppliedInserts"]) == (5, 3, 1, 5)
    assert s["TableState"] == "Table completed"

    stopped = dms.stop_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]
    assert stopped["Status"] == "stopping"
    final = wait_for(fake, lambda: (lambda x: x if x["Status"] == "stopped" else None)(task_of(dms, arn)),
                     "stopped")
    assert final["StopReason"] == "Stop Reason NORMAL"
    with pytest.raises(ClientError) as ei:
        dms.stop_replication_task(ReplicationTaskArn=arn)
    assert err_code(ei) == "InvalidResourceStateFault"

    # tear down: endpoints and instance refuse while the task exists
    with pytest.raises(ClientError) as ei:
        dms.delete_endpoint(EndpointArn=src["EndpointArn"])
    assert err_code(ei) == "InvalidResourceStateFault"
    with pytest.raises(ClientError) as ei:
        dms.delete_replication_instance(ReplicationInstanceArn=ri_arn)
    assert err_code(ei) == "InvalidResourceStateFault"
    assert dms.delete_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]["Status"] == "deleting"

    def task_gone():
        try:
            dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [arn]}])
        except ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundFault"
        return False
    wait_for(fake, task_gone, "task deleted")
    for ep in (src, dst):
        dms.delete_endpoint(EndpointArn=ep["EndpointArn"])
    dms.delete_replication_instance(ReplicationInstanceArn=ri_arn)
    fake.advance(5)
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_instances(Filters=[{"Name": "replication-instance-arn", "Values": [ri_arn]}])
    assert err_code(ei) == "ResourceNotFoundFault"
    with pytest.raises(ClientError) as ei:
        dms.describe_endpoints()
    assert err_code(ei) == "ResourceNotFoundFault"

    stats = fake.stats()
    assert stats["creates"] == {"ReplicationInstanceIdentifier": {"ri-mig-1": 1},
                                "EndpointIdentifier": {"ora-src": 1, "pg-dst": 1},
                                "ReplicationTaskIdentifier": {"mig-task-1": 1}}
    assert stats["signature_failures"] == 0 and stats["validation_failures"] == 0


def test_table_states_progress_and_errors(fake, dms):
    fake.set_catalog([{"schema": "APP", "table": f"BIG{i}", "rows": 10000} for i in range(3)]
                     + [{"schema": "APP", "table": "SMALL", "rows": 10}])
    ri, src, dst = build_stack(fake, dms)
    arn = dms.create_replication_task(
        ReplicationTaskIdentifier="progress", SourceEndpointArn=src, TargetEndpointArn=dst,
        ReplicationInstanceArn=ri, MigrationType="full-load", TableMappings=mappings(("APP", "%", "include")),
        ReplicationTaskSettings=json.dumps({"FullLoadSettings": {"MaxFullLoadSubTasks": 2}}))[
        "ReplicationTask"]["ReplicationTaskArn"]
    # never started: no table statistics yet
    assert dms.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"] == []
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "ready", "ready")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "running", "running")
    fake.advance(5)  # 10000 rows at 1000 rows/s: halfway through the first two tables

    def states():
        return {s["TableName"]: s for s in dms.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]}
    s = states()
    assert s["BIG0"]["TableState"] == "Full load" and s["BIG1"]["TableState"] == "Full load"
    assert s["BIG2"]["TableState"] == "Before load" and s["SMALL"]["TableState"] == "Before load"
    assert 0 < s["BIG0"]["FullLoadRows"] < 10000

    # a table error through the control API; the task goes on (TableErrorPolicy SUSPEND_TABLE)
    r = control(fake, "POST", "/_fake/table-error",
                {"task": arn, "schema": "APP", "table": "BIG1", "message": "ORA-01555: snapshot too old"})
    assert r["TableState"] == "Table error"
    st = task_of(dms, arn)["ReplicationTaskStats"]
    assert st["TablesErrored"] == 1 and st["TablesLoading"] == 2  # a queued table took the free slot
    done = wait_for(fake, lambda: (lambda x: x if x["Status"] == "stopped" else None)(task_of(dms, arn)),
                    "full load done")
    assert done["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert done["ReplicationTaskStats"]["TablesErrored"] == 1
    assert done["ReplicationTaskStats"]["TablesLoaded"] == 3
    s = states()
    assert s["BIG1"]["TableState"] == "Table error"
    assert s["BIG0"]["FullLoadRows"] == 10000 and s["SMALL"]["FullLoadRows"] == 10
    only_err = dms.describe_table_statistics(ReplicationTaskArn=arn,
                                             Filters=[{"Name": "table-state", "Values": ["Table error"]}])
    assert [x["TableName"] for x in only_err["TableStatistics"]] == ["BIG1"]

    # reload-target loads everything again
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="reload-target")
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "running", "running again")
    s = states()
    assert all(x["FullLoadReloaded"] for x in s.values())
    assert {x["TableState"] for x in s.values()} <= {"Before load", "Full load"}
    done = wait_for(fake, lambda: (lambda x: x if x["Status"] == "stopped" else None)(task_of(dms, arn)),
                    "reload done")
    assert done["ReplicationTaskStats"]["TablesLoaded"] == 4


def test_stop_mid_load_and_resume(fake, dms):
    fake.set_catalog([{"schema": "S", "table": f"T{i}", "rows": 5000} for i in range(4)])
    ri, src, dst = build_stack(fake, dms)
    arn = dms.create_replication_task(
        ReplicationTaskIdentifier="stopper", SourceEndpointArn=src, TargetEndpointArn=dst, ReplicationInstanceArn=ri,
        MigrationType="full-load-and-cdc", TableMappings=mappings(("S", "T%", "include")),
        ReplicationTaskSettings=json.dumps({"FullLoadSettings": {"StopTaskCachedChangesNotApplied": True,
                                                                  "MaxFullLoadSubTasks": 2}}))[
        "ReplicationTask"]["ReplicationTaskArn"]
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "ready", "ready")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "running", "running")
    fake.advance(2)
    dms.stop_replication_task(ReplicationTaskArn=arn)
    t = wait_for(fake, lambda: (lambda x: x if x["Status"] == "stopped" else None)(task_of(dms, arn)), "stopped")
    assert t["StopReason"] == "Stop Reason NORMAL"
    assert t["ReplicationTaskStats"]["FullLoadProgressPercent"] < 100
    states = {s["TableState"] for s in dms.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]}
    assert "Full load" not in states
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    t = wait_for(fake, lambda: (lambda x: x if x["Status"] == "stopped" else None)(task_of(dms, arn)),
                 "stopped after full load")
    assert t["StopReason"] == "Stop Reason STOPPED_AFTER_FULL_LOAD"
    assert t["ReplicationTaskStats"]["TablesLoaded"] == 4


def test_failures_injected_on_tests_and_tasks(fake, dms):
    ri, src, dst = build_stack(fake, dms)
    fake.fail_connection_test(src, "ORA-12541: TNS:no listener")
    dms.test_connection(ReplicationInstanceArn=ri, EndpointArn=src)
    fake.advance(2)
    c = dms.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [src]}])["Connections"][0]
    assert c["Status"] == "failed" and "TNS" in c["LastFailureMessage"]

    # no table selected: the task fails when started
    arn = dms.create_replication_task(
        ReplicationTaskIdentifier="empty", SourceEndpointArn=src, TargetEndpointArn=dst, ReplicationInstanceArn=ri,
        MigrationType="full-load", TableMappings=mappings(("NOPE", "%", "include")))["ReplicationTask"][
        "ReplicationTaskArn"]
    wait_for(fake, lambda: task_of(dms, arn)["Status"] == "ready", "ready")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    t = task_of(dms, arn)
    assert t["Status"] == "failed" and "No tables were found" in t["LastFailureMessage"]
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    assert task_of(dms, arn)["Status"] == "failed"  # still nothing selected
    fake.set_catalog([{"schema": "NOPE", "table": "LATE", "rows": 5},  # a catalog for this source only
                      {"schema": "SALES", "table": "ORDERS", "rows": 5}], endpoint=src)
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    t = wait_for(fake, lambda: (lambda x: x if x["Status"] == "stopped" else None)(task_of(dms, arn)), "loaded")
    assert t["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert [s["TableName"] for s in dms.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]] \
        == ["LATE"]

    arn2 = dms.create_replication_task(
        ReplicationTaskIdentifier="cdc-only", SourceEndpointArn=src, TargetEndpointArn=dst,
        ReplicationInstanceArn=ri, MigrationType="cdc", TableMappings=mappings(("SALES", "ORDERS", "explicit")))[
        "ReplicationTask"]["ReplicationTaskArn"]
    wait_for(fake, lambda: task_of(dms, arn2)["Status"] == "ready", "ready")
    dms.start_replication_task(ReplicationTaskArn=arn2, StartReplicationTaskType="start-replication")
    wait_for(fake, lambda: task_of(dms, arn2)["Status"] == "running", "running")
    control(fake, "POST", "/_fake/task-failure", {"task": "cdc-only", "message": "Last Error ODBC general error"})
    t = task_of(dms, arn2)
    assert t["Status"] == "failed" and t["LastFailureMessage"] == "Last Error ODBC general error"
    with pytest.raises(urllib.error.HTTPError) as ei:
        control(fake, "POST", "/_fake/cdc", {"task": "cdc-only", "schema": "SALES", "table": "ORDERS", "inserts": 1})
    assert ei.value.code == 409


def test_duplicates_not_found_and_pagination(fake, dms):
    for i in range(25):
        dms.create_replication_instance(ReplicationInstanceIdentifier=f"ri-{i:02d}",
                                        ReplicationInstanceClass="dms.t3.micro")
    with pytest.raises(ClientError) as ei:
        dms.create_replication_instance(ReplicationInstanceIdentifier="RI-03",
                                        ReplicationInstanceClass="dms.t3.micro")
    assert err_code(ei) == "ResourceAlreadyExistsFault"
    assert ei.value.response["Error"]["Code"] == "ResourceAlreadyExistsFault"
    page1 = dms.describe_replication_instances(MaxRecords=20)
    assert len(page1["ReplicationInstances"]) == 20 and page1["Marker"]
    page2 = dms.describe_replication_instances(MaxRecords=20, Marker=page1["Marker"])
    assert len(page2["ReplicationInstances"]) == 5 and "Marker" not in page2
    ids = [r["ReplicationInstanceIdentifier"] for r in page1["ReplicationInstances"] + page2["ReplicationInstances"]]
    assert ids == [f"ri-{i:02d}" for i in range(25)]
    # botocore's paginator understands the markers
    pag = dms.get_paginator("describe_replication_instances")
    assert sum(len(p["ReplicationInstances"]) for p in pag.paginate(PaginationConfig={"PageSize": 20})) == 25
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_instances(MaxRecords=5)
    assert err_code(ei) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_instances(Marker="garbage")
    assert err_code(ei) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_instances(Filters=[{"Name": "replication-instance-id", "Values": ["nope"]}])
    assert err_code(ei) == "ResourceNotFoundFault"
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_instances(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert err_code(ei) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_tasks()
    assert err_code(ei) == "ResourceNotFoundFault"
    with pytest.raises(ClientError) as ei:
        dms.start_replication_task(ReplicationTaskArn="arn:aws:dms:us-east-1:123456789012:task:NOPE",
                                   StartReplicationTaskType="start-replication")
    assert err_code(ei) == "ResourceNotFoundFault"
    with pytest.raises(ClientError) as ei:
        dms.create_endpoint(EndpointIdentifier="no-server", EndpointType="source", EngineName="postgres",
                            Username="u", DatabaseName="d")
    assert err_code(ei) == "InvalidParameterValueException"
    assert "serverName" in ei.value.response["Error"]["Message"]
    dms.create_endpoint(EndpointIdentifier="ep", EndpointType="source", EngineName="postgres",
                        ServerName="s", Username="u", DatabaseName="d")
    with pytest.raises(ClientError) as ei:
        dms.create_endpoint(EndpointIdentifier="ep", EndpointType="target", EngineName="postgres",
                            ServerName="s", Username="u", DatabaseName="d")
    assert err_code(ei) == "ResourceAlreadyExistsFault"
    assert ei.value.response["Error"]["Code"] == "ResourceAlreadyExistsFault"
    stats = fake.stats()
    assert stats["creates"]["ReplicationInstanceIdentifier"]["ri-03"] == 1
    assert stats["create_attempts"]["ReplicationInstanceIdentifier"]["ri-03"] == 2
    assert stats["creates"]["EndpointIdentifier"] == {"ep": 1}
    assert stats["operations"]["CreateEndpoint"]["errors"] == {"InvalidParameterValueException": 1,
                                                             "ResourceAlreadyExistsFault": 1}
    ep = dms.describe_endpoints(Filters=[{"Name": "endpoint-type", "Values": ["SOURCE"]}])["Endpoints"]
    assert [e["EndpointIdentifier"] for e in ep] == ["ep"]



# --------------------------------------------------------------------------
# concurrency, control API, CLI


def test_concurrent_clients(fake):
    errors = []

    def worker(k):
        c = make_client(fake)
        try:
            for i in range(20):
                c.create_endpoint(EndpointIdentifier=f"ep-{k}-{i}", EndpointType="source", EngineName="postgres",
                                  ServerName="s", Username="u", DatabaseName="d")
                c.describe_account_attributes()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    stats = fake.stats()
    assert stats["requests_total"] == 240
    assert len(stats["creates"]["EndpointIdentifier"]) == 120
    assert set(stats["creates"]["EndpointIdentifier"].values()) == {1}


def test_control_api(fake, dms):
    assert control(fake, "GET", "/_fake/health")["ok"] is True
    cfg = control(fake, "POST", "/_fake/faults", {"rate": 1.0, "modes": {"throttle": 1}, "seed": 5,
                                                  "operations": ["DescribeEndpoints"]})
    assert cfg["rate"] == 1.0 and cfg["operations"] == ["DescribeEndpoints"]
    dms.describe_account_attributes()  # not in the faulted operations
    with pytest.raises(ClientError) as ei:
        dms.describe_endpoints()
    assert err_code(ei) == "ThrottlingException"
    control(fake, "POST", "/_fake/faults", {"clear": True, "script": [{"fault": "500"}]})
    with pytest.raises(ClientError) as ei:
        dms.describe_account_attributes()
    assert err_code(ei) == "InternalFailure"
    dms.describe_account_attributes()
    stats = control(fake, "GET", "/_fake/stats")
    assert stats["faults"]["by_mode"] == {"throttle": 1, "500": 1}
    assert stats["operations"]["DescribeAccountAttributes"] == {"requests": 3, "ok": 2, "errors": {},
                                                               "faults": {"500": 1}}
    t0 = control(fake, "GET", "/_fake/stats")["virtual_time"]
    assert control(fake, "POST", "/_fake/advance", {"seconds": 100})["virtual_time"] >= t0 + 100
    control(fake, "POST", "/_fake/catalog", {"tables": [{"schema": "X", "table": "Y", "rows": 1}]})
    control(fake, "POST", "/_fake/config", {"timings": {"instance_create": 0.1}, "speed": 2})
    dms.create_replication_instance(ReplicationInstanceIdentifier="ri-c", ReplicationInstanceClass="dms.t3.micro")
    state = control(fake, "GET", "/_fake/state")
    assert [i["ReplicationInstanceIdentifier"] for i in state["replication_instances"]] == ["ri-c"]
    assert control(fake, "GET", "/_fake/requests")["requests"]
    control(fake, "POST", "/_fake/reset")
    stats = control(fake, "GET", "/_fake/stats")
    assert stats["requests_total"] == 0 and stats["faults"]["total"] == 0
    with pytest.raises(ClientError):
        dms.describe_replication_instances()
    for bad in ({"rate": 2}, {"modes": ["explode"]}, {"nonsense": 1}):
        with pytest.raises(urllib.error.HTTPError) as ei:
            control(fake, "POST", "/_fake/faults", bad)
        assert ei.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as ei:
        control(fake, "POST", "/_fake/table-error", {"task": "nope", "schema": "a", "table": "b"})
    assert ei.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as ei:
        control(fake, "GET", "/_fake/nothing-here")
    assert ei.value.code == 404


def test_cli_process(tmp_path):
    port_file = tmp_path / "port"
    ctl = {"speed": 50, "catalog": [{"schema": "HR", "table": "EMP", "rows": 10}],
           "timings": {"instance_create": 1}}
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_PATH), "--port", "0", "--port-file", str(port_file),
         "--access-key", AK, "--secret-key", SK, "--control", json.dumps(ctl), "--control-token", "ctl-tok"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while not port_file.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.time() < deadline, "fake did not write its port file"
            time.sleep(0.05)
        port = int(port_file.read_text().strip())
        assert port > 0

        class Remote:  # enough of FakeDMS for make_client / control
            url = f"http://127.0.0.1:{port}"
        remote = Remote()
        remote.port = port
        c = make_client(remote)
        ri = c.create_replication_instance(ReplicationInstanceIdentifier="cli-ri",
                                           ReplicationInstanceClass="dms.t3.micro")["ReplicationInstance"]
        deadline = time.time() + 10
        while c.describe_replication_instances()["ReplicationInstances"][0]["ReplicationInstanceStatus"] != "available":
            assert time.time() < deadline
            time.sleep(0.05)
        with pytest.raises(urllib.error.HTTPError) as ei:  # token required
            control(remote, "GET", "/_fake/stats")
        assert ei.value.code == 403
        req = urllib.request.Request(remote.url + "/_fake/stats", headers={"X-Fake-Control-Token": "ctl-tok"})
        with urllib.request.urlopen(req, timeout=10) as r:
            stats = json.loads(r.read())
        assert stats["creates"]["ReplicationInstanceIdentifier"] == {"cli-ri": 1}
        assert ri["ReplicationInstanceArn"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            raise
    assert rc == 0
    assert "listening on http://127.0.0.1:" in proc.stdout.read()


def test_refuses_non_loopback():
    with pytest.raises(ValueError):
        fake_dms.FakeDMS(host="0.0.0.0")


def test_timestamps_java_style_and_task_filters(fake, dms):
    ri, src, dst = build_stack(fake, dms)
    arn = dms.create_replication_task(
        ReplicationTaskIdentifier="ts", SourceEndpointArn=src, TargetEndpointArn=dst, ReplicationInstanceArn=ri,
        MigrationType="full-load", TableMappings=mappings(("HR", "%", "include")))["ReplicationTask"][
        "ReplicationTaskArn"]
    # AWS's Java services write JSON 1.1 timestamps as 1.690000000123E9; so does the fake by default
    status, body, resp = raw_call(fake, "AmazonDMSv20160101.DescribeReplicationTasks", {})
    assert status == 200
    assert re.search(rb'"ReplicationTaskCreationDate":1\.\d+E9[,}]', resp.raw_body), resp.raw_body[:300]
    assert isinstance(body["ReplicationTasks"][0]["ReplicationTaskCreationDate"], float)
    created = dms.describe_replication_tasks()["ReplicationTasks"][0]["ReplicationTaskCreationDate"]
    assert isinstance(created, datetime.datetime)  # botocore parses it
    assert abs(created.timestamp() - time.time()) < 3600
    assert fake_dms.java_double(1690000000.123) == "1.690000000123E9"
    assert fake_dms.java_double(1690000000.0) == "1.69E9"
    fake.configure({"timestamp_style": "plain"})
    status, body, resp = raw_call(fake, "AmazonDMSv20160101.DescribeReplicationTasks", {})
    assert b"E9" not in resp.raw_body
    assert dms.describe_replication_tasks()["ReplicationTasks"][0]["ReplicationTaskCreationDate"] == created
    # every documented task filter
    for name, value in (("replication-task-id", "ts"), ("replication-task-arn", arn), ("endpoint-arn", src),
                        ("endpoint-arn", dst), ("replication-instance-arn", ri), ("migration-type", "full-load")):
        got = dms.describe_replication_tasks(Filters=[{"Name": name, "Values": [value]}])["ReplicationTasks"]
        assert [t["ReplicationTaskIdentifier"] for t in got] == ["ts"], name
    with pytest.raises(ClientError) as ei:
        dms.describe_replication_tasks(Filters=[{"Name": "migration-type", "Values": ["cdc"]}])
    assert err_code(ei) == "ResourceNotFoundFault"
