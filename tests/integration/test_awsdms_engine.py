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
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from daemon import ROOT, Daemon, wait_until

FAKE = os.path.join(ROOT, "tests", "fakes", "fake_dms.py")
PYTHON = "/usr/bin/python3"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def probe_path():
    path = os.environ.get("DMS_PROBE") or os.path.join(ROOT, "build", "aws", "dms-probe")
    print(f"dms-probe: {path}")
    if not os.access(path, os.X_OK):
        pytest.skip(f"dms-probe not built at {path} (set DMS_PROBE)")
    return path


def aws_env(home, **extra):
    """The environment of a client: the fake's test keys, nothing else of AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_EC2_METADATA_DISABLED="true", HOME=str(home),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(str(home), "none"),
               AWS_CONFIG_FILE=os.path.join(str(home), "none"))
    env.update(extra)
    return env


class Fake:
    """fake_dms.py as a separate process, as the README describes."""

    def __init__(self, workdir, control=None):
        port_file = os.path.join(str(workdir), "fake.port")
        self.log = open(os.path.join(str(workdir), "fake.log"), "wb")
        cmd = [PYTHON, FAKE, "--port", "0", "--port-file", port_file]
        if control:
            cmd += ["--control", json.dumps(control)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        wait_until(lambda: os.path.exists(port_file) or self.proc.poll() is not None, 20,
                   what="the fake's port file")
        assert self.proc.poll() is None, "fake_dms.py exited"
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = f"http://127.0.0.1:{self.port}"

    def control(self, path, body=None):
        if body is None:
            r = requests.get(self.url + path, timeout=10)
        else:
            r = requests.post(self.url + path, json=body, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def stats(self):
        return self.control("/_fake/stats")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()


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


def assert_clean(fake):
    s = fake.stats()
    assert s["validation_failures"] == 0, s["validation_failures_by_operation"]
    assert s["signature_failures"] == 0, s["signature_failures_by_reason"]
    assert s["fake_bugs"] == 0 and s["unknown_operations"] == 0 and s["protocol_errors"] == 0
    return s


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

HR_TABLES = [("REGIONS", 4), ("COUNTRIES", 25), ("LOCATIONS", 23), ("DEPARTMENTS", 27),
             ("JOBS", 19), ("EMPLOYEES", 107)]

CONVERTED_DDL = """
CREATE TABLE hr.regions (region_id integer PRIMARY KEY, region_name varchar(25));
CREATE TABLE hr.countries (country_id char(2) PRIMARY KEY, country_name varchar(40),
  region_id integer REFERENCES hr.regions);
CREATE TABLE hr.locations (location_id integer PRIMARY KEY, city varchar(30),
  country_id char(2) REFERENCES hr.countries);
CREATE TABLE hr.departments (department_id integer PRIMARY KEY, department_name varchar(30),
  location_id integer REFERENCES hr.locations);
CREATE TABLE hr.jobs (job_id varchar(10) PRIMARY KEY, job_title varchar(35));
CREATE SEQUENCE hr.employees_seq;
CREATE TABLE hr.employees (employee_id integer PRIMARY KEY DEFAULT nextval('hr.employees_seq'),
  email varchar(25) UNIQUE, job_id varchar(10) REFERENCES hr.jobs,
  department_id integer REFERENCES hr.departments);
