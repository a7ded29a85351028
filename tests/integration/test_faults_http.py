"""Bad input found by a black-box fuzz over HTTP (issue 17 F2-F10): each
test sends what the fuzz sent and asserts the contract's answer."""
import hashlib
import socket
import time

import pytest
import requests

from daemon import TEST_BINARY, Daemon

TOKEN = "fault-token-admin"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    work = tmp_path_factory.mktemp("faults")
    tokens = work / "tokens"
    tokens.write_text(f"{hashlib.sha256(TOKEN.encode()).hexdigest()} admin fz\n")
    # the test engine lets runs be created without databases
    dm = Daemon(work, tokens_file=str(tokens), binary=TEST_BINARY).start()
    yield dm
    assert dm.stop() == 0, dm.log()


def s():
    sess = requests.Session()
    sess.headers["Authorization"] = f"Bearer {TOKEN}"
    return sess


def new_project(url, name):
    r = s().post(url + "/v1/projects", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


def raw(port, data, timeout=5.0):
    """Sends data on a new connection; returns everything read until the
    server closes or timeout passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and b"Content-Length: " in out:
                head, _, body = out.partition(b"\r\n\r\n")
                n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    break
        return out


def field_pointers(r):
    return [e.get("pointer", e.get("header", e.get("parameter")))
            for e in r.json().get("errors", [])]


# F2: a NUL or control character in the path is a 400, not a shorter path
def test_f2_control_characters_in_path(d):
    url = d.url
    for path in ("/healthz%00", "/healthz%00junk", "/v1/plans%0a", "/v1/plans%7f"):
        r = s().get(url + path)
        assert r.status_code == 400, (path, r.status_code)
        assert r.headers["Content-Type"].startswith(PROBLEM)
    p = new_project(url, "f2")
    r = s().patch(f"{url}/v1/projects/{p['id']}%00junk", json={"description": "changed"},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 400
    assert s().get(f"{url}/v1/projects/{p['id']}").json()["description"] == ""
    assert s().get(url + "/healthz").status_code == 200


# F3: every plan parameter against its type; references in the same project
def test_f3_run_parameters(d):
    url = d.url
    p = new_project(url, "f3")
    other = new_project(url, "f3-other")
    inst = s().post(f"{url}/v1/projects/{other['id']}/replication-instances",
                    json={"name": "ri"}).json()

    def create(params, plan="oracle-to-postgres"):
        return s().post(f"{url}/v1/projects/{p['id']}/runs", json={
            "plan": plan, "engine": "test", "parameters": params})
    for bad, where in [
            ({"replication_instance_id": "ri_nope"}, "/parameters/replication_instance_id"),
            ({"replication_instance_id": inst["id"]}, "/parameters/replication_instance_id"),
            ({"schemas": [1, None, ["x"]]}, "/parameters/schemas/0"),
            ({"schemas": []}, "/parameters/schemas"),
            ({"schemas": ["a", "a"]}, "/parameters/schemas/1"),
            ({"schemas": ["x" * 64]}, "/parameters/schemas/0"),
            ({"task_id": "tsk_nope"}, "/parameters/task_id"),
            ({"max_attempts": "5"}, "/parameters/max_attempts")]:
        r = create(bad)
        assert r.status_code == 400, (bad, r.text)
        assert where in field_pointers(r), (bad, r.json())
    view = {"source_table": {"schema": "s", "name": "t"},
            "remote_table": {"schema": "s", "name": "r"},
            "view": {"name": "v", "keys": [{"left": "a", "right": "b"}],
                     "columns": [{"side": "left", "column": "a"}]},
            "final_table": {"name": "f", "key": ["a"]}}
    assert create(view, "view-migration").status_code == 201
    for key, bad, where in [
            ("source_table", {"name": 3}, "/parameters/source_table/name"),
            ("remote_table", {"schema": "s"}, "/parameters/remote_table/name"),
            ("view", dict(view["view"], join="cross"), "/parameters/view/join"),
            ("view", dict(view["view"], keys=[{"left": "a"}]), "/parameters/view/keys/0/right"),
            ("view", dict(view["view"], columns=[{"side": "up", "column": "a"}]),
             "/parameters/view/columns/0/side"),
            ("final_table", {"name": "f", "key": []}, "/parameters/final_table/key")]:
        r = create(dict(view, **{key: bad}), "view-migration")
        assert r.status_code == 400, (key, r.text)
        assert where in field_pointers(r), (key, r.json())
    # a replication instance of the same project is accepted
    mine = s().post(f"{url}/v1/projects/{p['id']}/replication-instances",
                    json={"name": "ri"}).json()
    assert create({"replication_instance_id": mine["id"]}).status_code == 201


def nested(depth):
    doc = {}
    for _ in range(depth - 1):
        doc = {"a": doc}
    return doc


# F4: one nesting limit (64 levels) for every body; 400 beyond, never 409
def test_f4_nesting_limit(d):
    url = d.url
    p = new_project(url, "f4")
    r = s().post(f"{url}/v1/projects/{p['id']}/runs", json={
        "plan": "oracle-to-postgres", "engine": "test",
        "parameters": {"test": nested(62)}})
    assert r.status_code == 201, r.text  # body, parameters, test: 64 levels in all
    for depth in (62, 1995):  # 65 levels and more
        # built as text: Python's encoder does not go that deep
        body = ('{"plan":"oracle-to-postgres","engine":"test","parameters":{"test":' +
                '{"a":' * depth + '{}' + '}' * depth + '}}')
        r = s().post(f"{url}/v1/projects/{p['id']}/runs", data=body,
                     headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.headers["Content-Type"].startswith(PROBLEM)
        assert "64" in r.json()["errors"][0]["detail"]
        assert r.json()["errors"][0]["pointer"].startswith("/parameters/test/a/a")
        assert "SQLite" not in r.text and "json_valid" not in r.text


# F5: lengths count characters
def test_f5_lengths_in_characters(d):
    url = d.url
    assert s().post(url + "/v1/projects", json={"name": "é" * 128}).status_code == 201
    r = s().post(url + "/v1/projects", json={"name": "é" * 129})
    assert r.status_code == 400 and field_pointers(r) == ["/name"]
    assert "128 characters" in r.json()["errors"][0]["detail"]
    assert s().post(url + "/v1/projects", json={"name": "😀" * 128}).status_code == 201


# F6: HEAD wherever GET
def test_f6_head(d):
    url = d.url
    p = new_project(url, "f6")
    for path in ("/healthz", "/v1/plans", "/v1/projects", f"/v1/projects/{p['id']}",
                 "/openapi.json", "/metrics"):
        g = s().get(url + path)
        h = s().head(url + path)
        assert h.status_code == 200, (path, h.status_code)
        assert h.content == b""
        assert h.headers["Content-Type"] == g.headers["Content-Type"]
    assert s().head(f"{url}/v1/projects/prj_{'a' * 26}").status_code == 404
    r = s().put(url + "/v1/plans")
    assert r.status_code == 405 and "HEAD" in r.headers["Allow"]


# F7: libmicrohttpd 0.9.75 writes these answers itself and has no hook for
# their bodies (they are compiled-in HTML): the status is right, the media
# type is not. Kept as an expected failure until the library offers one.
@pytest.mark.xfail(strict=True, reason="libmicrohttpd 0.9.75 has no hook for its own "
                   "error bodies (docs/api.md)")
def test_f7_library_errors_as_problem_json(d):
    out = raw(d.port, b"GARBAGE\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")
    assert b"application/problem+json" in out


# F8: an announced body over --max-body is refused from the headers
def test_f8_oversized_content_length(d):
    t0 = time.monotonic()
    out = raw(d.port, b"POST /v1/projects HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + TOKEN.encode() +
              b"\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000000000000\r\n\r\n{", timeout=4)
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    assert b"application/problem+json" in out
    assert time.monotonic() - t0 < 3
    out = raw(d.port, b"POST /v1/projects HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + TOKEN.encode() +
              b"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
              b"Content-Length: 2000000\r\n\r\n", timeout=4)
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    assert b"100 Continue" not in out


# F9: strict header and query parsing; filters that name nothing; null
def test_f9_strict_parsing(d):
    url = d.url
    p = new_project(url, "f9")
    pid = p["id"]
    patch = {"Content-Type": "application/merge-patch+json"}
    for tag in ('"+1"', '" 1"', 'W/"+1"', '"1 "', '"01x"', '""', '"-1"'):
        r = s().patch(f"{url}/v1/projects/{pid}", json={"description": "x"},
                      headers=dict(patch, **{"If-Match": tag}))
        assert r.status_code == 412, (tag, r.status_code)
    assert s().get(f"{url}/v1/projects/{pid}").json()["description"] == ""
    assert s().patch(f"{url}/v1/projects/{pid}", json={"description": "x"},
                     headers=dict(patch, **{"If-Match": 'W/"1"'})).status_code == 200
    for last in ("", "-0", "+1", "1x", "1 2"):
        r = s().get(url + "/v1/events", headers={"Last-Event-ID": last})
        assert r.status_code == 400, (last, r.status_code)
        assert "Last-Event-ID" in [e.get("header") for e in r.json()["errors"]]
    for q in ("+1", "-0", " 2"):
        assert s().get(url + "/v1/events", params={"after": q}).status_code == 400
        assert s().get(url + "/v1/events", params={"limit": q}).status_code == 400
    assert s().get(url + "/v1/events", params={"run_id": "x"}).status_code == 404
    assert s().get(url + "/v1/events", params={"project_id": "x"}).status_code == 404
    assert s().get(url + "/v1/events", params={"project_id": pid}).status_code == 200
    r = s().post(url + "/v1/projects", json={"name": "f9-null", "description": None})
    assert r.status_code == 400 and field_pointers(r) == ["/description"]
    r = s().post(f"{url}/v1/projects/{pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": None, "parameters": {}})
    assert r.status_code == 400 and "/engine" in field_pointers(r)
    for scheme in ("bearer", "BEARER", "Bearer"):
        r = requests.get(url + "/v1/plans", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert r.status_code == 200, (scheme, r.status_code)


# F10: a taken name names the field and the resource holding it
def test_f10_conflict_names_field_and_resource(d):
    url = d.url
    p = new_project(url, "f10")
    r = s().post(url + "/v1/projects", json={"name": "f10"})
    assert r.status_code == 409
    body = r.json()
    assert "UNIQUE" not in r.text and "constraint" not in r.text.lower()
    assert p["id"] in body["detail"], body
    assert field_pointers(r) == ["/name"]
    q = new_project(url, "f10-b")
    r = s().patch(f"{url}/v1/projects/{q['id']}", json={"name": "f10"},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 409 and p["id"] in r.json()["detail"], r.text
    assert field_pointers(r) == ["/name"]
