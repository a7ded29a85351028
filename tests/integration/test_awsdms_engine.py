"""The DMS client (aws/dms.c) and the aws-dms engine against the loopback fake
DMS (tests/fakes/fake_dms.py), which validates every request against
botocore's model and verifies every SigV4 signature.

The client is driven through dms-probe (tests/dmsprobe/probe.c, built as
build/aws/dms-probe; override with $DMS_PROBE): signed requests that the
model accepts, retries of throttling / 5xx / dropped / reset / hung
connections with a bounded number of attempts, Marker pagination, session
tokens, and the classification of DMS errors (a stub server on 127.0.0.1
answers errors the fake cannot produce, such as AccessDeniedFault).

test_oracle_to_postgres_plan runs the whole plan through the daemon's API
with engine "aws-dms" (an Oracle source known only to the fake, a real
PostgreSQL 15 target), once cleanly and once with 30% injected faults.

Nothing here talks to anything but 127.0.0.1.
"""
import http.server
import json
import os
import subprocess
import threading
import time

import pytest
import requests

from awsdms_run import HR_TABLES, Fake, PlanRun, assert_clean, aws_env
from daemon import ROOT, wait_until


def probe_path():
    path = os.environ.get("DMS_PROBE") or os.path.join(ROOT, "build", "aws", "dms-probe")
    print(f"dms-probe: {path}")
    if not os.access(path, os.X_OK):
        pytest.skip(f"dms-probe not built at {path} (set DMS_PROBE)")
    return path


@pytest.fixture
def fake(tmp_path):
    try:
        import botocore  # noqa: F401
    except ImportError:
        pytest.skip("python3-botocore is needed by the fake DMS")
    f = Fake(tmp_path, control={"speed": 20})
    yield f
    f.stop()


class Probe:
    def __init__(self, path, home, url):
        self.path, self.home, self.url = path, home, url

    def __call__(self, op, body=None, *flags, env=None, url=None):
        cmd = [self.path, "--endpoint", url or self.url] + list(flags) + [op]
        if body is not None:
            cmd.append(json.dumps(body))
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                           env=env or aws_env(self.home))
        assert p.returncode in (0, 3), (p.returncode, p.stdout, p.stderr)
        lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        metrics = "\n".join(line for line in p.stdout.splitlines() if not line.startswith("{"))
        return p.returncode, lines, metrics

    def ok(self, op, body=None, *flags):
        code, lines, _ = self(op, body, *flags)
        assert code == 0 and lines[-1]["ok"], lines
        return lines[-1].get("result", lines[-1])


@pytest.fixture
def probe(fake, tmp_path):
    return Probe(probe_path(), tmp_path, fake.url)


def mappings(schema="HR", table="%"):
    return json.dumps({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "all",
                                  "object-locator": {"schema-name": schema, "table-name": table},
                                  "rule-action": "include"}]})


def make_task(fake, probe, ident="t1", migration="full-load"):
    """Instance, two endpoints and a task through the client; returns ARNs."""
    inst = probe.ok("CreateReplicationInstance", {
        "ReplicationInstanceIdentifier": f"{ident}-inst",
        "ReplicationInstanceClass": "dms.t3.medium"})["ReplicationInstance"]
    fake.control("/_fake/advance", {"seconds": 5})
    src = probe.ok("CreateEndpoint", {
        "EndpointIdentifier": f"{ident}-src", "EndpointType": "source", "EngineName": "oracle",
        "ServerName": "ora.internal", "Port": 1521, "DatabaseName": "ORCL",
        "Username": "dms_user", "Password": "pr0be-secret", "SslMode": "none"})["Endpoint"]
    tgt = probe.ok("CreateEndpoint", {
        "EndpointIdentifier": f"{ident}-tgt", "EndpointType": "target", "EngineName": "postgres",
        "ServerName": "pg.internal", "Port": 5432, "DatabaseName": "app",
        "Username": "migrator", "Password": "pr0be-secret", "SslMode": "require",
        "PostgreSQLSettings": {"MaxFileSize": 32768}})["Endpoint"]
    task = probe.ok("CreateReplicationTask", {
        "ReplicationTaskIdentifier": ident, "SourceEndpointArn": src["EndpointArn"],
        "TargetEndpointArn": tgt["EndpointArn"],
        "ReplicationInstanceArn": inst["ReplicationInstanceArn"], "MigrationType": migration,
        "TableMappings": mappings(),
        "ReplicationTaskSettings": json.dumps({"FullLoadSettings": {"MaxFullLoadSubTasks": 8}})
    })["ReplicationTask"]
    fake.control("/_fake/advance", {"seconds": 5})
    return inst, src, tgt, task


