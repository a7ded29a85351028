"""Shared pieces of the aws-dms integration tests (test_awsdms_engine.py,
test_awsdms_waits.py): the fake DMS as a separate process, the environment
of a client that knows only the fake's keys, the HR schema both sides use,
and PlanRun, which sets up a fake, a PostgreSQL 15 target and the daemon
and drives a run of the oracle-to-postgres plan on aws-dms.

Nothing here talks to anything but 127.0.0.1.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys

import requests

from daemon import ROOT, Daemon, wait_until

FAKE = os.path.join(ROOT, "tests", "fakes", "fake_dms.py")
PYTHON = "/usr/bin/python3"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


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


def fake_instance(fake, ident):
    """Creates replication instance ident in the fake with botocore's DMS
    client (signed with the fake's keys) and waits until it is available;
    returns its ARN."""
    import botocore.session
    from botocore.config import Config
    dms = botocore.session.get_session().create_client(
        "dms", region_name="us-east-1", endpoint_url=fake.url, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10))
    dms.create_replication_instance(ReplicationInstanceIdentifier=ident,
                                    ReplicationInstanceClass="dms.t3.medium")

    def available():
        ri = dms.describe_replication_instances(Filters=[
            {"Name": "replication-instance-id", "Values": [ident]}])["ReplicationInstances"]
        return ri and ri[0]["ReplicationInstanceStatus"] == "available" and \
            ri[0]["ReplicationInstanceArn"]
    return wait_until(available, 60, what=f"replication instance {ident} in the fake")


def assert_clean(fake):
    s = fake.stats()
    assert s["validation_failures"] == 0, s["validation_failures_by_operation"]
    assert s["signature_failures"] == 0, s["signature_failures_by_reason"]
    assert s["fake_bugs"] == 0 and s["unknown_operations"] == 0 and s["protocol_errors"] == 0
    return s


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



HR_MAPPINGS = {"rules": [
    {"rule-type": "selection", "rule-id": "1", "rule-name": "hr",
     "object-locator": {"schema-name": "HR", "table-name": "%"}, "rule-action": "include"},
    {"rule-type": "transformation", "rule-id": "2", "rule-name": "lower-schema",
     "rule-target": "schema", "object-locator": {"schema-name": "%"},
     "rule-action": "convert-lowercase"},
    {"rule-type": "transformation", "rule-id": "3", "rule-name": "lower-tables",
     "rule-target": "table", "object-locator": {"schema-name": "%", "table-name": "%"},
     "rule-action": "convert-lowercase"}]}


class PlanRun:
    """A fake DMS (control: its --control document), a PostgreSQL 15 target
    with database app, the daemon pointed at the fake, and a project with an
    Oracle source known only to the fake, the target and an HR task.
    start(**params) starts an oracle-to-postgres run on aws-dms."""

    def __init__(self, tmp_path, control=None):
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        from pgcluster import Cluster
        ctl = {"speed": 20, "catalog": [{"schema": "HR", "table": t, "rows": n}
                                        for t, n in HR_TABLES]}
        ctl.update(control or {})
        self.tmp_path = tmp_path
        self.fake = Fake(tmp_path, control=ctl)
        self.tgt = Cluster("awsdms-target")
        self.d = None
        self.rid = None
        try:
            self.tgt.start()
            self.tgt.createdb("app")
            self.d = Daemon(tmp_path, args=["--dms-endpoint", self.fake.url, "--region", "us-east-1"],
                            env=dict(aws_env(tmp_path), CUTOVER_DMS_POLL_SCALE="0.05")).start()
            self.url = self.d.url
            self._project()
        except BaseException:
            self.close()
            raise

    def _post(self, path, body):
        r = requests.post(self.url + path, json=body, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def _project(self):
        self.pid = self._post("/v1/projects", {"name": "hr", "default_engine": "aws-dms"})
        self.src = self._post(f"/v1/projects/{self.pid}/endpoints", {
            "name": "oracle", "role": "source", "engine": "oracle", "host": "ora.internal",
            "port": 1521, "database": "ORCL", "username": "dms_user",
            "password": "oracle-s3cret-pw", "sslmode": "disable"})
        self.dst = self._post(f"/v1/projects/{self.pid}/endpoints", {
            "name": "target", "role": "target", "engine": "postgres", "host": "127.0.0.1",
            "port": self.tgt.port, "database": "app", "username": self.tgt.user,
            "password": self.tgt.password, "sslmode": "disable"})
        self.task = self._post(f"/v1/projects/{self.pid}/tasks", {
            "name": "hr", "source_endpoint_id": self.src, "target_endpoint_id": self.dst,
            "migration_type": "full-load-and-cdc", "table_mappings": HR_MAPPINGS,
            "task_settings": {"FullLoadSettings": {"MaxFullLoadSubTasks": 4}}})

    def start(self, **params):
        body = {"source_endpoint_id": self.src, "target_endpoint_id": self.dst,
                "task_id": self.task, "schemas": ["hr"], "converted_schema_sql": CONVERTED_DDL,
                "cdc_sync_window_seconds": 1}
        body.update(params)
        self.rid = self._post(f"/v1/projects/{self.pid}/runs", {
            "plan": "oracle-to-postgres", "engine": "aws-dms", "parameters": body})
        # what the rollback task reads: the PostgreSQL target, with the names
        # the forward mappings gave the tables there
        self.fake.control("/_fake/catalog", {
            "endpoint": f"cutover-{self.rid[4:].lower()}-rollback-source",
            "tables": [{"schema": "hr", "table": t.lower(), "rows": n} for t, n in HR_TABLES]})
        return self.rid

    def ident(self, role=None):
        """The DMS identifier the engine gives this run's resource."""
        base = f"cutover-{self.rid[4:].lower()}"
        return f"{base}-{role}" if role else base

    def run(self):
        return requests.get(f"{self.url}/v1/runs/{self.rid}", timeout=10).json()

    def events(self, type_):
        return requests.get(f"{self.url}/v1/runs/{self.rid}/events",
                            params={"type": type_, "limit": 1000}, timeout=10).json()["items"]

    def wait_for(self, pred, timeout=120, what="the run"):
        """Polls the run (with a deadline) until pred(run) is truthy; fails
        early when the run ended otherwise."""
        def check():
            x = self.run()
            if pred(x):
                return x
            assert x["state"] not in ("succeeded", "failed", "cancelled"), json.dumps(x, indent=1)
            return None
        return wait_until(check, timeout, interval=0.2, what=what)

    def approve(self, step):
        """Approves step; review_schema by the SHA-256 of the SQL it shows,
        which must be the run's converted_schema_sql."""
        body = None
        if step == "review_schema":
            sql = requests.get(f"{self.url}/v1/runs/{self.rid}/artifacts/review_schema.sql",
                               timeout=10).content
            assert sql == CONVERTED_DDL.encode()
            body = {"sha256": hashlib.sha256(sql).hexdigest()}
        r = requests.post(f"{self.url}/v1/runs/{self.rid}/steps/{step}/approve", json=body,
                          timeout=10)
        assert r.status_code == 200, r.text

    def approve_source_and_schema(self):
        """Approves configure_source, then review_schema once the run stops
        there (runs of this module carry converted_schema_sql)."""
        self.approve("configure_source")
        self.wait_for(lambda x: x["state"] == "awaiting_approval" and
                      x["current_step"] == "review_schema", what="review_schema")
        self.approve("review_schema")

    def fake_empty(self, timeout=30):
        """True once the fake holds no instance, endpoint or task (deletions
        take a moment of the fake's clock); False after timeout seconds."""
        def empty():
            st = self.fake.control("/_fake/state")
            return not (st["replication_instances"] or st["endpoints"] or
                        st["replication_tasks"])
        try:
            return wait_until(empty, timeout, interval=0.2, what="an empty fake")
        except AssertionError:
            return False

    def close(self):
        try:
            if self.d and self.d.proc:
                assert self.d.stop() == 0, self.d.log()
        finally:
            self.tgt.stop()
            self.fake.stop()
