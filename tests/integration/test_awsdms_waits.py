"""No silent waits on aws-dms, and measured CDC latency: the plan against the
loopback fake DMS (tests/fakes/fake_dms.py) with a real PostgreSQL 15 target.

- a task that DMS accepts to start but that never leaves ready is started
  again task_start_attempts times, then the run fails naming it and its status;
- a replication instance that never becomes available fails the step after
  instance_timeout_minutes, naming it and its last status;
- a full load without progress publishes step.stalled and shows waiting_for;
  a cancel then deletes every DMS resource the run made;
- CDC latency above the threshold (read from the awsdms_status control table
  the fake writes into the target) keeps await_cdc_sync waiting; it passes
  once the latency drops;
- a table in "Table error" fails the full load with its name and the reason
  from awsdms_suspended_tables;
- a DMS data validation mismatch fails final_sync naming the key (from
  awsdms_validation_failures_v1, which the fake writes into the target).

Nothing here talks to anything but 127.0.0.1.
"""
import time

import requests

from awsdms_run import PlanRun


def test_task_that_never_leaves_ready_fails_naming_it(tmp_path):
    p = PlanRun(tmp_path, control={"ignore_starts": True})
    try:
        p.start(task_start_timeout_minutes=0.01, task_start_attempts=2)
        t0 = time.monotonic()
        x = p.wait_for(lambda x: x["state"] == "awaiting_approval", what="configure_source")
        assert x["current_step"] == "configure_source"
        p.approve_source_and_schema()
        x = p.wait_for(lambda x: x["current_step"] == "full_load" and x["waiting_for"]
                       and "to run after StartReplicationTask" in x["waiting_for"]["what"],
                       what="waiting_for on the stuck task")
        assert x["waiting_for"]["detail"].startswith("status ready"), x["waiting_for"]
        end = time.monotonic() + 60
        while time.monotonic() < end:
            x = p.run()
            if x["state"] != "running":
                break
            time.sleep(0.2)
        assert x["state"] == "failed", x
        assert x["current_step"] == "full_load"
        err = x["error"]
        assert f"replication task {p.ident('main')} is still ready after 2 " \
               "StartReplicationTask call(s)" in err, err
        assert time.monotonic() - t0 < 60
        starts = p.fake.stats()["operations"]["StartReplicationTask"]["ok"]
        assert starts == 2, starts
    finally:
        p.close()


def test_instance_that_never_becomes_available_fails_after_the_deadline(tmp_path):
    p = PlanRun(tmp_path, control={"timings": {"instance_create": 1e7}})
    try:
        p.start(instance_timeout_minutes=0.02)
        x = p.wait_for(lambda x: x["state"] == "awaiting_approval", what="configure_source")
        assert x["current_step"] == "configure_source"
        p.approve_source_and_schema()
        x = p.wait_for(lambda x: x["current_step"] == "create_replication_instance"
                       and x["waiting_for"], what="waiting_for on the instance")
        assert x["waiting_for"] == {
            "what": f"replication instance {p.ident()} to become available",
            "detail": "status creating", "since": x["waiting_for"]["since"]}
        end = time.monotonic() + 60
        while time.monotonic() < end and x["state"] == "running":
            time.sleep(0.2)
            x = p.run()
        assert x["state"] == "failed", x
        assert f"for replication instance {p.ident()} to become available; last status: " \
               "status creating (run parameter instance_timeout_minutes)" in x["error"], x
        waits = [e["data"] for e in p.events("step.waiting")
                 if e["data"]["step"] == "create_replication_instance"]
        assert waits and waits[0]["what"] == f"replication instance {p.ident()} to become available"
    finally:
        p.close()


def test_full_load_without_progress_is_reported_as_stalled(tmp_path):
    # one table so slow that its FullLoadRows stays 0 for a long time
    p = PlanRun(tmp_path, control={
        "catalog": [{"schema": "HR", "table": "EMPLOYEES", "rows": 1000}],
        "timings": {"rows_per_second": 0.0001}})
    try:
        p.start(stall_minutes=0.02, waiting_event_minutes=0.01)
        x = p.wait_for(lambda x: x["state"] == "awaiting_approval", what="configure_source")
        assert x["current_step"] == "configure_source"
        p.approve_source_and_schema()
        x = p.wait_for(lambda x: x["current_step"] == "full_load" and x["waiting_for"]
                       and "stalled" in (x["waiting_for"].get("detail") or ""),
                       what="a stalled full load")
        assert x["waiting_for"]["what"] == f"full load of replication task {p.ident('main')}"
        assert "no table's FullLoadRows or TableState changed since" in \
            x["waiting_for"]["detail"]
        stalled = p.events("step.stalled")
        assert len(stalled) == 1, stalled
        d = stalled[0]["data"]
        assert d["task"] == p.ident("main") and d["tables"] == 1 and d["tables_loaded"] == 0
        # still waiting (not failed: fail_on_stall is false), with periodic events
        n = len(p.events("step.waiting"))
        p.wait_for(lambda x: len(p.events("step.waiting")) > n, what="another step.waiting")
        assert p.run()["state"] == "running"
        # cancel: every DMS resource the run made is deleted
        r = requests.post(f"{p.url}/v1/runs/{p.rid}/cancel", timeout=10)
        assert r.status_code == 200, r.text
        assert p.fake_empty(60), p.fake.control("/_fake/state")
    finally:
        p.close()