# ---------------------------------------------------------------- the client


def test_signed_requests_validate_against_the_model(fake, probe):
    out = probe.ok("DescribeAccountAttributes")
    assert out["UniqueAccountIdentifier"]
    inst, src, tgt, task = make_task(fake, probe)
    got = probe.ok("DescribeReplicationInstances", {
        "Filters": [{"Name": "replication-instance-id", "Values": ["t1-inst"]}]})
    assert got["ReplicationInstances"][0]["ReplicationInstanceStatus"] == "available"
    got = probe.ok("DescribeReplicationTasks", {
        "Filters": [{"Name": "replication-task-arn", "Values": [task["ReplicationTaskArn"]]}],
        "WithoutSettings": True})
    assert got["ReplicationTasks"][0]["Status"] == "ready"
    # timestamps arrive in the Java form (1.690000000123E9) and are kept as numbers
    assert isinstance(got["ReplicationTasks"][0]["ReplicationTaskCreationDate"], float)
    s = assert_clean(fake)
    assert s["operations"]["CreateEndpoint"]["ok"] == 2


def test_session_token_is_signed(fake, tmp_path):
    path = probe_path()
    fake.control("/_fake/config", {"credentials": [
        {"access_key": "ASIATEMP", "secret_key": "tempsecret", "session_token": "tok/en+=="}]})
    env = aws_env(tmp_path, AWS_ACCESS_KEY_ID="ASIATEMP", AWS_SECRET_ACCESS_KEY="tempsecret",
                  AWS_SESSION_TOKEN="tok/en+==")
    p = Probe(path, tmp_path, fake.url)
    code, lines, _ = p("DescribeAccountAttributes", env=env)
    assert code == 0 and lines[0]["ok"], lines
    # without the token: refused, terminal, one attempt only
    env.pop("AWS_SESSION_TOKEN")
    code, lines, _ = p("DescribeAccountAttributes", env=env)
    assert code == 3
    e = lines[0]
    assert (e["error_type"], e["class"], e["status"], e["attempts"]) == \
        ("UnrecognizedClientException", "terminal", "remote", 1)
    assert fake.stats()["signature_failures"] == 1


def test_random_faults_are_retried_with_bounded_attempts(fake, probe):
    fake.control("/_fake/faults", {"rate": 0.3, "modes": ["throttle", "500", "drop"],
                                   "seed": 7})
    code, lines, metrics = probe("DescribeAccountAttributes", None, "--repeat", "40",
                                 "--max-attempts", "8", "--metrics")
    assert code == 0 and len(lines) == 40
    assert all(line["ok"] for line in lines), [x for x in lines if not x["ok"]]
    assert all(1 <= line["attempts"] <= 8 for line in lines)
    assert any(line["attempts"] > 1 for line in lines)
    s = assert_clean(fake)
    assert s["faults"]["total"] >= 5, s["faults"]
    assert 'cutover_dms_requests_total{operation="DescribeAccountAttributes",outcome="ok"} 40' \
        in metrics, metrics
    assert 'cutover_dms_retries_total{operation="DescribeAccountAttributes"}' in metrics
    assert "throttled" in metrics and "server_error" in metrics


def test_each_fault_mode_is_retried_then_succeeds(fake, probe):
    fake.control("/_fake/faults", {"hang_seconds": 3,
                                   "script": ["throttle", "500", "reset", "hang"]})
    t0 = time.monotonic()
    code, lines, metrics = probe("DescribeAccountAttributes", None, "--max-attempts", "5",
                                 "--timeout-ms", "500", "--metrics")
    # libcurl itself retries a request once when a reused connection turns out
    # dead before any answer (the reset), so that one may not cost an attempt
    assert code == 0 and lines[0]["ok"] and lines[0]["attempts"] in (4, 5), lines
    # bounded delays (<= 400 ms each) and one 500 ms timeout
    assert time.monotonic() - t0 < 5
    assert "network_error" in metrics and "throttled" in metrics
    assert fake.stats()["fault_script_pending"] == 0


def test_persistent_failure_is_transient_after_the_last_attempt(fake, probe):
    fake.control("/_fake/faults", {"script": ["throttle", "throttle", "throttle"]})
    code, lines, _ = probe("DescribeAccountAttributes", None, "--max-attempts", "2")
    assert code == 3
    e = lines[0]
    assert (e["status"], e["class"], e["error_type"], e["attempts"], e["http_status"]) == \
        ("transient", "retryable", "ThrottlingException", 2, 400)
    assert e["message"] == "Rate exceeded"
    # the runner's RETRY takes it from here; the next call goes through
    code, lines, _ = probe("DescribeAccountAttributes", None, "--max-attempts", "2")
    assert code == 0 and lines[0]["attempts"] == 2


