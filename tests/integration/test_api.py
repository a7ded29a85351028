"""Resource API against the real daemon: CRUD, pagination, ETag/If-Match,
Idempotency-Key, auth roles, secrets, validation errors, body limit,
persistence across restarts."""
import hashlib
import json
import os

import pytest
import requests

from daemon import Daemon

PASSWORD = "s3cr3t-Pa55word-never-shown"


def project(api, url, name="p1"):
    r = api.post(url + "/v1/projects", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


def endpoint_body(name, role="source", engine="postgres", **kw):
    body = {"name": name, "role": role, "engine": engine, "host": "127.0.0.1",
            "database": "db1", "username": "migrator", "password": PASSWORD}
    body.update(kw)
    return body


MAPPINGS = {"rules": [
    {"rule-type": "selection", "rule-id": "1", "rule-name": "all",
     "object-locator": {"schema-name": "public", "table-name": "%"},
     "rule-action": "include"}]}


def full_setup(api, url):
    p = project(api, url)
    src = api.post(f"{url}/v1/projects/{p['id']}/endpoints", json=endpoint_body("src")).json()
    tgt = api.post(f"{url}/v1/projects/{p['id']}/endpoints",
                   json=endpoint_body("tgt", role="target")).json()
    inst = api.post(f"{url}/v1/projects/{p['id']}/replication-instances",
                    json={"name": "ri1"}).json()
    task = api.post(f"{url}/v1/projects/{p['id']}/tasks", json={
        "name": "t1", "source_endpoint_id": src["id"], "target_endpoint_id": tgt["id"],
        "replication_instance_id": inst["id"], "table_mappings": MAPPINGS}).json()
    return p, src, tgt, inst, task


def test_crud_every_resource(daemon, api):
    url = daemon.url
    p, src, tgt, inst, task = full_setup(api, url)
    assert p["id"].startswith("prj_") and p["default_engine"] == "pg-logical"
    assert src["id"].startswith("ept_") and src["port"] == 5432
    assert src["password_set"] is True and "password" not in src
    assert inst["id"].startswith("rin_") and inst["allocated_storage"] == 50
    assert task["id"].startswith("tsk_") and task["migration_type"] == "full-load-and-cdc"
    for path, obj in [("projects", p), ("endpoints", src), ("endpoints", tgt),
                      ("replication-instances", inst), ("tasks", task)]:
        r = api.get(f"{url}/v1/{path}/{obj['id']}")
        assert r.status_code == 200 and r.json() == obj
        assert r.headers["ETag"] == '"1"'
    # lists
    for coll, n in [("endpoints", 2), ("replication-instances", 1), ("tasks", 1)]:
        r = api.get(f"{url}/v1/projects/{p['id']}/{coll}")
        assert r.status_code == 200 and len(r.json()["items"]) == n
    # update
    r = api.patch(f"{url}/v1/tasks/{task['id']}", json={"migration_type": "full-load"})
    assert r.status_code == 200 and r.json()["migration_type"] == "full-load"
    assert r.headers["ETag"] == '"2"'
    r = api.patch(f"{url}/v1/projects/{p['id']}", json={"description": "hello"})
    assert r.json()["description"] == "hello" and r.json()["name"] == "p1"
    # delete in dependency order; referenced resources refuse first
    r = api.delete(f"{url}/v1/endpoints/{src['id']}")
    assert r.status_code == 409 and task["id"] in r.json()["detail"]
    r = api.delete(f"{url}/v1/projects/{p['id']}")
    assert r.status_code == 409
    for path, obj in [("tasks", task), ("replication-instances", inst),
                      ("endpoints", src), ("endpoints", tgt), ("projects", p)]:
        assert api.delete(f"{url}/v1/{path}/{obj['id']}").status_code == 204
        assert api.get(f"{url}/v1/{path}/{obj['id']}").status_code == 404


def test_pagination_across_pages(daemon, api):
    names = [f"proj-{i:02d}" for i in range(23)]
    for n in names:
        project(api, daemon.url, n)
    seen, token, pages = [], None, 0
    while True:
        params = {"limit": 5}
        if token:
            params["page_token"] = token
        r = api.get(daemon.url + "/v1/projects", params=params)
        assert r.status_code == 200
        body = r.json()
        assert len(body["items"]) <= 5
        seen += [i["name"] for i in body["items"]]
        pages += 1
        token = body["next_page_token"]
        if not token:
            break
    assert seen == names and pages == 5
    r = api.get(daemon.url + "/v1/projects", params={"limit": 0})
    assert r.status_code == 400 and r.json()["errors"][0]["parameter"] == "limit"
    r = api.get(daemon.url + "/v1/projects", params={"page_token": "garbage"})
    assert r.status_code == 400 and r.json()["errors"][0]["parameter"] == "page_token"


def test_etag_if_match(daemon, api):
    p = project(api, daemon.url)
    u = f"{daemon.url}/v1/projects/{p['id']}"
    etag = api.get(u).headers["ETag"]
    r = api.patch(u, json={"description": "a"}, headers={"If-Match": etag})
    assert r.status_code == 200
    r = api.patch(u, json={"description": "b"}, headers={"If-Match": etag})
    assert r.status_code == 412
    assert api.get(u).json()["description"] == "a"
    r = api.delete(u, headers={"If-Match": etag})
    assert r.status_code == 412 and api.get(u).status_code == 200
    r = api.delete(u, headers={"If-Match": api.get(u).headers["ETag"]})
    assert r.status_code == 204


def test_idempotency_key_replay_and_conflict(daemon, api):
    h = {"Idempotency-Key": "create-p-1"}
    r1 = api.post(daemon.url + "/v1/projects", json={"name": "idem"}, headers=h)
    r2 = api.post(daemon.url + "/v1/projects", json={"name": "idem"}, headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    assert r2.headers.get("Idempotent-Replayed") == "true"
    assert r1.headers["Location"] == r2.headers["Location"]
    assert len(api.get(daemon.url + "/v1/projects").json()["items"]) == 1
    r3 = api.post(daemon.url + "/v1/projects", json={"name": "other"}, headers=h)
    assert r3.status_code == 422
    assert len(api.get(daemon.url + "/v1/projects").json()["items"]) == 1
    # without a key, a second create with the same name conflicts
    r4 = api.post(daemon.url + "/v1/projects", json={"name": "idem"})
    assert r4.status_code == 409


def test_validation_errors_name_fields(daemon, api):
    r = api.post(daemon.url + "/v1/projects", data=b"{not json",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["pointer"] == ""
    r = api.post(daemon.url + "/v1/projects", json={"name": 5, "default_engine": "x"})
    ptrs = {e["pointer"] for e in r.json()["errors"]}
    assert r.status_code == 400 and ptrs == {"/name", "/default_engine"}
    p = project(api, daemon.url)
    r = api.post(f"{daemon.url}/v1/projects/{p['id']}/endpoints",
                 json={"name": "e", "role": "target", "engine": "oracle", "port": "1"})
    ptrs = {e["pointer"] for e in r.json()["errors"]}
    assert {"/host", "/port", "/database", "/username", "/password", "/engine"} <= ptrs
    src = api.post(f"{daemon.url}/v1/projects/{p['id']}/endpoints",
                   json=endpoint_body("src")).json()
    r = api.post(f"{daemon.url}/v1/projects/{p['id']}/tasks", json={
        "name": "t", "source_endpoint_id": src["id"], "target_endpoint_id": src["id"],
        "table_mappings": {"rules": [{"rule-type": "selection", "rule-id": "1",
                                      "rule-name": "1", "rule-action": "rename",
                                      "object-locator": {"schema-name": "%"}}]}})
    ptrs = {e["pointer"] for e in r.json()["errors"]}
    assert r.status_code == 400
    assert "/target_endpoint_id" in ptrs
    assert "/table_mappings/rules/0/rule-action" in ptrs
    assert "/table_mappings/rules/0/object-locator/table-name" in ptrs
    # nothing was created by the failed requests
    assert api.get(f"{daemon.url}/v1/projects/{p['id']}/tasks").json()["items"] == []
    r = api.post(f"{daemon.url}/v1/projects/prj_nope/endpoints", json=endpoint_body("x"))
    assert r.status_code == 404


def test_not_found_and_method_not_allowed_name_the_route(daemon, api):
    r = api.get(daemon.url + "/v1/nothing")
    assert r.status_code == 404 and "/v1/nothing" in r.json()["detail"]
    r = api.put(daemon.url + "/v1/projects")
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_body_limit_413(daemon, api):
    big = {"name": "x", "description": "y" * (2 << 20)}
    r = api.post(daemon.url + "/v1/projects", json=big)
    assert r.status_code == 413
    assert api.get(daemon.url + "/v1/projects").json()["items"] == []


def test_password_never_in_responses_or_logs(daemon, api):
    url = daemon.url
    p, src, tgt, inst, task = full_setup(api, url)
    bodies = []
    for path in [f"/v1/endpoints/{src['id']}", f"/v1/projects/{p['id']}/endpoints",
                 f"/v1/tasks/{task['id']}", "/metrics"]:
        bodies.append(api.get(url + path).text)
    r = api.patch(f"{url}/v1/endpoints/{src['id']}", json={"password": "N3w-" + PASSWORD})
    assert r.status_code == 200 and r.json()["password_set"] is True
    bodies.append(r.text)
    r = api.patch(f"{url}/v1/endpoints/{src['id']}", json={"password": None})
    assert r.status_code == 400  # no credentials left would be invalid
    bodies.append(r.text)
    for b in bodies:
        assert PASSWORD not in b
    assert daemon.stop() == 0
    log = daemon.log()
    assert PASSWORD not in log and "N3w-" not in log
    with open(daemon.db, "rb") as f:
        assert PASSWORD.encode() not in f.read()
    key = daemon.db + ".key"
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"


def test_secrets_manager_instead_of_password(daemon, api):
    p = project(api, daemon.url)
    body = endpoint_body("sm")
    del body["password"]
    body["secrets_manager_secret_id"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
    body["secrets_manager_access_role_arn"] = "arn:aws:iam::123456789012:role/dms-secrets"
    r = api.post(f"{daemon.url}/v1/projects/{p['id']}/endpoints", json=body)
    assert r.status_code == 201 and r.json()["password_set"] is False
    body["password"] = "x"
    body["name"] = "both"
    r = api.post(f"{daemon.url}/v1/projects/{p['id']}/endpoints", json=body)
    assert r.status_code == 400 and r.json()["errors"][0]["pointer"] == "/password"


def test_restart_keeps_resources(tmp_path):
    d = Daemon(tmp_path).start()
    s = requests.Session()
    p, src, tgt, inst, task = full_setup(s, d.url)
    before = {k: s.get(f"{d.url}/v1/{k}/{o['id']}").json() for k, o in
              [("projects", p), ("endpoints", src), ("tasks", task)]}
    assert d.stop() == 0
    d.start()
    try:
        for k, o in before.items():
            assert s.get(f"{d.url}/v1/{k}/{o['id']}").json() == o
    finally:
        assert d.stop() == 0


def token_file(tmp_path):
    tokens = {"viewer": "tok-viewer-123", "operator": "tok-operator-456",
              "admin": "tok-admin-789"}
    lines = ["# test tokens"]
    for role, tok in tokens.items():
        lines.append(f"{hashlib.sha256(tok.encode()).hexdigest()} {role} {role}-bot")
    path = tmp_path / "tokens"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return str(path), tokens


def test_auth_roles(tmp_path):
    path, tokens = token_file(tmp_path)
    d = Daemon(tmp_path, tokens_file=path).start()
    try:
        u = d.url

        def as_(role):
            s = requests.Session()
            if role:
                s.headers["Authorization"] = f"Bearer {tokens[role]}"
            return s
        assert as_(None).get(u + "/v1/projects").status_code == 401
        assert "Bearer" in as_(None).get(u + "/v1/projects").headers["WWW-Authenticate"]
        bad = requests.get(u + "/v1/projects", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert as_(None).get(u + "/healthz").status_code == 200
        assert as_("viewer").get(u + "/v1/projects").status_code == 200
        assert as_("viewer").post(u + "/v1/projects", json={"name": "a"}).status_code == 403
        p = as_("operator").post(u + "/v1/projects", json={"name": "a"})
        assert p.status_code == 201
        pid = p.json()["id"]
        r = as_("operator").post(f"{u}/v1/projects/{pid}/endpoints", json=endpoint_body("e"))
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        r = as_("admin").post(f"{u}/v1/projects/{pid}/endpoints", json=endpoint_body("e"))
        assert r.status_code == 201
        # tokens never reach the log
        assert d.stop() == 0
        for tok in tokens.values():
            assert tok not in d.log()
    finally:
        d.kill9()


def test_non_loopback_without_tokens_refused(tmp_path):
    import subprocess
    from daemon import BINARY
    r = subprocess.run([BINARY, "--listen", "0.0.0.0:0", "--db", str(tmp_path / "x.db")],
                       capture_output=True, timeout=10)
    assert r.returncode != 0
    assert b"tokens-file" in r.stderr


def test_sigterm_exits_zero_and_help(tmp_path):
    import subprocess
    from daemon import BINARY
    r = subprocess.run([BINARY, "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0
    for flag in ["--listen", "--db", "--workers", "--tokens-file", "--secret-key-file",
                 "--log-level", "--cors-origins", "--dms-endpoint", "--region"]:
        assert flag.encode() in r.stdout
    r = subprocess.run([BINARY, "--workers", "zero"], capture_output=True, timeout=10)
    assert r.returncode == 2 and b"--workers" in r.stderr


def test_cors_preflight_and_headers(tmp_path):
    path, tokens = token_file(tmp_path)
    d = Daemon(tmp_path, tokens_file=path,
               args=["--cors-origins", "https://portal.example"]).start()
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    try:
        r = requests.options(d.url + "/v1/projects", headers={
            "Origin": "https://portal.example",
            "Access-Control-Request-Method": "POST"})
        assert r.status_code == 204
        assert r.headers["Access-Control-Allow-Origin"] == "https://portal.example"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert "Idempotency-Key" in r.headers["Access-Control-Allow-Headers"]
        r = requests.get(d.url + "/v1/projects",
                         headers={"Origin": "https://portal.example", **auth})
        assert r.status_code == 200
        assert r.headers["Access-Control-Allow-Origin"] == "https://portal.example"
        r = requests.get(d.url + "/v1/projects",
                         headers={"Origin": "https://evil.example", **auth})
        assert "Access-Control-Allow-Origin" not in r.headers
    finally:
        assert d.stop() == 0


def test_ops_endpoints(daemon, api):
    full_setup(api, daemon.url)
    m = api.get(daemon.url + "/metrics")
    assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain")
    assert 'cutover_resources{kind="endpoint"} 2' in m.text
    assert 'cutover_http_requests_total{operation="createProject",status="201"} 1' in m.text
    assert "cutover_http_request_duration_seconds_bucket" in m.text
    spec = api.get(daemon.url + "/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    plans = api.get(daemon.url + "/v1/plans").json()["items"]
    o2p = [p for p in plans if p["id"] == "oracle-to-postgres"][0]
    assert sorted({s["aws_step"] for s in o2p["steps"]}) == list(range(1, 9))
    log_lines = [json.loads(line) for line in daemon.log().splitlines() if line.strip()]
    assert all({"ts", "level", "component", "msg"} <= set(x) for x in log_lines)


def test_pg_logical_project_refuses_renaming_rules(daemon, api):
    url = daemon.url
    p = project(api, url)  # default engine pg-logical
    src = api.post(f"{url}/v1/projects/{p['id']}/endpoints", json=endpoint_body("s")).json()
    tgt = api.post(f"{url}/v1/projects/{p['id']}/endpoints",
                   json=endpoint_body("t", role="target")).json()
    mappings = {"rules": MAPPINGS["rules"] + [
        {"rule-type": "transformation", "rule-id": "2", "rule-name": "to-staging",
         "rule-target": "schema", "object-locator": {"schema-name": "public"},
         "rule-action": "rename", "value": "staging"}]}
    body = {"name": "t", "source_endpoint_id": src["id"], "target_endpoint_id": tgt["id"],
            "table_mappings": mappings}
    r = api.post(f"{url}/v1/projects/{p['id']}/tasks", json=body)
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["pointer"] == "/table_mappings/rules/1/rule-action"
    assert "to-staging" in err["detail"] and "aws-dms" in err["detail"]
    # the same task is fine in an aws-dms project
    p2 = api.post(url + "/v1/projects", json={"name": "dms", "default_engine": "aws-dms"}).json()
    s2 = api.post(f"{url}/v1/projects/{p2['id']}/endpoints", json=endpoint_body("s")).json()
    t2 = api.post(f"{url}/v1/projects/{p2['id']}/endpoints",
                  json=endpoint_body("t", role="target")).json()
    body.update(source_endpoint_id=s2["id"], target_endpoint_id=t2["id"])
    assert api.post(f"{url}/v1/projects/{p2['id']}/tasks", json=body).status_code == 201
