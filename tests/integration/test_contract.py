"""The API contract (openapi/openapi.yaml) against the code and the real daemon.

- the spec lists exactly the routes of server/routes.c (method, path,
  operationId, least role);
- the examples in the spec are valid against their own schemas;
- contract.py catches what it should (wrong shapes, undocumented statuses
  and media types, a password in a response);
- GET /openapi.json serves exactly openapi.yaml;
- every operation is exercised through ContractSession (each response
  validated against the contract), with the typical errors (400, 401, 403,
  404, 405, 409, 412, 413, 422), and the test asserts that every
  operationId in the spec was exercised and every documented 2xx-4xx
  response was produced.

Self-contained: its fixtures start the binary named by $CUTOVERD (default
build/cutoverd) on free loopback ports with temporary SQLite files; runs are
driven to every state with the test replication engine, linked into
$CUTOVERD_TEST (default build/tests/cutoverd-test).
Run: /usr/bin/python3 -m pytest -q tests/integration/test_contract.py
"""
import hashlib
import json
import os
import re
import sys
import time

import pytest
import requests
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import contract  # noqa: E402
from contract import ContractSession  # noqa: E402

from daemon import TEST_BINARY, Daemon  # noqa: E402
from awsdms_run import Fake, aws_env, fake_instance  # noqa: E402

ROOT = contract.ROOT
MAX_BODY = 16384
ORIGIN = "https://portal.example"
PASSWORD = "contract-Pa55word-never-returned"
TOKENS = {"viewer": "ct-viewer-token", "operator": "ct-operator-token",
          "admin": "ct-admin-token"}
MISSING = {"project": "prj_" + "a" * 26, "endpoint": "ept_" + "a" * 26,
           "instance": "rin_" + "a" * 26, "task": "tsk_" + "a" * 26}


# ------------------------------------------------------------------ daemon

@pytest.fixture(scope="module")
def cutoverd(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("contract"),
               args=["--max-body", str(MAX_BODY)]).start()
    yield d
    assert d.stop() == 0, d.log()


@pytest.fixture(scope="module")
def cutoverd_runs(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("contract-runs"), args=["--max-body", str(MAX_BODY)],
               binary=TEST_BINARY).start()
    yield d
    assert d.stop() == 0, d.log()


@pytest.fixture(scope="module")
def cutoverd_dms(tmp_path_factory):
    """A daemon pointed at the loopback fake DMS, whose connection tests
    take longer than the test-connection route polls (202)."""
    work = tmp_path_factory.mktemp("contract-dms")
    fake = Fake(work, control={"speed": 20, "timings": {"connection_test": 1200}})
    d = None
    try:
        fake_instance(fake, "ri-contract")
        d = Daemon(work, args=["--dms-endpoint", fake.url, "--region", "us-east-1"],
                   env=aws_env(work)).start()
        yield d
    finally:
        if d and d.proc:
            assert d.stop() == 0, d.log()
        fake.stop()


@pytest.fixture(scope="module")
def cutoverd_auth(tmp_path_factory):
    work = tmp_path_factory.mktemp("contract-auth")
    tokens = work / "tokens"
    tokens.write_text("".join(f"{hashlib.sha256(t.encode()).hexdigest()} {role} ct-{role}\n"
                              for role, t in TOKENS.items()))
    tokens.chmod(0o600)
    d = Daemon(work, tokens_file=str(tokens), args=["--cors-origins", ORIGIN]).start()
    yield d
    assert d.stop() == 0, d.log()


