"""Shared helpers and fixtures of the fake DMS's own tests
(test_fake_dms.py, test_fake_dms_faults.py).

Loads tests/fakes/fake_dms.py by path (as the module fake_dms_under_test) and
drives it with botocore's own DMS client, on 127.0.0.1 only.  The test
modules import fake_fixture and dms_fixture (the fixtures `fake` and `dms`)
from here; this is a plain module, not a conftest.
"""

import datetime
import http.client
import importlib.util
import json
import pathlib
import urllib.request

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

FAKE_PATH = pathlib.Path(__file__).resolve().parents[1] / "fakes" / "fake_dms.py"
_spec = importlib.util.spec_from_file_location("fake_dms_under_test", FAKE_PATH)
fake_dms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake_dms)

AK = "AKIDFAKETEST"
SK = "fake/secret/for/tests/0123456789abcdefABCD"
NO_RETRY = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)

FAST = {
    "instance_create": 2.0, "instance_delete": 1.0, "endpoint_delete": 0.5, "connection_test": 1.0,
    "refresh_schemas": 1.0, "task_create": 1.0, "task_start": 1.0, "task_stop": 1.0,
    "task_modify": 0.5, "task_delete": 1.0, "cached_changes": 1.0,
    "rows_per_second": 1000.0, "min_table_load": 0.5,
}

# 45 tables in HR + 3 in SALES + one view: enough for 3 pages of 20.
CATALOG = ([{"schema": "HR", "table": f"T{i:02d}", "rows": 100 * (i + 1)} for i in range(45)]
           + [{"schema": "SALES", "table": n, "rows": 50} for n in ("ORDERS", "ITEMS", "AUDIT_LOG")]
           + [{"schema": "SALES", "table": "V_ORDERS", "rows": 50, "type": "view"}])


def mappings(*rules):
    out = []
    for i, (schema, table, action) in enumerate(rules, 1):
        out.append({"rule-type": "selection", "rule-id": str(i), "rule-name": str(i),
                    "object-locator": {"schema-name": schema, "table-name": table}, "rule-action": action})
    return json.dumps({"rules": out})


@pytest.fixture(name="fake")
def fake_fixture():
    f = fake_dms.FakeDMS(port=0, access_key=AK, secret_key=SK, speed=1.0, seed=1234,
                         catalog=CATALOG, timings=FAST)
    f.start()
    try:
        yield f
    finally:
        bugs = f.stats()["fake_bugs"]
        f.stop()
    assert bugs == 0, "the fake answered something outside the DMS model"


def make_client(fake, secret=SK, access=AK, token=None, config=None, region="us-east-1"):
    return botocore.session.get_session().create_client(
        "dms", region_name=region, endpoint_url=fake.url, aws_access_key_id=access,
        aws_secret_access_key=secret, aws_session_token=token, config=config or NO_RETRY)


@pytest.fixture(name="dms")
def dms_fixture(fake):
    return make_client(fake)


def wait_for(fake, fn, what, step=0.25, limit=400):
    """Advance the fake's clock until fn() is truthy."""
    for _ in range(limit):
        got = fn()
        if got:
            return got
        fake.advance(step)
    raise AssertionError(f"timed out waiting for {what}")


def err_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def raw_call(fake, target, body, *, secret=SK, access=AK, token=None, amz_date=None,
             content_type="application/x-amz-json-1.1", sign=True, tamper=None, region="us-east-1",
             service="dms"):
    """Send one hand-made request, SigV4-signed by botocore, and return (status, json)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    host = f"127.0.0.1:{fake.port}"
    headers = {"Host": host, "Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=f"http://{host}/", data=data, headers=headers)
    if sign:
        auth = SigV4Auth(Credentials(access, secret, token), service, region)
        ts = amz_date or datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
        req.context["timestamp"] = ts
        auth._modify_request_before_signing(req)
        canonical = auth.canonical_request(req)
        sig = auth.signature(auth.string_to_sign(req, canonical), req)
        auth._inject_signature_to_request(req, sig)
    sent_headers = dict(req.headers.items())
    if tamper:  # change the request after signing
        sent_headers, data = tamper(sent_headers, data)
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    try:
        conn.request("POST", "/", body=data, headers=sent_headers)
        resp = conn.getresponse()
        raw = resp.read()
        resp.raw_body = raw
        return resp.status, (json.loads(raw) if raw else None), resp
    finally:
        conn.close()


def control(fake, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fake.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def build_stack(fake, dms, ri_id="ri-main", catalog_mappings=None):
    ri = dms.create_replication_instance(ReplicationInstanceIdentifier=ri_id,
                                         ReplicationInstanceClass="dms.t3.medium",
                                         AllocatedStorage=50)["ReplicationInstance"]
    ri_arn = ri["ReplicationInstanceArn"]
    wait_for(fake, lambda: dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-arn", "Values": [ri_arn]}]
    )["ReplicationInstances"][0]["ReplicationInstanceStatus"] == "available", "instance available")
    src = dms.create_endpoint(EndpointIdentifier=f"{ri_id}-src", EndpointType="source", EngineName="oracle",
                              ServerName="ora.example.test", Port=1521, DatabaseName="ORCL",
                              Username="dms_user", Password="s3cret")["Endpoint"]
    dst = dms.create_endpoint(EndpointIdentifier=f"{ri_id}-dst", EndpointType="target", EngineName="postgres",
                              ServerName="pg.example.test", Port=5432, DatabaseName="app",
                              Username="dms_user", Password="s3cret")["Endpoint"]
    return ri_arn, src["EndpointArn"], dst["EndpointArn"]


def task_of(dms, arn):
    return dms.describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [arn]}])["ReplicationTasks"][0]


def all_table_stats(dms, arn, page_size):
    pages, marker = [], None
    while True:
        kw = {"ReplicationTaskArn": arn, "MaxRecords": page_size}
        if marker:
            kw["Marker"] = marker
        r = dms.describe_table_statistics(**kw)
        pages.append(r["TableStatistics"])
        marker = r.get("Marker")
        if not marker:
            return pages