def test_cdc_latency_above_the_threshold_keeps_await_cdc_sync_waiting(tmp_path):
    p = PlanRun(tmp_path, control={})
    try:
        # what DMS writes into awsdms_status: 120 s behind, 40 changes pending
        p.fake.control("/_fake/cdc-latency", {"task": "*", "seconds": 120, "pending": 40})
        # the replication instance's networking reaches CreateReplicationInstance
        r = requests.post(f"{p.url}/v1/projects/{p.pid}/replication-instances", json={
            "name": "ri", "replication_subnet_group_id": "cutover-private-subnets",
            "vpc_security_group_ids": ["sg-0a1b2c3d", "sg-0e0f1011"],
            "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/0000-test",
            "publicly_accessible": False}, timeout=10)
        assert r.status_code == 201, r.text
        p.start(cdc_latency_threshold_seconds=5, cdc_sync_window_seconds=1,
                replication_instance_id=r.json()["id"])
        x = p.wait_for(lambda x: x["state"] == "awaiting_approval", what="configure_source")
        assert x["current_step"] == "configure_source"
        p.approve_source_and_schema()

        def behind():
            return [e["data"] for e in p.events("engine.status")
                    if e["data"].get("CDCLatency") == 120]
        x = p.wait_for(lambda x: x["current_step"] == "await_cdc_sync" and len(behind()) >= 3,
                       what="three latency readings of 120 s")
        assert x["state"] == "running", x
        inst = p.fake.control("/_fake/state")["replication_instances"][0]
        assert inst["ReplicationSubnetGroup"]["ReplicationSubnetGroupIdentifier"] == \
            "cutover-private-subnets"
        assert [g["VpcSecurityGroupId"] for g in inst["VpcSecurityGroups"]] == \
            ["sg-0a1b2c3d", "sg-0e0f1011"]
        assert inst["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/0000-test"
        assert inst["PubliclyAccessible"] is False
        d = behind()[-1]
        assert d["PendingChanges"] == 40 and d["latency_source"] == "public.awsdms_status"
        assert d["TaskStatus"] == "CHANGE PROCESSING"
        assert x["waiting_for"]["what"].startswith(
            f"CDC latency of replication task {p.ident('main')} at most 5 s"), x["waiting_for"]
        assert "CDCLatency 120.0 s, PendingChanges 40" in x["waiting_for"]["detail"]
        # the latency drops: await_cdc_sync passes, the run stops at the gate
        p.fake.control("/_fake/cdc-latency", {"task": "*", "seconds": 2, "pending": 3})
        x = p.wait_for(lambda x: x["state"] == "awaiting_approval", what="the cutover gate")
        assert x["current_step"] == "cutover_gate"
        steps = {s["id"]: s for s in x["steps"]}
        assert steps["await_cdc_sync"]["outputs"]["cdc"]["CDCLatency"] == 2
        # final_sync waits for PENDING_CHANGES 0 and a latency of ~0
        p.approve("cutover_gate")
        x = p.wait_for(lambda x: x["current_step"] == "final_sync" and x["waiting_for"]
                       and "PendingChanges 3" in (x["waiting_for"].get("detail") or ""),
                       what="final_sync waiting for the pending changes")
        p.fake.control("/_fake/cdc-latency", {"task": "*", "seconds": 0, "pending": 0})
        x = p.wait_for(lambda x: x["state"] == "succeeded", what="the end of the run")
        steps = {s["id"]: s for s in x["steps"]}
        assert steps["final_sync"]["outputs"]["cdc"]["PendingChanges"] == 0
    finally:
        p.close()


def test_validation_mismatch_fails_final_sync_naming_the_key(tmp_path):
    p = PlanRun(tmp_path)
    try:
        p.fake.control("/_fake/validation-failure",
                       {"schema": "HR", "table": "EMPLOYEES", "keys": ["101", "187"]})
        p.start()
        for gate in ("configure_source", "review_schema", "cutover_gate"):
            x = p.wait_for(lambda x: x["state"] == "awaiting_approval", what=gate)
            assert x["current_step"] == gate
            p.approve(gate)
        end = time.monotonic() + 60
        while time.monotonic() < end and x["state"] != "failed":
            time.sleep(0.2)
            x = p.run()
        assert x["state"] == "failed" and x["current_step"] == "final_sync", x
        assert "DMS data validation: 1 table(s) differ between source and target: " \
               "HR.EMPLOYEES (Mismatched records; keys 101, 187)" in x["error"], x["error"]
        report = requests.get(f"{p.url}/v1/runs/{p.rid}/artifacts/validation.json").json()
        assert report["match"] is False and report["mismatches"] == 1
        emp = report["tables"]["HR.EMPLOYEES"]
        assert emp["match"] is False and emp["dms"]["ValidationFailedRecords"] == 2
        assert [k["key"] for k in emp["failed_keys"]] == ["101", "187"]
        assert report["tables"]["HR.JOBS"]["match"] is True
    finally:
        p.close()


def test_table_error_fails_the_full_load_with_dms_reason(tmp_path):
    p = PlanRun(tmp_path, control={
        "catalog": [{"schema": "HR", "table": "EMPLOYEES", "rows": 100000},
                    {"schema": "HR", "table": "JOBS", "rows": 19}],
        "timings": {"rows_per_second": 1}})
    try:
        p.start()
        x = p.wait_for(lambda x: x["state"] == "awaiting_approval", what="configure_source")
        assert x["current_step"] == "configure_source"
        p.approve_source_and_schema()
        p.wait_for(lambda x: x["current_step"] == "full_load" and x["waiting_for"]
                   and x["waiting_for"]["what"].startswith("full load of"),
                   what="the full load")
        p.fake.control("/_fake/table-error", {"task": p.ident("main"), "schema": "HR",
                                              "table": "EMPLOYEES",
                                              "message": "ORA-01555: snapshot too old"})
        end = time.monotonic() + 60
        while time.monotonic() < end and x["state"] != "failed":
            time.sleep(0.2)
            x = p.run()
        assert x["state"] == "failed" and x["current_step"] == "full_load", x
        assert "HR.EMPLOYEES (Table error: ORA-01555: snapshot too old)" in x["error"], x["error"]
    finally:
        p.close()


def test_names_with_control_characters_are_refused(tmp_path):
    p = PlanRun(tmp_path)
    try:
        url = p.url
        r = requests.post(f"{url}/v1/projects/{p.pid}/endpoints", json={
            "name": "bad", "role": "source", "engine": "oracle", "host": "ora.internal",
            "port": 1521, "database": "ORCL", "username": "dms\nuser", "password": "x"})
        assert r.status_code in (400, 422), r.text  # refused where it enters
        assert [e["pointer"] for e in r.json()["errors"]] == ["/username"], r.json()
        r = requests.post(f"{url}/v1/projects/{p.pid}/tasks", json={
            "name": "bad", "source_endpoint_id": p.src, "target_endpoint_id": p.dst,
            "table_mappings": {"rules": [{
                "rule-type": "selection", "rule-id": "1", "rule-name": "x",
                "object-locator": {"schema-name": "HR\r\nDROP", "table-name": "%"},
                "rule-action": "include"}]}})
        assert r.status_code in (400, 422), r.text  # refused where it enters
        assert r.json()["errors"][0]["pointer"].endswith("/object-locator/schema-name")
        r = requests.post(f"{url}/v1/projects/{p.pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "aws-dms", "parameters": {
                "source_endpoint_id": p.src, "target_endpoint_id": p.dst,
                "schemas": ["hr", "x\u0007"]}})
        assert r.status_code in (400, 422), r.text  # refused where it enters
        assert [e["pointer"] for e in r.json()["errors"]] == ["/parameters/schemas/1"]
        r = requests.post(f"{url}/v1/projects/{p.pid}/replication-instances", json={
            "name": "ri", "vpc_security_group_ids": ["default"], "kms_key_arn": "key"})
        assert r.status_code in (400, 422), r.text  # refused where it enters
        assert sorted(e["pointer"] for e in r.json()["errors"]) == \
            ["/kms_key_arn", "/vpc_security_group_ids/0"]
    finally:
        p.close()