@pytest.fixture(scope="module")
def spec():
    with open(os.path.join(ROOT, "openapi", "openapi.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_openapi_json_is_the_yaml(cutoverd, spec):
    r = ContractSession(cutoverd.url, contract=contract.load()).get("/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == spec, ("GET /openapi.json differs from openapi/openapi.yaml: "
                              "rebuild the daemon (ninja -C build)")


def expect(r, status):
    assert r.status_code == status, f"{r.request.method} {r.request.path_url}: " \
        f"expected {status}, got {r.status_code}: {r.text[:500]}"
    return r.json() if r.content and "json" in r.headers.get("Content-Type", "") else None


def field_errors(r, key="pointer"):
    return {e.get(key) for e in r.json().get("errors", [])}


SELECT_ALL = {"rule-type": "selection", "rule-id": "1", "rule-name": "all",
              "object-locator": {"schema-name": "public", "table-name": "%"},
              "rule-action": "include"}
MAPPINGS = {"rules": [
    SELECT_ALL,
    {"rule-type": "selection", "rule-id": 2, "rule-name": "audit-views",
     "object-locator": {"schema-name": "audit", "table-name": "v_events",
                        "table-type": "view"}, "rule-action": "explicit"},
    {"rule-type": "selection", "rule-id": "3", "rule-name": "no-tmp",
     "object-locator": {"schema-name": "public", "table-name": "tmp_%"},
     "rule-action": "exclude"},
    {"rule-type": "transformation", "rule-id": "4", "rule-name": "stage",
     "rule-target": "schema", "object-locator": {"schema-name": "public"},
     "rule-action": "rename", "value": "staging"},
    {"rule-type": "transformation", "rule-id": "5", "rule-name": "prefix",
     "rule-target": "table",
     "object-locator": {"schema-name": "public", "table-name": "%"},
     "rule-action": "replace-prefix", "old-value": "T_", "value": "t_"},
    {"rule-type": "transformation", "rule-id": "6", "rule-name": "drop-col",
     "rule-target": "column",
     "object-locator": {"schema-name": "public", "table-name": "orders",
                        "column-name": "legacy"}, "rule-action": "remove-column"},
    {"rule-type": "table-settings", "rule-id": "7", "rule-name": "parallel",
     "object-locator": {"schema-name": "public", "table-name": "orders"},
     "parallel-load": {"type": "partitions-auto"}},
]}


def endpoint_body(name, role="source", engine="postgres", **kw):
    body = {"name": name, "role": role, "engine": engine, "host": "127.0.0.1",
            "database": "app", "username": "migrator", "password": PASSWORD}
    body.update(kw)
    return body


def check_ops_and_plans(s):
    assert expect(s.get("/healthz"), 200) == {"status": "ok"}
    ready = expect(s.get("/readyz"), 200)
    assert ready["status"] == "ready" and ready["store"]["schema_version"] >= 1
    r = s.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "cutover_uptime_seconds" in r.text
    expect(s.get("/openapi.json"), 200)
    plans = expect(s.get("/v1/plans"), 200)
    assert plans["next_page_token"] is None
    ids = [p["id"] for p in plans["items"]]
    assert {"oracle-to-postgres", "view-migration"} <= set(ids)
    for pid in ids:
        assert expect(s.get(f"/v1/plans/{pid}"), 200) == \
            [p for p in plans["items"] if p["id"] == pid][0]
    expect(s.get("/v1/plans/no-such-plan"), 404)
    for path in ("/", "/ui"):
        r = s.get(path, allow_redirects=False)
        assert r.status_code == 308 and r.headers["Location"] == "/ui/"
    r = s.get("/ui/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert expect(s.get("/ui/app.js"), 200) is None
    assert "uPlot" in s.get("/ui/vendor/uplot.iife.min.js").text
    expect(s.get("/ui/no-such.js"), 404)
    expect(s.get("/ui/vendor/no-such.js"), 404)


def check_projects(s):
    # aws-dms: the walk's table mappings rename (pg-logical projects refuse that)
    r = s.post("/v1/projects", json={"name": "walk", "description": "contract walk",
                                     "default_engine": "aws-dms"})
    p = expect(r, 201)
    assert r.headers["Location"] == f"/v1/projects/{p['id']}" and r.headers["ETag"] == '"1"'
    p2 = expect(s.post("/v1/projects", json={"name": "walk-2", "default_engine": "aws-dms",
                                             "region": "eu-west-1"}), 201)
    expect(s.post("/v1/projects", json={"name": "walk"}), 409)
    r = s.post("/v1/projects", json={"name": "x", "region": "EU West", "colour": "blue"})
    expect(r, 400)
    assert field_errors(r) == {"/region", "/colour"}
    r = s.post("/v1/projects", data=b"{nope", headers={"Content-Type": "application/json"})
    expect(r, 400)
    assert field_errors(r) == {""}
    expect(s.post("/v1/projects", json=["not", "an", "object"]), 400)
    # Idempotency-Key: stored, replayed, refused with another body
    key = {"Idempotency-Key": "contract-walk-3"}
    r1 = s.post("/v1/projects", json={"name": "walk-3"}, headers=key)
    r2 = s.post("/v1/projects", json={"name": "walk-3"}, headers=key)
    assert expect(r1, 201) == expect(r2, 201)
    assert r2.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in r1.headers
    assert r2.headers["Location"] == r1.headers["Location"]
    r = s.post("/v1/projects", json={"name": "walk-4"}, headers=key)
    expect(r, 422)
    assert field_errors(r, "header") == {"Idempotency-Key"}
    r = s.post("/v1/projects", json={"name": "walk-4"}, headers={"Idempotency-Key": "k" * 256})
    expect(r, 400)
    assert field_errors(r, "header") == {"Idempotency-Key"}
    # pagination
    page = expect(s.get("/v1/projects", params={"limit": 1}), 200)
    assert len(page["items"]) == 1 and page["next_page_token"]
    names = [page["items"][0]["name"]]
    while page["next_page_token"]:
        page = expect(s.get("/v1/projects", params={"limit": 2,
                                                    "page_token": page["next_page_token"]}), 200)
        names += [i["name"] for i in page["items"]]
    assert names == ["walk", "walk-2", "walk-3"]
    assert field_errors(s.get("/v1/projects", params={"limit": 0}), "parameter") == {"limit"}
    assert field_errors(s.get("/v1/projects", params={"page_token": "zz"}),
                        "parameter") == {"page_token"}
    # get, patch (merge patch, ETag/If-Match), errors
    u = f"/v1/projects/{p['id']}"
    r = s.get(u)
    assert expect(r, 200) == p and r.headers["ETag"] == '"1"'
    expect(s.get(f"/v1/projects/{MISSING['project']}"), 404)
    r = s.patch(u, json={"description": None, "region": "ap-south-1"},
                headers={"If-Match": '"1"'})
    body = expect(r, 200)
    assert body["description"] == "" and body["region"] == "ap-south-1"
    assert r.headers["ETag"] == '"2"' and body["updated_at"] >= body["created_at"]
    expect(s.patch(u, json={"description": "stale"}, headers={"If-Match": '"1"'}), 412)
    expect(s.patch(u, json={"description": "bad"}, headers={"If-Match": "one"}), 412)
    r = s.patch(u, data=json.dumps({"description": "merged"}),
                headers={"Content-Type": "application/merge-patch+json", "If-Match": 'W/"2"'})
    assert expect(r, 200)["description"] == "merged"
    assert field_errors(s.patch(u, json={"name": None, "id": "prj_x"})) == {"/name", "/id"}
    expect(s.patch(u, json={"name": "walk-2"}), 409)
    expect(s.patch(f"/v1/projects/{MISSING['project']}", json={"description": "x"}), 404)
    big = {"description": "x" * (MAX_BODY + 1)}
    expect(s.post("/v1/projects", json=dict(big, name="big")), 413)
    expect(s.patch(u, json=big), 413)
    return p, p2


def check_webhooks(s, p):
    """Webhooks of a project without runs: nothing is ever delivered (the
    only type asked for is webhook.disabled, and it is disabled at once)."""
    coll = f"/v1/projects/{p['id']}/webhooks"
    r = s.post(coll, json={"url": "https://hooks.example.com/cutover",
                           "events": ["webhook.disabled"]})
    w = expect(r, 201)
    assert w["secret"].startswith("whsec_") and r.headers["Location"] == f"/v1/webhooks/{w['id']}"
    w = expect(s.patch(f"/v1/webhooks/{w['id']}", json={"enabled": False}), 200)
    assert w["enabled"] is False and "secret" not in w
    expect(s.patch(f"/v1/webhooks/{w['id']}", json={"url": "http://127.0.0.1/x"}), 400)
    expect(s.post(coll, json={"url": "https://10.0.0.1/x", "events": ["run.*"]}), 400)
    expect(s.post(f"/v1/projects/{MISSING['project']}/webhooks",
                  json={"url": "https://hooks.example.com/x", "events": ["*"]}), 404)
    assert [x["id"] for x in expect(s.get(coll), 200)["items"]] == [w["id"]]
    expect(s.get(f"/v1/projects/{MISSING['project']}/webhooks"), 404)
    assert expect(s.get(f"/v1/webhooks/{w['id']}"), 200)["id"] == w["id"]
    assert expect(s.get(f"/v1/webhooks/{w['id']}/deliveries"), 200)["items"] == []
    expect(s.get(f"/v1/webhooks/{w['id']}/deliveries", params={"limit": 0}), 400)
    gone = "whk_" + "a" * 26
    for r in (s.get(f"/v1/webhooks/{gone}"), s.patch(f"/v1/webhooks/{gone}", json={}),
              s.delete(f"/v1/webhooks/{gone}"), s.get(f"/v1/webhooks/{gone}/deliveries")):
        expect(r, 404)
    expect(s.delete(f"/v1/webhooks/{w['id']}"), 204)


def check_endpoints(s, p, p2):
    coll = f"/v1/projects/{p['id']}/endpoints"
    r = s.post(coll, json=endpoint_body("src"))
    src = expect(r, 201)
    assert r.headers["Location"] == f"/v1/endpoints/{src['id']}"
    assert src["password_set"] is True and PASSWORD not in r.text and src["port"] == 5432
    ora = expect(s.post(coll, json=endpoint_body("ora", engine="oracle")), 201)
    assert ora["port"] == 1521 and ora["sslmode"] == "prefer"
    sm = endpoint_body("tgt", role="target", port=5433, sslmode="verify-full",
                       secrets_manager_secret_id="arn:aws:secretsmanager:eu-west-1:1:secret:t",
                       secrets_manager_access_role_arn="arn:aws:iam::123456789012:role/dms")
    del sm["password"]
    r = s.post(coll, json=sm, headers={"Idempotency-Key": "contract-tgt"})
    tgt = expect(r, 201)
    assert tgt["password_set"] is False
    other = expect(s.post(f"/v1/projects/{p2['id']}/endpoints",
                          json=endpoint_body("other-tgt", role="target")), 201)
    r = s.post(coll, json=endpoint_body("bad", role="target", engine="oracle", port="1"))
    expect(r, 400)
    assert field_errors(r) == {"/engine", "/port"}
    both = dict(sm, name="both", password="x")
    assert field_errors(s.post(coll, json=both)) == {"/password"}
    nopw = endpoint_body("nopw")
    del nopw["password"]
    assert field_errors(s.post(coll, json=nopw)) == {"/password"}
    expect(s.post(f"/v1/projects/{MISSING['project']}/endpoints", json=endpoint_body("x")), 404)
    expect(s.post(coll, json=endpoint_body("src")), 409)
    r = s.post(coll, json=sm, headers={"Idempotency-Key": "contract-tgt"})
    assert expect(r, 201) == tgt and r.headers["Idempotent-Replayed"] == "true"
    page = expect(s.get(coll), 200)
    assert [e["id"] for e in page["items"]] == [src["id"], ora["id"], tgt["id"]]
    assert PASSWORD not in json.dumps(page)
    expect(s.get(coll, params={"limit": 999}), 400)
    expect(s.get(f"/v1/projects/{MISSING['project']}/endpoints"), 404)
    u = f"/v1/endpoints/{src['id']}"
    assert expect(s.get(u), 200) == src
    expect(s.get(f"/v1/endpoints/{MISSING['endpoint']}"), 404)
    r = s.patch(u, json={"password": "N3w-" + PASSWORD, "port": 6432},
                headers={"If-Match": '"1"'})
    body = expect(r, 200)
    assert body["password_set"] is True and body["port"] == 6432 and "N3w-" not in r.text
    assert field_errors(s.patch(u, json={"password": None})) == {"/password"}
    r = s.patch(f"/v1/endpoints/{tgt['id']}", json={"port": None, "password": "pw"})
    assert field_errors(r) == {"/password"}  # a password next to a Secrets Manager secret
    expect(s.patch(u, json={"host": "db2"}, headers={"If-Match": '"1"'}), 412)
    expect(s.patch(f"/v1/endpoints/{MISSING['endpoint']}", json={"host": "h"}), 404)
    expect(s.patch(u, json={"name": "ora"}), 409)
    expect(s.patch(u, json={"extra_connection_attributes": "x" * MAX_BODY}), 413)
    expect(s.post(coll, json=endpoint_body("big", extra_connection_attributes="x" * MAX_BODY)),
           413)
    r = s.post(coll, json=dict(sm, name="tgt-2"), headers={"Idempotency-Key": "contract-tgt"})
    expect(r, 422)
    return src, ora, tgt, other


def check_instances(s, p):
    coll = f"/v1/projects/{p['id']}/replication-instances"
    r = s.post(coll, json={"name": "ri"})
    inst = expect(r, 201)
    assert r.headers["Location"] == f"/v1/replication-instances/{inst['id']}"
    assert (inst["replication_instance_class"], inst["allocated_storage"], inst["multi_az"],
            inst["engine_version"]) == ("dms.t3.medium", 50, False, "3.5.3")
    r = s.post(coll, json={"name": "ri-2", "status": "available",
                           "replication_instance_class": "t3.large"})
    assert field_errors(r) == {"/status", "/replication_instance_class"}
    expect(s.post(coll, json={"name": "ri"}), 409)
    key = {"Idempotency-Key": "contract-ri-2"}
    ri2 = expect(s.post(coll, json={"name": "ri-2"}, headers=key), 201)
    expect(s.post(coll, json={"name": "ri-3"}, headers=key), 422)
    expect(s.post(f"/v1/projects/{MISSING['project']}/replication-instances",
                  json={"name": "ri"}), 404)
    assert [i["id"] for i in expect(s.get(coll), 200)["items"]] == [inst["id"], ri2["id"]]
    expect(s.get(coll, params={"page_token": "c"}), 400)
    expect(s.get(f"/v1/projects/{MISSING['project']}/replication-instances"), 404)
    u = f"/v1/replication-instances/{inst['id']}"
    assert expect(s.get(u), 200) == inst
    expect(s.get(f"/v1/replication-instances/{MISSING['instance']}"), 404)
    r = s.patch(u, json={"allocated_storage": 100, "multi_az": True},
                headers={"If-Match": '"1"'})
    assert expect(r, 200)["allocated_storage"] == 100 and r.headers["ETag"] == '"2"'
    assert field_errors(s.patch(u, json={"arn": "arn:aws:dms:x"})) == {"/arn"}
    expect(s.patch(u, json={"multi_az": False}, headers={"If-Match": '"1"'}), 412)
    expect(s.patch(f"/v1/replication-instances/{MISSING['instance']}",
                   json={"multi_az": True}), 404)
    expect(s.patch(u, json={"name": "ri-2"}), 409)
    expect(s.patch(u, json={"engine_version": "9" * MAX_BODY}), 413)
    expect(s.post(coll, json={"name": "big", "engine_version": "9" * MAX_BODY}), 413)
    expect(s.delete(f"/v1/replication-instances/{ri2['id']}"), 204)
    return inst


def check_tasks(s, p, src, ora, tgt, other, inst):
    coll = f"/v1/projects/{p['id']}/tasks"
    body = {"name": "t1", "source_endpoint_id": src["id"], "target_endpoint_id": tgt["id"],
            "replication_instance_id": inst["id"], "table_mappings": MAPPINGS,
            "task_settings": {"Logging": {"EnableLogging": True}}}
    r = s.post(coll, json=body)
    task = expect(r, 201)
    assert r.headers["Location"] == f"/v1/tasks/{task['id']}"
    assert task["migration_type"] == "full-load-and-cdc" and task["table_mappings"] == MAPPINGS
    t2 = expect(s.post(coll, json={"name": "t2", "source_endpoint_id": ora["id"],
                                   "target_endpoint_id": tgt["id"], "migration_type": "cdc",
                                   "table_mappings": {"rules": [SELECT_ALL]}}), 201)
    assert t2["task_settings"] == {} and "replication_instance_id" not in t2
    expect(s.post(coll, json=dict(body, task_settings={})), 409)
    key = {"Idempotency-Key": "contract-t3"}
    t3 = expect(s.post(coll, json=dict(body, name="t3"), headers=key), 201)
    expect(s.post(coll, json=dict(body, name="t4"), headers=key), 422)
    expect(s.delete(f"/v1/tasks/{t3['id']}"), 204)
    # references: wrong role, other project, missing
    r = s.post(coll, json=dict(body, name="bad", source_endpoint_id=tgt["id"],
                               target_endpoint_id=other["id"],
                               replication_instance_id=MISSING["instance"]))
    assert field_errors(r) == {"/source_endpoint_id", "/target_endpoint_id",
                               "/replication_instance_id"}
    # table mappings grammar
    bad_rules = [
        {"rule-type": "selection", "rule-id": "1", "rule-name": "x", "rule-action": "rename",
         "object-locator": {"schema-name": "%"}},
        {"rule-type": "selection", "rule-id": "2", "rule-name": "y", "rule-action": "explicit",
         "object-locator": {"schema-name": "public", "table-name": "a%"}},
        {"rule-type": "transformation", "rule-id": "2", "rule-name": "z",
         "rule-action": "add-prefix", "object-locator": {"schema-name": "s",
                                                          "table-type": "view"}},
        {"rule-type": "nonsense", "rule-id": 0, "rule-name": "w"},
    ]
    r = s.post(coll, json=dict(body, name="bad", table_mappings={"rules": bad_rules}))
    assert field_errors(r) >= {
        "/table_mappings/rules/0/rule-action",
        "/table_mappings/rules/0/object-locator/table-name",
        "/table_mappings/rules/1/object-locator",
        "/table_mappings/rules/2/rule-target", "/table_mappings/rules/2/value",
        "/table_mappings/rules/2/object-locator",
        "/table_mappings/rules/3/rule-type", "/table_mappings/rules/2/rule-id"}
    only_exclude = {"rules": [dict(SELECT_ALL, **{"rule-action": "exclude"})]}
    r = s.post(coll, json=dict(body, name="bad", table_mappings=only_exclude))
    assert field_errors(r) == {"/table_mappings/rules"}
    assert field_errors(s.post(coll, json=dict(body, name="bad", table_mappings={"rules": []}))) \
        == {"/table_mappings/rules"}
    r = s.post(coll, json=dict(body, name="bad", status="running", table_mappings=None))
    assert field_errors(r) == {"/status", "/table_mappings"}
    expect(s.post(f"/v1/projects/{MISSING['project']}/tasks", json=body), 404)
    assert [t["id"] for t in expect(s.get(coll), 200)["items"]] == [task["id"], t2["id"]]
    page = expect(s.get(coll, params={"limit": 1}), 200)
    assert page["next_page_token"] and len(page["items"]) == 1
    expect(s.get(coll, params={"limit": "ten"}), 400)
    expect(s.get(f"/v1/projects/{MISSING['project']}/tasks"), 404)
    u = f"/v1/tasks/{task['id']}"
    assert expect(s.get(u), 200) == task
    expect(s.get(f"/v1/tasks/{MISSING['task']}"), 404)
    r = s.patch(u, json={"migration_type": "full-load",
                         "task_settings": {"FullLoadSettings": {"MaxFullLoadSubTasks": 16}}},
                headers={"If-Match": '"1"'})
    patched = expect(r, 200)
    assert patched["migration_type"] == "full-load"
    assert patched["task_settings"] == {"Logging": {"EnableLogging": True},
                                        "FullLoadSettings": {"MaxFullLoadSubTasks": 16}}
    r = s.patch(u, json={"stop_reason": "x", "table_mappings": {"rules": "all"}})
    assert field_errors(r) == {"/stop_reason", "/table_mappings/rules"}
    expect(s.patch(u, json={"name": "t9"}, headers={"If-Match": '"1"'}), 412)
    expect(s.patch(f"/v1/tasks/{MISSING['task']}", json={"name": "t9"}), 404)
    expect(s.patch(u, json={"name": "t2"}), 409)
    expect(s.patch(u, json={"task_settings": {"Blob": "x" * MAX_BODY}}), 413)
    expect(s.post(coll, json=dict(body, name="big", task_settings={"Blob": "x" * MAX_BODY})),
           413)
    return task, t2


def check_deletes(s, p, p2, src, ora, tgt, other, inst, task, t2):
    # referenced resources refuse; If-Match guards; then dependency order
    expect(s.delete(f"/v1/endpoints/{src['id']}"), 409)
    expect(s.delete(f"/v1/replication-instances/{inst['id']}"), 409)
    expect(s.delete(f"/v1/projects/{p['id']}"), 409)
    expect(s.delete(f"/v1/tasks/{task['id']}", headers={"If-Match": '"1"'}), 412)
    expect(s.delete(f"/v1/endpoints/{tgt['id']}", headers={"If-Match": '"7"'}), 412)
    expect(s.delete(f"/v1/replication-instances/{inst['id']}", headers={"If-Match": '"1"'}), 412)
    expect(s.delete(f"/v1/projects/{p2['id']}", headers={"If-Match": '"9"'}), 412)
    # removing the task's instance reference frees the instance
    r = s.patch(f"/v1/tasks/{task['id']}", json={"replication_instance_id": None})
    assert "replication_instance_id" not in expect(r, 200)
    for path, obj in [("replication-instances", inst), ("tasks", task), ("tasks", t2),
                      ("endpoints", src), ("endpoints", ora), ("endpoints", tgt),
                      ("endpoints", other), ("projects", p), ("projects", p2)]:
        u = f"/v1/{path}/{obj['id']}"
        etag = s.get(u).headers["ETag"]
        r = s.delete(u, headers={"If-Match": etag})
        assert expect(r, 204) is None and r.content == b""
        expect(s.get(u), 404)
        expect(s.delete(u), 404)


def check_router(s):
    r = s.get("/v1/nothing")
    assert r.status_code == 404 and "/v1/nothing" in r.json()["detail"]
    r = s.put("/v1/projects")
    assert r.status_code == 405 and r.json()["type"] == "urn:cutover:problem:method-not-allowed"
    r = s.delete(f"/v1/plans/{'oracle-to-postgres'}")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    # without tokens no origin gets CORS headers
    r = s.options("/v1/projects", headers={"Origin": ORIGIN,
                                           "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204 and "Access-Control-Allow-Origin" not in r.headers


def check_cors(s):
    """CORS of a daemon with tokens and --cors-origins ORIGIN; s is an
    admin's session."""
    r = s.options("/v1/projects", headers={"Origin": ORIGIN,
                                           "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert set(r.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "POST"}
    r = s.get("/v1/projects", headers={"Origin": ORIGIN})
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = set(r.headers["Access-Control-Expose-Headers"].split(", "))
    assert {"ETag", "Location", "Idempotent-Replayed"} <= exposed


def check_media_types(s, c):
    """Every POST and PATCH refuses a body that is not JSON with 415 before
    anything else runs (placeholder ids do)."""
    for method, template, _, op in c.operations:
        if method not in ("POST", "PATCH"):
            continue
        path = re.sub(r"\{[^}]+\}", "x", template)
        r = s.request(method, path, data=b'{"name":"a"}',
                      headers={"Content-Type": "text/plain"})
        expect(r, 415)
        assert field_errors(r, "header") == {"Content-Type"}


def wait_run(s, run_id, states, timeout=30.0):
    """Polls GET /v1/runs/{id} (each response checked) until the run is in
    one of states."""
    deadline = time.monotonic() + timeout
    while True:
        run = expect(s.get(f"/v1/runs/{run_id}"), 200)
        if run["state"] in states:
            return run
        assert time.monotonic() < deadline, f"run {run_id} stuck in {run['state']}"
        time.sleep(0.02)


def read_sse(resp, count):
    """The first count events of an SSE response: [(id, type, data)]."""
    events, frame = [], {}
    for line in resp.iter_lines(decode_unicode=True):
        if line == "":
            if "data" in frame:
                events.append((int(frame["id"]), frame["event"], json.loads(frame["data"])))
                if len(events) == count:
                    return events
            frame = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            frame[field] = value[1:] if value.startswith(" ") else value
    raise AssertionError(f"stream ended after {events}")


def check_runs(s):
    pid = expect(s.post("/v1/projects", json={"name": "runs"}), 201)["id"]
    coll = f"/v1/projects/{pid}/runs"
    missing_run = "run_" + "a" * 26
    # validation
    assert field_errors(s.post(coll, json={"plan": "nope"})) == {"/plan"}
    r = s.post(coll, json={"plan": "oracle-to-postgres", "engine": "pg-logical",
                           "parameters": {"sequence_gap": "x", "bogus": 1, "test": {}}})
    assert field_errors(r) >= {"/parameters/sequence_gap", "/parameters/bogus",
                               "/parameters/test", "/parameters/source_endpoint_id",
                               "/parameters/target_endpoint_id"}
    assert field_errors(s.post(coll, json={"plan": "view-migration", "engine": "warp",
                                           "colour": 1})) >= {"/engine", "/colour"}
    expect(s.post(f"/v1/projects/{MISSING['project']}/runs",
                  json={"plan": "view-migration", "engine": "test"}), 404)
    expect(s.post(coll, json={"plan": "view-migration", "engine": "test",
                              "parameters": {"test": {"pad": "x" * MAX_BODY}}}), 413)
    # run A: to the cutover gate, then approved to success
    body_a = {"plan": "oracle-to-postgres", "engine": "test",
              "parameters": {"test": {}, "rollback_task": True}}
    key = {"Idempotency-Key": "contract-run-a"}
    r = s.post(coll, json=body_a, headers=key)
    a = expect(r, 201)
    assert r.headers["Location"] == f"/v1/runs/{a['id']}" and a["state"] == "pending"
    assert a["parameters"]["max_attempts"] == 5 and a["parameters"]["schemas"] == ["public"]
    assert a["waiting_for"] is None
    expect(s.post(f"/v1/runs/{a['id']}/rollback-task/stop"), 409)  # not succeeded yet
    r = s.post(coll, json=body_a, headers=key)
    assert expect(r, 201)["id"] == a["id"] and r.headers["Idempotent-Replayed"] == "true"
    expect(s.post(coll, json=dict(body_a, plan="view-migration"), headers=key), 422)
    a = wait_run(s, a["id"], {"awaiting_approval"})
    assert a["current_step"] == "cutover_gate"
    ra = f"/v1/runs/{a['id']}"
    etag = s.get(ra).headers["ETag"]
    expect(s.get(ra, headers={"If-None-Match": etag}), 304)
    expect(s.get(ra, params={"wait": 99}), 400)
    assert a["id"] in [x["id"] for x in expect(
        s.get("/v1/runs", params={"state": "awaiting_approval", "view": "basic"}), 200)["items"]]
    expect(s.get("/v1/runs", params={"order_by": "id"}), 400)
    tables = expect(s.get(f"{ra}/tables"), 200)
    assert tables["items"] == [] and tables["run_id"] == a["id"]
    expect(s.get(f"{ra}/tables", headers={"If-None-Match": s.get(f"{ra}/tables").headers["ETag"]}), 304)
    expect(s.get("/v1/runs/run_" + "a" * 26 + "/tables"), 404)
    r = s.post(f"{ra}/steps/convert_schema/approve")
    expect(r, 409)
    assert (r.json()["state"], r.json()["step_state"]) == ("awaiting_approval", "succeeded")
    expect(s.post(f"{ra}/steps/no_such_step/approve"), 404)
    r = s.post(f"{ra}/steps/cutover_gate/approve", json={"approved": True})
    expect(r, 400)
    assert field_errors(r) == {"/approved"}
    expect(s.post(f"{ra}/steps/no_such_step/retry"), 404)
    arts = expect(s.get(f"{ra}/artifacts"), 200)
    assert [x["name"] for x in arts["items"]] == ["prepare_target.sql"]
    r = s.get(f"{ra}/artifacts/prepare_target.sql")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "SELECT 1;" in r.text
    expect(s.get(f"{ra}/artifacts/none.sql"), 404)
    ready = s.get(f"{ra}/readiness")
    expect(ready, 200)
    expect(s.get("/v1/runs/run_aaaaaaaaaaaaaaaaaaaaaaaaaa/readiness"), 404)
    expect(s.post(f"{ra}/steps/cutover_gate/approve",
                  headers={"If-Match": '"r-00000000000000000000000000000000"'}), 412)
    approve = {"Idempotency-Key": "contract-approve-a", "If-Match": ready.headers["ETag"]}
    assert expect(s.post(f"{ra}/steps/cutover_gate/approve", headers=approve),
                  200)["state"] == "running"
    a = wait_run(s, a["id"], {"succeeded", "failed"})
    assert a["state"] == "succeeded" and a["progress_percent"] == 100
    gate = [x for x in a["steps"] if x["id"] == "cutover_gate"][0]
    assert gate["approved_by"] == "anonymous" and gate["approved_at"]
    r = s.post(f"{ra}/cancel")
    expect(r, 409)
    assert r.json()["state"] == "succeeded"
    stop = {"Idempotency-Key": "contract-rollback-stop-a"}
    assert expect(s.post(f"{ra}/rollback-task/stop", headers=stop), 202)["id"] == a["id"]
    # run B: a step fails, is retried by an operator, and the run succeeds
    b = expect(s.post(coll, json={"plan": "view-migration", "engine": "test", "parameters": {
        "max_attempts": 1, "test": {"fail": {"create_view": 1}}}}), 201)
    b = wait_run(s, b["id"], {"failed"})
    assert "create_view" in b["error"]
    rb = f"/v1/runs/{b['id']}"
    r = s.post(f"{rb}/steps/validate/retry")
    expect(r, 409)
    assert (r.json()["state"], r.json()["step_state"]) == ("failed", "pending")
    retry = {"Idempotency-Key": "contract-retry-b"}
    assert expect(s.post(f"{rb}/steps/create_view/retry", headers=retry),
                  200)["state"] == "running"
    b = wait_run(s, b["id"], {"succeeded"})
    expect(s.post(f"{rb}/rollback-task/stop"), 409)  # no rollback task
    # run C: paused, resumed, cancelled, and the actions' illegal repeats
    c = expect(s.post(coll, json={"plan": "view-migration", "engine": "test",
                                  "parameters": {"test": {"step_ms": 60000}}}), 201)
    rc_ = f"/v1/runs/{c['id']}"
    pause = {"Idempotency-Key": "contract-pause-c"}
    assert expect(s.post(f"{rc_}/pause", headers=pause), 200)["state"] == "paused"
    assert expect(s.post(f"{rc_}/pause", headers=pause), 200)["state"] == "paused"  # replay
    assert expect(s.post(f"{rc_}/pause"), 409) is not None
    resume = {"Idempotency-Key": "contract-resume-c"}
    assert expect(s.post(f"{rc_}/resume", headers=resume), 200)["state"] == "running"
    assert expect(s.post(f"{rc_}/resume"), 409)["step_state"] in ("pending", "running",
                                                                  "waiting")
    r = s.post(f"{rc_}/steps/stage_load/approve")
    assert r.status_code == 409
    cancel = {"Idempotency-Key": "contract-cancel-c"}
    assert expect(s.post(f"{rc_}/cancel", headers=cancel), 200)["state"] == "cancelled"
    assert expect(s.post(f"{rc_}/cancel"), 409)["state"] == "cancelled"
    # another clean-up of the cancelled run; not of a succeeded one
    cleanup = {"Idempotency-Key": "contract-cleanup-c"}
    assert expect(s.post(f"{rc_}/cleanup", headers=cleanup), 200)["cleanup"]["attempts"] == 0
    assert expect(s.post(f"{ra}/cleanup"), 409)["state"] == "succeeded"
    # an action's Idempotency-Key reused on another path
    for action, k in [("pause", pause), ("resume", resume), ("cancel", cancel),
                      ("rollback-task/stop", cancel),
                      ("cleanup", cleanup),
                      ("steps/cutover_gate/approve", retry),
                      ("steps/create_view/retry", approve)]:
        expect(s.post(f"{ra}/{action}", headers=k), 422)
    # what does not exist
    for method, path in [("GET", ""), ("POST", "/pause"), ("POST", "/resume"),
                         ("POST", "/cancel"), ("POST", "/rollback-task/stop"),
                         ("POST", "/cleanup"),
                         ("POST", "/steps/cutover_gate/approve"),
                         ("POST", "/steps/cutover_gate/retry"), ("GET", "/artifacts"),
                         ("GET", "/artifacts/x"), ("GET", "/events")]:
        expect(s.request(method, f"/v1/runs/{missing_run}{path}"), 404)
    # lists
    runs = expect(s.get(coll), 200)
    assert [x["id"] for x in runs["items"]] == [a["id"], b["id"], c["id"]]
    page = expect(s.get(coll, params={"limit": 2}), 200)
    assert len(page["items"]) == 2 and page["next_page_token"]
    page = expect(s.get(coll, params={"page_token": page["next_page_token"]}), 200)
    assert [x["id"] for x in page["items"]] == [c["id"]] and page["next_page_token"] is None
    expect(s.get(coll, params={"limit": "x"}), 400)
    expect(s.get(f"/v1/projects/{MISSING['project']}/runs"), 404)
    expect(s.delete(f"/v1/projects/{pid}"), 409)
    # events: JSON pages, filters, paging, errors
    page = expect(s.get(f"{ra}/events", params={"type": "run.state"}), 200)
    assert [e["data"]["to"] for e in page["items"]][:2] == ["pending", "running"]
    assert {e["run_id"] for e in page["items"]} == {a["id"]} and page["more"] is False
    every, after = [], 0
    while True:
        page = expect(s.get("/v1/events", params={"project_id": pid, "after": after,
                                                   "limit": 25}), 200)
        every += page["items"]
        after = page["next_after"]
        if not page["more"]:
            break
    ids = [e["id"] for e in every]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and len(ids) > 25
    assert {e["type"] for e in every} >= {"run.state", "step.state", "step.retry",
                                          "step.progress", "artifact.created"} - {"step.retry"}
    by_run = expect(s.get("/v1/events", params={"run_id": b["id"], "limit": 1000}), 200)
    assert by_run["items"] == [e for e in every if e["run_id"] == b["id"]]
    assert field_errors(s.get(f"{ra}/events", params={"after": -1}), "parameter") == {"after"}
    assert field_errors(s.get("/v1/events", params={"limit": 0}), "parameter") == {"limit"}
    expect(s.get("/v1/events", params={"run_id": missing_run}), 404)
    r = s.get("/v1/events", headers={"Last-Event-ID": "x"})
    assert field_errors(r, "header") == {"Last-Event-ID"}
    # events: Server-Sent Events, from the start and resumed with Last-Event-ID
    with s.get(f"{ra}/events", headers={"Accept": "text/event-stream"}, stream=True,
               timeout=(5, 30)) as r:
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
        streamed = read_sse(r, 3)
    mine = [e for e in every if e["run_id"] == a["id"]][:3]
    assert streamed == [(e["id"], e["type"], e["data"]) for e in mine]
    with s.get("/v1/events", headers={"Accept": "text/event-stream",
                                      "Last-Event-ID": str(every[-3]["id"])},
               params={"project_id": pid}, stream=True, timeout=(5, 30)) as r:
        assert r.status_code == 200
        assert [x[0] for x in read_sse(r, 2)] == [e["id"] for e in every[-2:]]


def check_auth(url, c):
    def as_(role):
        return ContractSession(url, token=TOKENS.get(role), contract=c)
    anon, viewer, operator, admin = as_(None), as_("viewer"), as_("operator"), as_("admin")
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"]:
        expect(anon.get(path), 200)
    r = anon.get("/v1/projects")
    expect(r, 401)
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="cutover"'
    expect(ContractSession(url, token="not-a-token", contract=c).get("/v1/plans"), 401)
    expect(viewer.get("/v1/projects"), 200)
    expect(viewer.post("/v1/projects", json={"name": "a"}), 403)
    p = expect(operator.post("/v1/projects", json={"name": "a"}), 201)
    r = operator.post(f"/v1/projects/{p['id']}/endpoints", json=endpoint_body("e"))
    expect(r, 403)
    assert "admin" in r.json()["detail"]
    e = expect(admin.post(f"/v1/projects/{p['id']}/endpoints", json=endpoint_body("e")), 201)
    expect(operator.delete(f"/v1/endpoints/{e['id']}"), 403)
    expect(viewer.get(f"/v1/endpoints/{e['id']}"), 200)
    # a browser session (tests/integration/test_sessions.py has the details)
    browser = ContractSession(url, contract=c)
    expect(browser.post("/v1/sessions", json={"token": "not-a-token"}), 401)
    csrf = expect(browser.post("/v1/sessions", json={"token": TOKENS["viewer"]}),
                  201)["csrf_token"]
    expect(browser.post("/v1/sessions", json={"token": TOKENS["viewer"], "ttl_seconds": 0}),
           400)
    expect(browser.get("/v1/sessions/current"), 200)
    expect(browser.delete("/v1/sessions/current"), 403)  # no CSRF header
    expect(browser.delete("/v1/sessions/current", headers={"X-CSRF-Token": csrf}), 204)
    # authentication and roles are checked before the operation runs, so
    # placeholder ids and empty bodies do
    below = {"operator": viewer, "admin": operator}
    for method, template, _, op in c.operations:
        role = op.get("x-required-role")
        if role == "none":
            continue
        path = re.sub(r"\{[^}]+\}", "x", template)
        expect(anon.request(method, path), 401)
        if role in below:
            expect(below[role].request(method, path), 403)


def check_dms_test_connection(s):
    """test-connection through DMS: a test still running answers 202."""
    pid = expect(s.post("/v1/projects", json={"name": "dms"}), 201)["id"]
    ep = expect(s.post(f"/v1/projects/{pid}/endpoints", json={
        "name": "ora", "role": "source", "engine": "oracle", "host": "ora.internal",
        "port": 1521, "database": "ORCL", "username": "dms_user", "password": PASSWORD}),
        201)["id"]
    expect(s.post(f"/v1/projects/{pid}/replication-instances", json={"name": "ri-contract"}),
           201)
    t = expect(s.post(f"/v1/endpoints/{ep}/test-connection"), 202)
    assert t["status"] == "testing" and t["dms_status"] == "testing", t


def test_every_operation_against_the_contract(cutoverd, cutoverd_runs, cutoverd_auth,
                                              cutoverd_dms):
    c = contract.load()
    s = ContractSession(cutoverd.url, contract=c)
    check_ops_and_plans(s)
    expect(s.post("/v1/sessions", json={"token": "x"}), 404)  # no tokens file
    p, p2 = check_projects(s)
    src, ora, tgt, other = check_endpoints(s, p, p2)
    check_webhooks(s, p)
    tested = expect(s.post(f"/v1/endpoints/{src['id']}/test-connection"), 200)
    assert tested["endpoint_id"] == src["id"] and tested["status"] in ("succeeded", "failed")
    expect(s.post(f"/v1/endpoints/{ora['id']}/test-connection"), 422)
    r = s.post(f"/v1/endpoints/{ora['id']}/test-connection",
               json={"replication_instance_id": 7})
    assert expect(r, 400) and field_errors(r) == {"/replication_instance_id"}
    expect(s.post(f"/v1/endpoints/{MISSING['endpoint']}/test-connection"), 404)
    inst = check_instances(s, p)
    task, t2 = check_tasks(s, p, src, ora, tgt, other, inst)
    check_deletes(s, p, p2, src, ora, tgt, other, inst, task, t2)
    check_router(s)
    check_media_types(s, c)
    check_runs(ContractSession(cutoverd_runs.url, contract=c))
    check_auth(cutoverd_auth.url, c)
    check_cors(ContractSession(cutoverd_auth.url, token=TOKENS["admin"], contract=c))
    check_dms_test_connection(ContractSession(cutoverd_dms.url, contract=c))

    assert c.missing_operations() == set(), "operations never exercised"
    statuses = {status for _, status in c.seen}
    assert {200, 201, 204, 400, 401, 403, 404, 409, 412, 413, 415, 422} <= statuses
    assert {(404, "GET"), (405, "PUT"), (204, "OPTIONS")} <= c.unrouted
    # every documented non-5xx response of the resource operations was produced
    unseen = set()
    for method, template, _, op in c.operations:
        for code in op["responses"]:
            if code.isdigit() and int(code) < 500 and (op["operationId"], int(code)) not in c.seen:
                unseen.add((op["operationId"], int(code)))
    assert unseen == set(), f"documented responses never produced: {sorted(unseen)}"