CREATE INDEX employees_department_ix ON hr.employees (department_id);
"""


def last_event_id(url):
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("cutover_events_last_id "):
            return int(line.split()[1])
    return 0


@pytest.mark.parametrize("faults,kills", [(None, False), (0.3, False), (None, True)],
                         ids=["clean", "faults", "kill-9"])
def test_oracle_to_postgres_plan(tmp_path, faults, kills):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from pgcluster import Cluster
    fake = Fake(tmp_path, control={
        "speed": 20, "catalog": [{"schema": "HR", "table": t, "rows": n} for t, n in HR_TABLES]})
    if faults:
        # every kind, including answers lost after the operation happened:
        # in-call retries, RETRY verdicts and adoption must absorb them all
        fake.control("/_fake/faults", {"rate": faults, "seed": 5, "modes": {
            "throttle": 1, "500": 1, "drop": 1, "reset": 1, "drop-after-commit": 1}})
    tgt = Cluster("awsdms-target")
    tgt.start()
    d = None
    try:
        tgt.createdb("app")
        d = Daemon(tmp_path, args=["--dms-endpoint", fake.url, "--region", "us-east-1"],
                   env=dict(aws_env(tmp_path), CUTOVER_DMS_POLL_SCALE="0.05")).start()
        url = d.url
        pid = requests.post(url + "/v1/projects",
                            json={"name": "hr", "default_engine": "aws-dms"}).json()["id"]
        r = requests.post(f"{url}/v1/projects/{pid}/endpoints", json={
            "name": "oracle", "role": "source", "engine": "oracle", "host": "ora.internal",
            "port": 1521, "database": "ORCL", "username": "dms_user",
            "password": "oracle-s3cret-pw", "sslmode": "disable"})
        assert r.status_code == 201, r.text
        src = r.json()["id"]
        r = requests.post(f"{url}/v1/projects/{pid}/endpoints", json={
            "name": "target", "role": "target", "engine": "postgres", "host": "127.0.0.1",
            "port": tgt.port, "database": "app", "username": tgt.user,
            "password": tgt.password, "sslmode": "disable"})
        assert r.status_code == 201, r.text
        dst = r.json()["id"]
        r = requests.post(f"{url}/v1/projects/{pid}/tasks", json={
            "name": "hr", "source_endpoint_id": src, "target_endpoint_id": dst,
            "migration_type": "full-load-and-cdc",
            "table_mappings": {"rules": [
                {"rule-type": "selection", "rule-id": "1", "rule-name": "hr",
                 "object-locator": {"schema-name": "HR", "table-name": "%"},
                 "rule-action": "include"},
                {"rule-type": "transformation", "rule-id": "2", "rule-name": "lower-schema",
                 "rule-target": "schema", "object-locator": {"schema-name": "%"},
                 "rule-action": "convert-lowercase"},
                {"rule-type": "transformation", "rule-id": "3", "rule-name": "lower-tables",
                 "rule-target": "table",
                 "object-locator": {"schema-name": "%", "table-name": "%"},
                 "rule-action": "convert-lowercase"}]},
            "task_settings": {"FullLoadSettings": {"MaxFullLoadSubTasks": 4}}})
        assert r.status_code == 201, r.text
        task = r.json()["id"]
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "aws-dms", "parameters": {
                "source_endpoint_id": src, "target_endpoint_id": dst, "task_id": task,
                "schemas": ["hr"], "converted_schema_sql": CONVERTED_DDL,
                "rollback_task": True}})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        # what the rollback task reads: the PostgreSQL target, with the names
        # the forward mappings gave the tables there
        fake.control("/_fake/catalog", {
            "endpoint": f"cutover-{rid[4:]}-rollback-source",
            "tables": [{"schema": "hr", "table": t.lower(), "rows": n} for t, n in HR_TABLES]})

        def run():
            return requests.get(f"{url}/v1/runs/{rid}").json()

        approved = []
        # kill -9 points, chosen from event ids: each DMS resource must still
        # be created exactly once (the fake counts creates per identifier)
        kill_points = [5, 12, 20, 30, 42, 56] if kills else []
        killed = 0
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if kill_points and last_event_id(url) >= kill_points[0]:
                kill_points.pop(0)
                d.kill9()
                killed += 1
                d.start()
                continue
            x = run()
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
                r = requests.post(f"{url}/v1/runs/{rid}/steps/{step}/approve")
                assert r.status_code == 200, r.text
                approved.append(step)
            time.sleep(0.2)
        x = run()
        assert x["state"] == "succeeded", json.dumps(x, indent=1)
        assert approved == ["configure_source", "cutover_gate"]
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

        stats = requests.get(f"{url}/v1/runs/{rid}/events",
                             params={"type": "table.statistics", "limit": 1000}).json()["items"]
        assert stats, "no table statistics events"
        loads = [e["data"] for e in stats if e["data"]["task"] == "main"]
        last = loads[-1]
        assert {t["TableName"] for t in last["tables"]} == {t for t, _ in HR_TABLES}
        assert all(t["TableState"] == "Table completed" for t in last["tables"])
        assert last["task_stats"]["FullLoadProgressPercent"] == 100
        status = requests.get(f"{url}/v1/runs/{rid}/events",
                              params={"type": "engine.status", "limit": 1000}).json()["items"]
        reasons = [e["data"].get("stop_reason") or "" for e in status]
        assert any("STOPPED_AFTER_CACHED_EVENTS" in s for s in reasons), status

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
        assert "oracle-s3cret-pw" not in d.log() and tgt.password not in d.log()
    finally:
        if d and d.proc:
            assert d.stop() == 0, d.log()
        tgt.stop()
        fake.stop()