def test_pagination_collects_every_table(fake, probe):
    tables = [{"schema": "HR", "table": f"T{i:03d}", "rows": 10} for i in range(250)]
    fake.control("/_fake/catalog", {"tables": tables})
    inst, src, tgt, task = make_task(fake, probe)
    probe.ok("StartReplicationTask", {"ReplicationTaskArn": task["ReplicationTaskArn"],
                                      "StartReplicationTaskType": "start-replication"})
    fake.control("/_fake/advance", {"seconds": 3})
    before = fake.stats()["operations"].get("DescribeTableStatistics", {}).get("ok", 0)
    out = probe.ok("DescribeTableStatistics", {"ReplicationTaskArn": task["ReplicationTaskArn"],
                                               "MaxRecords": 20},
                   "--paginate", "TableStatistics")
    assert out["count"] == 250
    assert sorted(t["TableName"] for t in out["items"]) == [t["table"] for t in tables]
    assert fake.stats()["operations"]["DescribeTableStatistics"]["ok"] - before == 13
    # and under faults, pagination resumes at the right Marker
    fake.control("/_fake/faults", {"rate": 0.3, "seed": 3, "modes": ["throttle", "drop"]})
    out = probe.ok("DescribeTableStatistics", {"ReplicationTaskArn": task["ReplicationTaskArn"],
                                               "MaxRecords": 20},
                   "--paginate", "TableStatistics", "--max-attempts", "10")
    assert len({t["TableName"] for t in out["items"]}) == 250 and out["count"] == 250
    assert_clean(fake)


def test_dms_faults_are_classified(fake, probe):
    inst, src, tgt, task = make_task(fake, probe)
    # ResourceAlreadyExistsFault: conflict, with the ARN to adopt
    code, lines, _ = probe("CreateReplicationInstance", {
        "ReplicationInstanceIdentifier": "t1-inst", "ReplicationInstanceClass": "dms.t3.medium"})
    e = lines[0]
    assert code == 3 and (e["error_type"], e["class"], e["status"], e["attempts"]) == \
        ("ResourceAlreadyExistsFault", "already_exists", "conflict", 1)
    assert e["body"]["resourceArn"] == inst["ReplicationInstanceArn"]
    # InvalidResourceStateFault: a second test of a connection being tested
    fake.control("/_fake/config", {"timings": {"connection_test": 3600}})
    body = {"ReplicationInstanceArn": inst["ReplicationInstanceArn"],
            "EndpointArn": src["EndpointArn"]}
    probe.ok("TestConnection", body)
    code, lines, _ = probe("TestConnection", body)
    assert code == 3 and (lines[0]["class"], lines[0]["status"]) == ("invalid_state", "conflict")
    assert "already being tested" in lines[0]["message"]
    # ResourceNotFoundFault
    code, lines, _ = probe("DescribeReplicationTasks", {
        "Filters": [{"Name": "replication-task-id", "Values": ["nope"]}]})
    assert (lines[0]["class"], lines[0]["status"]) == ("not_found", "not-found")
    # InvalidParameterValueException: terminal
    code, lines, _ = probe("DescribeTableStatistics", {
        "ReplicationTaskArn": task["ReplicationTaskArn"], "MaxRecords": 5})
    assert (lines[0]["error_type"], lines[0]["class"], lines[0]["status"]) == \
        ("InvalidParameterValueException", "terminal", "remote")
    assert_clean(fake)  # the model accepts MaxRecords 5; the service refuses it


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the next canned (status, headers, body)."""
    protocol_version = "HTTP/1.1"
    answers = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers, body = _Stub.answers.pop(0)
        data = body.encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def stub():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("status,headers,body,etype,cls,st,message,attempts", [
    (400, {}, '{"__type":"com.amazonaws.dms.v20160101#AccessDeniedFault",'
              '"message":"User is not authorized"}',
     "AccessDeniedFault", "terminal", "remote", "User is not authorized", 1),
    (400, {"X-Amzn-ErrorType": "KMSKeyNotAccessibleFault:http://internal.amazon.com/"},
     '{"Message":"key disabled"}',
     "KMSKeyNotAccessibleFault", "terminal", "remote", "key disabled", 1),
    (400, {}, '{"__type":"ResourceQuotaExceededFault","message":"quota"}',
     "ResourceQuotaExceededFault", "terminal", "remote", "quota", 1),
    (400, {}, '{"__type":"KMSThrottlingFault","message":"slow down"}',
     "KMSThrottlingFault", "retryable", "transient", "slow down", 2),
    (400, {}, '{"__type":"RequestLimitExceeded","message":"limit"}',
     "RequestLimitExceeded", "retryable", "transient", "limit", 2),
    (503, {}, "<html>Service Unavailable</html>",
     "HTTP503", "retryable", "transient", "", 2),
    (200, {}, "not json", "BadResponse", "retryable", "transient", None, 2),
])
def test_error_answers_are_classified(stub, tmp_path, status, headers, body, etype, cls, st,
                                      message, attempts):
    _Stub.answers = [(status, headers, body)] * 2
    p = Probe(probe_path(), tmp_path, stub)
    code, lines, _ = p("DescribeAccountAttributes", None, "--max-attempts", "2")
    e = lines[0]
    assert code == 3
    assert (e["error_type"], e["class"], e["status"], e["attempts"]) == \
        (etype, cls, st, attempts), e
    if message is not None:
        assert e["message"] == message
    assert etype in e["error"]


def test_connection_refused_is_transient(tmp_path):
    from daemon import free_port
    p = Probe(probe_path(), tmp_path, f"http://127.0.0.1:{free_port()}")
    code, lines, _ = p("DescribeAccountAttributes", None, "--max-attempts", "2")
    assert code == 3 and (lines[0]["error_type"], lines[0]["status"], lines[0]["attempts"]) == \
        ("NetworkError", "transient", 2)


# ---------------------------------------------------------------- the whole plan

def last_event_id(url):
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("cutover_events_last_id "):
            return int(line.split()[1])
    return 0


DIALECTS = ["aws", "nulls", "iso", "extra", "sparse", "nulls,iso,extra,sparse"]


@pytest.mark.parametrize("faults,kills,dialect",
                         [(None, False, d) for d in DIALECTS] +
                         [(0.3, False, "aws"), (None, True, "aws")],
                         ids=[f"clean-{d}" for d in DIALECTS] + ["faults", "kill-9"])
def test_oracle_to_postgres_plan(tmp_path, faults, kills, dialect):
    """The whole plan on aws-dms succeeds against the fake, whichever way the
    fake writes its answers (null members, ISO-8601 timestamps, unknown
    members, optional members left out), under faults and kill -9."""
    p = PlanRun(tmp_path, control={"dialect": dialect})
    fake, url = p.fake, p.url
    try:
        if faults:
            # every kind, including answers lost after the operation happened:
            # in-call retries, RETRY verdicts and adoption must absorb them all
            fake.control("/_fake/faults", {"rate": faults, "seed": 5, "modes": {
                "throttle": 1, "500": 1, "drop": 1, "reset": 1, "drop-after-commit": 1}})
        rid = p.start(rollback_task=True)
        approved = []
        # kill -9 points, chosen from event ids: each DMS resource must still
        # be created exactly once (the fake counts creates per identifier)
        kill_points = [5, 12, 20, 30, 42, 56] if kills else []
        killed = 0
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if kill_points and last_event_id(url) >= kill_points[0]:
                kill_points.pop(0)
                p.d.kill9()
                killed += 1
                p.d.start()
                continue
            x = p.run()
            if x["state"] in ("succeeded", "failed", "cancelled"):
                break
            if x["state"] == "awaiting_approval":
                step = x["current_step"]
                if step == "configure_source":
                    script = requests.get(
                        f"{url}/v1/runs/{rid}/artifacts/oracle_prerequisites.sql").text
                    assert "SELECT LOG_MODE FROM V$DATABASE" in script
                    assert "GRANT SELECT ANY TRANSACTION TO \"DMS_USER\"" in script
                    assert "FROM ALL_TABLES" in script  # HR.% is a wildcard rule
                if step == "cutover_gate":  # what the DBA runs on the Oracle source
                    q = requests.get(f"{url}/v1/runs/{rid}/artifacts/oracle_quiesce_check.sql")
                    assert q.status_code == 200, q.text
                    assert "FROM V$SESSION WHERE TYPE = 'USER'" in q.text
                    assert "ob.OWNER LIKE 'HR' ESCAPE '\\' AND ob.OBJECT_NAME LIKE '%'" in q.text
                    assert "ALTER SYSTEM CHECKPOINT;" in q.text and "'DMS_USER'" in q.text
                    t = requests.get(f"{url}/v1/runs/{rid}/artifacts/oracle_rollback_triggers.sql")
                    assert t.status_code == 200, t.text
                    assert "FROM ALL_TRIGGERS" in t.text and "' DISABLE'" not in t.text
                    assert "\" DISABLE';" in t.text and "TABLE_OWNER LIKE 'HR'" in t.text
                p.approve(step)
                approved.append(step)
            time.sleep(0.2)
        x = p.run()
        assert x["state"] == "succeeded", json.dumps(x, indent=1)
        assert x["waiting_for"] is None
        assert approved == ["configure_source", "review_schema", "cutover_gate"]
        if kills:
            assert killed >= 5, f"only {killed} kills before the run finished"
        if faults:
            # retries are bounded and visible in /metrics
            metrics = requests.get(url + "/metrics").text
            retries = sum(float(line.split()[-1]) for line in metrics.splitlines()
                          if line.startswith("cutover_dms_retries_total{"))
            throttled = [line for line in metrics.splitlines()
                         if line.startswith("cutover_dms_requests_total{")
                         and 'outcome="throttled"' in line]
            assert retries > 0 and throttled, metrics

        stats = p.events("table.statistics")
        assert stats, "no table statistics events"
        loads = [e["data"] for e in stats if e["data"]["task"] == "main"]
        last = loads[-1]
        assert {t["TableName"] for t in last["tables"]} == {t for t, _ in HR_TABLES}
        assert all(t["TableState"] == "Table completed" for t in last["tables"])
        if "sparse" not in dialect:
            assert last["task_stats"]["FullLoadProgressPercent"] == 100
            reasons = [e["data"].get("stop_reason") or "" for e in p.events("engine.status")]
            assert any("STOPPED_AFTER_CACHED_EVENTS" in s for s in reasons), reasons
        if "sparse" not in dialect:
            # timestamps arrive as RFC 3339 whatever form DMS wrote them in
            assert all(t["LastUpdateTime"].endswith("Z") for t in last["tables"])
        # CDC latency was measured from the awsdms_status control table
        steps = {s["id"]: s for s in x["steps"]}
        for step in ("await_cdc_sync", "final_sync"):
            cdc = steps[step]["outputs"]["cdc"]
            assert cdc["source"] == "awsdms_status control table", cdc
            assert cdc["CDCLatency"] == 0 and cdc["PendingChanges"] == 0, cdc
        if "sparse" not in dialect:  # DMS data validation passed
            assert steps["final_sync"]["outputs"]["validation"] == {
                "match": True, "mismatches": 0, "method": "dms-validation"}
            report = requests.get(f"{url}/v1/runs/{rid}/artifacts/validation.json").json()
            assert report["match"] and report["tables"]["HR.EMPLOYEES"]["dms"][
                "ValidationState"] == "Validated", report
        waits = p.events("step.waiting")
        whats = {w["data"]["what"] for w in waits}
        assert f"replication instance {p.ident()} to become available" in whats, whats
        assert f"replication task {p.ident('main')} to stop" in whats, whats

        s = assert_clean(fake)
        for kind in ("ReplicationInstanceIdentifier", "EndpointIdentifier",
                     "ReplicationTaskIdentifier"):
            assert all(n == 1 for n in s["creates"][kind].values()), s["creates"]
        state = fake.control("/_fake/state")
        tasks = {t["ReplicationTaskIdentifier"]: t for t in state["replication_tasks"]}
        rollback = [t for k, t in tasks.items() if k.endswith("-rollback")]
        assert len(rollback) == 1 and rollback[0]["Status"] in ("starting", "running")
        assert rollback[0]["MigrationType"] == "cdc"
        assert not [k for k in tasks if k.endswith("-main")], "the main task was deleted"
        # clean-up after the cutover: only what the rollback task needs is left
        endpoints = {e["EndpointIdentifier"] for e in state["endpoints"]}
        assert endpoints == {p.ident("rollback-source"), p.ident("rollback-target")}, endpoints
        assert [i["ReplicationInstanceIdentifier"] for i in state["replication_instances"]] == \
            [p.ident()]
        # until the rollback task is stopped through the API
        r = requests.post(f"{url}/v1/runs/{rid}/rollback-task/stop")
        assert r.status_code == 202, r.text
        wait_until(lambda: [e for e in p.events("run.cleanup")
                            if e["data"]["result"] == "done"], 60, what="the clean-up")
        assert p.fake_empty(), fake.control("/_fake/state")
        assert "oracle-s3cret-pw" not in p.d.log() and p.tgt.password not in p.d.log()
    finally:
        p.close()
