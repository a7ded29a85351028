"""The attacks of the security review (issue 16), each shown failing over HTTP
against the real daemon.

Finding 1: a daemon without tokens is driven by a web page (DNS rebinding,
blind cross-site POSTs).
"""
import os
import signal
import subprocess

import requests

from daemon import BINARY, Daemon, wait_until


def projects(d):
    return [p["name"] for p in requests.get(d.url + "/v1/projects").json()["items"]]


def test_rebinding_host_is_misdirected(daemon):
    port = daemon.port
    # a page at http://evil.example:<port>/ whose name now resolves to 127.0.0.1
    for host in [f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}",
                 f"localhost.evil.example:{port}", ""]:
        r = requests.get(daemon.url + "/v1/projects", headers={"Host": host})
        assert r.status_code == 421, (host, r.status_code, r.text)
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["errors"] == [{"header": "Host",
                                       "detail": "must name the listen address"}]
        r = requests.post(daemon.url + "/v1/projects", json={"name": "rebound"},
                          headers={"Host": host})
        assert r.status_code == 421
    for host in [f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}",
                 f"[::1]:{port}"]:
        r = requests.get(daemon.url + "/v1/projects", headers={"Host": host})
        assert r.status_code == 200, (host, r.text)
    assert projects(daemon) == []


def test_cross_site_posts_are_refused(daemon):
    url = daemon.url
    # an HTML form or fetch(no-cors) can only send these media types
    for ctype in ["text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", None]:
        headers = {"Content-Type": ctype} if ctype else {}
        r = requests.post(url + "/v1/projects", data=b'{"name":"csrf"}', headers=headers)
        assert r.status_code == 415, (ctype, r.text)
        assert r.json()["errors"][0]["header"] == "Content-Type"
    assert projects(daemon) == []
    # JSON with a charset parameter is JSON
    r = requests.post(url + "/v1/projects", data=b'{"name":"ok"}',
                      headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    # PATCH takes merge patches as such, and as application/json
    r = requests.patch(f"{url}/v1/projects/{pid}", data=b'{"description":"a"}',
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["description"] == "a"
    r = requests.patch(f"{url}/v1/projects/{pid}", data=b'{"description":"b"}',
                       headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    # merge-patch is for PATCH only
    r = requests.post(url + "/v1/projects", data=b'{"name":"mp"}',
                      headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 415
    # a body-less cross-site POST (no preflight) carries the page's Origin
    r = requests.delete(f"{url}/v1/projects/{pid}",
                        headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["errors"][0]["header"] == "Origin"
    r = requests.delete(f"{url}/v1/projects/{pid}", headers={"Origin": "null"})
    assert r.status_code == 403
    assert projects(daemon) == ["ok"]
    # the daemon's own origin (a page it serves) may
    r = requests.delete(f"{url}/v1/projects/{pid}", headers={"Origin": url})
    assert r.status_code == 204
    assert projects(daemon) == []
    # reads carry no CORS headers without tokens: another page cannot read them
    r = requests.get(url + "/v1/projects", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_without_tokens_cors_refused_and_warned(tmp_path):
    r = subprocess.run([BINARY, "--listen", "127.0.0.1:0", "--db", str(tmp_path / "x.db"),
                        "--cors-origins", "https://portal.example"],
                       capture_output=True, timeout=10)
    assert r.returncode != 0
    assert b"--cors-origins needs --tokens-file" in r.stderr
    d = Daemon(tmp_path).start()
    try:
        assert "every local process and user that can reach" in d.log()
    finally:
        assert d.stop() == 0


# Finding 2: an endpoint's password follows a changed host.

def make_endpoint(url, **kw):
    p = requests.post(url + "/v1/projects", json={"name": "p"}).json()
    body = {"name": "src", "role": "source", "engine": "postgres", "host": "127.0.0.1",
            "database": "db1", "username": "migrator", "password": "s3cret:pw"}
    body.update(kw)
    r = requests.post(f"{url}/v1/projects/{p['id']}/endpoints", json=body)
    assert r.status_code == 201, r.text
    return p, r.json()


def test_destination_change_needs_the_password_again(daemon):
    url = daemon.url
    _, e = make_endpoint(url)
    u = f"{url}/v1/endpoints/{e['id']}"
    before = requests.get(u)
    for change in [{"host": "attacker.example"}, {"port": 6543}, {"database": "other"},
                   {"username": "postgres"}, {"sslmode": "disable"},
                   {"host": "attacker.example", "sslmode": "disable"}]:
        r = requests.patch(u, json=change)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["errors"][0]["pointer"] == "/password"
        for k in change:
            assert k in r.json()["detail"]
        after = requests.get(u)
        assert after.json() == before.json() and after.headers["ETag"] == before.headers["ETag"]
    # other members change without it; with the password the host may change
    r = requests.patch(u, json={"extra_connection_attributes": "x=1"})
    assert r.status_code == 200
    r = requests.patch(u, json={"host": "db2.internal", "password": "new-pw"})
    assert r.status_code == 200 and r.json()["host"] == "db2.internal"
    assert r.json()["password_set"] is True


def test_idempotency_fingerprint_is_keyed(daemon):
    import hashlib
    import sqlite3
    url = daemon.url
    body = b'{"name":"idem"}'
    r = requests.post(url + "/v1/projects", data=body, headers={
        "Content-Type": "application/json", "Idempotency-Key": "k1"})
    assert r.status_code == 201
    with sqlite3.connect(daemon.db) as db:
        (stored,) = db.execute("SELECT body_sha256 FROM idempotency_keys").fetchone()
    plain = hashlib.sha256(b"POST\0/v1/projects\0" + body).hexdigest()
    assert len(stored) == 64 and stored != plain
    r2 = requests.post(url + "/v1/projects", data=body, headers={
        "Content-Type": "application/json", "Idempotency-Key": "k1"})
    assert r2.status_code == 201 and r2.headers["Idempotent-Replayed"] == "true"


def test_rotate_key(tmp_path):
    import sqlite3
    d = Daemon(tmp_path).start()
    _, e = make_endpoint(d.url)
    key_file = d.db + ".key"
    assert d.stop() == 0
    old = open(key_file, "rb").read()

    def rotate(new):
        return subprocess.run([BINARY, "--db", d.db, "--rotate-key", str(new)],
                              capture_output=True, text=True, timeout=30)
    r = rotate(tmp_path / "new.key")
    assert r.returncode == 0, r.stderr
    assert "re-encrypted 1 secrets" in r.stdout
    assert not (tmp_path / "new.key").exists()
    new = open(key_file, "rb").read()
    assert len(new) == 32 and new != old
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    # every secret opened under the new key: a second rotation succeeds
    r = rotate(tmp_path / "newer.key")
    assert r.returncode == 0 and "re-encrypted 1 secrets" in r.stdout, r.stderr
    # a destination edited in the file no longer opens: rotation refuses it
    with sqlite3.connect(d.db) as db:
        db.execute("UPDATE resources SET doc = json_set(doc, '$.host', 'evil.example')"
                   " WHERE id = ?", (e["id"],))
    current = open(key_file, "rb").read()
    r = rotate(tmp_path / "third.key")
    assert r.returncode != 0 and e["id"] in r.stderr and "nothing was" in r.stderr
    assert open(key_file, "rb").read() == current
    # the daemon starts on the rotated key
    d.start()
    assert requests.get(f"{d.url}/v1/endpoints/{e['id']}").json()["password_set"]
    assert d.stop() == 0


# Finding 3: operator-supplied SQL runs as the target's superuser, unreviewed.

TOKENS = {"viewer": ("tok-v", "viewer"), "operator": ("tok-o", "operator"),
          "admin": ("tok-a", "admin"), "admin2": ("tok-a2", "admin")}


def tokens_file(tmp_path, tokens=TOKENS):
    import hashlib
    path = tmp_path / "tokens"
    path.write_text("".join(f"{hashlib.sha256(t.encode()).hexdigest()} {role} {name}\n"
                            for name, (t, role) in tokens.items()))
    path.chmod(0o600)
    return str(path)


def session(token_name):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {TOKENS[token_name][0]}"
    return s


def test_sql_needs_admin_and_a_review(tmp_path):
    import hashlib
    from daemon import TEST_BINARY, wait_until
    sql = ("CREATE TABLE t (id int PRIMARY KEY);\n"
           "DO $$ BEGIN RAISE EXCEPTION '%', (SELECT string_agg(subconninfo, ';') "
           "FROM pg_subscription); END $$;\n-- naïve UTF-8 ✓\n")
    digest = hashlib.sha256(sql.encode()).hexdigest()
    d = Daemon(tmp_path, tokens_file=tokens_file(tmp_path), binary=TEST_BINARY,
               args=["--separate-approver"]).start()
    try:
        url = d.url
        admin, admin2, op = session("admin"), session("admin2"), session("operator")
        pid = op.post(url + "/v1/projects", json={"name": "p"}).json()["id"]
        body = {"plan": "oracle-to-postgres", "engine": "test",
                "parameters": {"converted_schema_sql": sql, "test": {"step_ms": 5}}}
        r = op.post(f"{url}/v1/projects/{pid}/runs", json=body)
        assert r.status_code == 403 and "converted_schema_sql" in r.json()["detail"]
        assert op.get(f"{url}/v1/projects/{pid}/runs").json()["items"] == []
        r = admin.post(f"{url}/v1/projects/{pid}/runs", json=body)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        run_url = f"{url}/v1/runs/{rid}"

        def at_review():
            run = admin.get(run_url).json()
            return run if run["state"] == "awaiting_approval" else None
        run = wait_until(at_review, 30, what="review_schema awaiting approval")
        steps = {s["id"]: s["state"] for s in run["steps"]}
        assert steps["review_schema"] == "awaiting_approval"
        assert steps["convert_schema"] == "pending"
        # the artifact is the exact SQL; its event carries the SHA-256
        art = op.get(f"{run_url}/artifacts/review_schema.sql")
        assert art.status_code == 200 and art.content == sql.encode()
        evs = op.get(f"{run_url}/events", params={"type": "artifact.created"}).json()
        assert [e["data"]["sha256"] for e in evs["items"]
                if e["data"]["name"] == "review_schema.sql"] == [digest]
        approve = f"{run_url}/steps/review_schema/approve"
        # refused: an operator, no hash, a wrong hash, the run's own creator
        r = op.post(approve, json={"sha256": digest})
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        r = admin2.post(approve)
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/sha256"
        r = admin2.post(approve, json={"sha256": hashlib.sha256(b"other").hexdigest()})
        assert r.status_code == 422 and "does not match" in r.json()["errors"][0]["detail"]
        r = admin.post(approve, json={"sha256": digest})
        assert r.status_code == 403 and "separate-approver" in r.json()["detail"]
        run = admin.get(run_url).json()
        assert run["state"] == "awaiting_approval"
        assert {s["id"]: s["state"] for s in run["steps"]}["convert_schema"] == "pending"
        # another admin who quotes the hash approves it; the run goes on
        r = admin2.post(approve, json={"sha256": digest.upper()})
        assert r.status_code == 200, r.text
        review = [s for s in r.json()["steps"] if s["id"] == "review_schema"][0]
        assert review["state"] == "succeeded" and review["approved_by"] == "admin2"

        def at_cutover():
            run = at_review()
            return run if run and run["current_step"] == "cutover_gate" else None
        wait_until(at_cutover, 30, what="cutover_gate awaiting approval")
        r = admin.post(f"{run_url}/steps/cutover_gate/approve")
        assert r.status_code == 403
        r = op.post(f"{run_url}/steps/cutover_gate/approve")
        assert r.status_code == 200, r.text
        wait_until(lambda: admin.get(run_url).json()["state"] == "succeeded", 30,
                   what="run succeeded")
        # every approval is in the audit trail (refused attempts are not)
        evs = admin.get(f"{run_url}/events", params={"type": "audit.run.approve"}).json()
        assert [(e["data"]["step"], e["data"]["actor"]) for e in evs["items"]] == \
            [("review_schema", "admin2"), ("cutover_gate", "operator")]
    finally:
        assert d.stop() == 0, d.log()


# Finding 5: no audit trail.

def test_audit_events_name_who_changed_what(tmp_path):
    d = Daemon(tmp_path, tokens_file=tokens_file(tmp_path)).start()
    try:
        url = d.url
        admin, op, viewer = session("admin"), session("operator"), session("viewer")
        r = op.post(url + "/v1/projects", json={"name": "p"})
        pid, created_rid = r.json()["id"], r.headers["X-Request-Id"]
        body = {"name": "src", "role": "source", "engine": "postgres", "host": "h1",
                "database": "db1", "username": "u", "password": "first-Secret-1"}
        eid = admin.post(f"{url}/v1/projects/{pid}/endpoints", json=body).json()["id"]
        r = admin.patch(f"{url}/v1/endpoints/{eid}",
                        json={"host": "h2", "password": "second-Secret-2"})
        assert r.status_code == 200
        patch_rid = r.headers["X-Request-Id"]
        assert op.patch(f"{url}/v1/projects/{pid}", json={"description": "x"}).status_code == 200
        assert admin.delete(f"{url}/v1/endpoints/{eid}").status_code == 204
        # admins only
        for s in (viewer, op):
            assert s.get(url + "/v1/events", params={"type": "audit.*"}).status_code == 403
            assert s.get(url + "/v1/events",
                         params={"type": "audit.project.create"}).status_code == 403
            r = s.get(url + "/v1/events", params={"limit": 1000})
            assert r.status_code == 200
            assert not [e for e in r.json()["items"] if e["type"].startswith("audit.")]
        assert viewer.get(url + "/v1/events", params={"type": "!audit.*"}).status_code == 400
        r = admin.get(url + "/v1/events", params={"type": "audit.*", "limit": 1000})
        assert r.status_code == 200
        events = r.json()["items"]
        assert [e["type"] for e in events] == [
            "audit.project.create", "audit.endpoint.create", "audit.endpoint.update",
            "audit.project.update", "audit.endpoint.delete"]
        by_type = {e["type"]: e for e in events}
        c = by_type["audit.project.create"]["data"]
        assert (c["actor"], c["role"], c["address"], c["request_id"]) == \
            ("operator", "operator", "127.0.0.1", created_rid)
        assert by_type["audit.project.create"]["project_id"] == pid
        u = by_type["audit.endpoint.update"]["data"]
        assert u["actor"] == "admin" and u["id"] == eid and u["request_id"] == patch_rid
        assert sorted(u["fields"]) == ["host", "password"]
        assert "password" in by_type["audit.endpoint.create"]["data"]["fields"]
        assert by_type["audit.project.update"]["data"]["fields"] == ["description"]
        assert by_type["audit.endpoint.delete"]["data"]["id"] == eid
        # never a secret's value, anywhere in the log
        every = admin.get(url + "/v1/events", params={"limit": 1000}).text
        assert "first-Secret-1" not in every and "second-Secret-2" not in every
        assert d.stop() == 0
        assert "first-Secret-1" not in d.log() and "second-Secret-2" not in d.log()
    finally:
        d.kill9()


# Finding 4: unauthenticated clients hold every slot; viewers open every stream.

def connect_from(port, source, timeout=5):
    import socket
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def open_stream(port, source, token):
    """An event stream over a raw socket from source; returns (socket,
    status, headers text)."""
    s = connect_from(port, source)
    s.sendall((f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    text = head.decode("latin-1")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
    return s, status, text


def closed_by_server(s, deadline):
    """True once the server closed s (before deadline, a monotonic time)."""
    import socket
    import time
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


LIMIT_TOKENS = dict(TOKENS, **{f"viewer{i}": (f"tok-v{i}", "viewer") for i in range(4)})


def test_limits_keep_the_daemon_serving(tmp_path):
    import time
    from daemon import TEST_BINARY, wait_until
    path = tokens_file(tmp_path, LIMIT_TOKENS)
    d = Daemon(tmp_path, tokens_file=path, binary=TEST_BINARY,
               args=["--max-connections-per-address", "150", "--max-streams-per-token", "50",
                     "--max-streams", "230", "--rate-limit", "5"]).start()
    socks = []
    try:
        url, port = d.url, d.port
        # 2,000 idle unauthenticated connections, 50 from each of 40 addresses
        for i in range(2000):
            socks.append(connect_from(port, f"127.0.0.{2 + i // 50}"))
        # one address gets 150 connections, no more: the rest are closed
        extra = [connect_from(port, "127.0.0.250") for _ in range(160)]
        socks += extra
        deadline = time.monotonic() + 10
        closed = sum(closed_by_server(s, deadline) for s in extra[150:])
        # libmicrohttpd's pool threads count per address under a lock but
        # may admit one connection over the cap when two accept at once
        assert closed >= 9, closed
        assert not closed_by_server(extra[0], time.monotonic() + 0.5)
        # 200 viewer streams (4 tokens x 50), from other addresses
        for i in range(200):
            s, status, head = open_stream(port, f"127.0.1.{1 + i // 50}",
                                          LIMIT_TOKENS[f"viewer{i // 50}"][0])
            assert status == 200, head
            socks.append(s)
        # a token's 51st stream: 429; the daemon's 231st: 503; both Retry-After
        s, status, head = open_stream(port, "127.0.1.9", LIMIT_TOKENS["viewer0"][0])
        assert status == 429 and "Retry-After:" in head, head
        s.close()
        for i in range(30):
            s, status, head = open_stream(port, "127.0.1.10", LIMIT_TOKENS["admin"][0])
            assert status == 200, (i, head)
            socks.append(s)
        s, status, head = open_stream(port, "127.0.1.10", LIMIT_TOKENS["admin"][0])
        assert status == 503 and "Retry-After:" in head, head
        s.close()
        # the daemon still answers, and a run completes
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
        op = session("operator")
        pid = op.post(url + "/v1/projects", json={"name": "p"}).json()["id"]
        r = op.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "test",
            "parameters": {"test": {"step_ms": 5}}})
        assert r.status_code == 201, r.text
        run_url = f"{url}/v1/runs/{r.json()['id']}"
        wait_until(lambda: op.get(run_url).json()["state"] == "awaiting_approval", 30,
                   what="cutover gate")
        assert op.post(f"{run_url}/steps/cutover_gate/approve").status_code == 200
        wait_until(lambda: op.get(run_url).json()["state"] == "succeeded", 30,
                   what="run succeeded")
        # a token's changes are rate limited (5/s, bursts of 10)
        admin = session("admin")
        codes = [admin.patch(f"{url}/v1/projects/{pid}", json={"description": str(i)})
                 for i in range(25)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and all(int(r.headers["Retry-After"]) >= 1 for r in limited)
        assert codes[0].status_code == 200
        # failed sign-ins are throttled per address: 100 a minute
        bad = requests.Session()
        bad.headers["Authorization"] = "Bearer wrong"
        statuses = [bad.get(url + "/v1/projects").status_code for _ in range(101)]
        assert statuses[:100] == [401] * 100 and statuses[100] == 429
        r = session("viewer").get(url + "/v1/projects")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert requests.get(url + "/healthz").status_code == 200
    finally:
        for s in socks:
            s.close()
        assert d.stop() == 0, d.log()[-3000:]


# Finding 6: tokens file permissions, reload, unique names, expiry, scope.

def write_tokens(path, lines, mode=0o600):
    import hashlib
    path.write_text("".join(f"{hashlib.sha256(t.encode()).hexdigest()} {rest}\n"
                            for t, rest in lines))
    path.chmod(mode)


def start_fails(tmp_path, tokens):
    r = subprocess.run([BINARY, "--listen", "127.0.0.1:0", "--db", str(tmp_path / "x.db"),
                        "--tokens-file", str(tokens)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode != 0
    return r.stderr


def test_tokens_file_checks(tmp_path):
    tokens = tmp_path / "tokens"
    write_tokens(tokens, [("a", "admin alice")], mode=0o620)
    assert "writable by group or others" in start_fails(tmp_path, tokens)
    write_tokens(tokens, [("a", "admin alice")], mode=0o602)
    assert "writable by group or others" in start_fails(tmp_path, tokens)
    write_tokens(tokens, [("a", "admin alice"), ("b", "viewer alice")])
    assert "line 2: the name 'alice' is already used" in start_fails(tmp_path, tokens)
    write_tokens(tokens, [("a", "admin alice expires=tomorrow")])
    assert "expires=" in start_fails(tmp_path, tokens)


def test_token_expiry_and_project_scope(tmp_path):
    tokens = tmp_path / "tokens"
    write_tokens(tokens, [("adm", "admin root"), ("old", "admin old expires=2001-01-01"),
                          ("new", "viewer new expires=2999-12-31T00:00:00Z")])
    d = Daemon(tmp_path, tokens_file=str(tokens)).start()
    try:
        url = d.url
        h = {"adm": {"Authorization": "Bearer adm"}}
        r = requests.get(url + "/v1/projects", headers={"Authorization": "Bearer old"})
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        assert requests.get(url + "/v1/projects",
                            headers={"Authorization": "Bearer new"}).status_code == 200
        p1 = requests.post(url + "/v1/projects", json={"name": "p1"}, headers=h["adm"]).json()
        p2 = requests.post(url + "/v1/projects", json={"name": "p2"}, headers=h["adm"]).json()
        ep = {"name": "e", "role": "source", "engine": "postgres", "host": "h",
              "database": "d", "username": "u", "password": "pw"}
        e2 = requests.post(f"{url}/v1/projects/{p2['id']}/endpoints", json=ep,
                           headers=h["adm"]).json()
        e1 = requests.post(f"{url}/v1/projects/{p1['id']}/endpoints", json=ep,
                           headers=h["adm"]).json()
        write_tokens(tokens, [("adm", "admin root"),
                              ("scoped", f"admin scoped project={p1['id']}")])
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded 2 tokens" in d.log(), 10, what="reload")
        s = {"Authorization": "Bearer scoped"}
        ok = [f"/v1/projects/{p1['id']}", f"/v1/projects/{p1['id']}/endpoints",
              f"/v1/endpoints/{e1['id']}", f"/v1/events?project_id={p1['id']}",
              f"/v1/runs?project_id={p1['id']}", "/v1/plans"]
        refused = ["/v1/projects", f"/v1/projects/{p2['id']}",
                   f"/v1/projects/{p2['id']}/endpoints", f"/v1/endpoints/{e2['id']}",
                   "/v1/events", f"/v1/events?project_id={p2['id']}",
                   "/v1/runs", f"/v1/runs?project_id={p2['id']}"]
        for path in ok:
            assert requests.get(url + path, headers=s).status_code == 200, path
        for path in refused:
            r = requests.get(url + path, headers=s)
            assert r.status_code == 403 and p1["id"] in r.json()["detail"], path
        r = requests.patch(f"{url}/v1/endpoints/{e2['id']}", json={"name": "x"}, headers=s)
        assert r.status_code == 403
        r = requests.post(url + "/v1/projects", json={"name": "p3"}, headers=s)
        assert r.status_code == 403
        assert requests.get(f"{url}/v1/endpoints/{e2['id']}",
                            headers=h["adm"]).json()["name"] == "e"
    finally:
        assert d.stop() == 0, d.log()[-2000:]


def test_sighup_reload_keeps_streams(tmp_path):
    tokens = tmp_path / "tokens"
    write_tokens(tokens, [("tok-a", "admin a"), ("tok-b", "viewer b")])
    d = Daemon(tmp_path, tokens_file=str(tokens)).start()
    try:
        url = d.url
        stream, status, head = open_stream(d.port, "127.0.0.1", "tok-a")
        assert status == 200, head
        write_tokens(tokens, [("tok-a", "admin a"), ("tok-c", "viewer c")])
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded 2 tokens" in d.log(), 10, what="reload")
        assert requests.get(url + "/v1/plans",
                            headers={"Authorization": "Bearer tok-b"}).status_code == 401
        assert requests.get(url + "/v1/plans",
                            headers={"Authorization": "Bearer tok-c"}).status_code == 200
        # a file that became unsafe is refused and the tokens stay
        tokens.chmod(0o666)
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "keeping the current tokens" in d.log(), 10, what="refusal")
        assert requests.get(url + "/v1/plans",
                            headers={"Authorization": "Bearer tok-c"}).status_code == 200
        # the stream opened before both reloads still delivers events
        r = requests.post(url + "/v1/projects", json={"name": "after-reload"},
                          headers={"Authorization": "Bearer tok-a"})
        assert r.status_code == 201
        stream.settimeout(10)
        seen = b""
        while b"audit.project.create" not in seen:
            chunk = stream.recv(65536)
            assert chunk, "the stream was closed"
            seen += chunk
        stream.close()
    finally:
        assert d.stop() == 0, d.log()[-2000:]


# Built-in TLS (docs/operations.md: behind a proxy or with built-in TLS).

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def start_https(tmp_path, *args):
    """cutoverd with extra args on a port it picks; waits for an HTTPS
    /healthz trusting server.pem. Returns (process, url)."""
    import time
    port_file = tmp_path / "port"
    log = open(tmp_path / "cutoverd.log", "ab")
    proc = subprocess.Popen([BINARY, "--listen", "127.0.0.1:0", "--port-file", str(port_file),
                             "--db", str(tmp_path / "c.db"), *args], stdout=log, stderr=log)
    deadline = time.monotonic() + 15
    while not port_file.exists():
        assert proc.poll() is None and time.monotonic() < deadline, \
            (tmp_path / "cutoverd.log").read_text()
        time.sleep(0.05)
    return proc, f"https://127.0.0.1:{port_file.read_text().strip()}"


def test_https_with_a_self_signed_certificate(tmp_path):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"]
    openssl("req", "-x509", *ec, "-keyout", "server.key", "-out", "server.pem",
            "-subj", "/CN=cutoverd", "-addext", "subjectAltName=IP:127.0.0.1", cwd=tmp_path)
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=ops-ca",
            cwd=tmp_path)
    openssl("req", *ec[:-2], "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=alice", cwd=tmp_path)
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.pem", "-days", "2", cwd=tmp_path)
    os.chmod(tmp_path / "server.key", 0o600)
    cert, key = str(tmp_path / "server.pem"), str(tmp_path / "server.key")
    proc, url = start_https(tmp_path, "--tls-cert", cert, "--tls-key", key)
    try:
        wait_until(lambda: requests.get(url + "/healthz", verify=cert, timeout=2)
                   .status_code == 200, 15, what="HTTPS /healthz")
        r = requests.post(url + "/v1/projects", json={"name": "tls"}, verify=cert, timeout=5)
        assert r.status_code == 201
        # the certificate is the one configured; plain HTTP gets nothing
        out = subprocess.run(["openssl", "s_client", "-connect", url[8:], "-CAfile", cert],
                             input=b"", capture_output=True, timeout=20).stdout
        assert b"Verify return code: 0 (ok)" in out and b"CN = cutoverd" in out
        try:
            plain = requests.get(url.replace("https", "http") + "/healthz", timeout=5)
            assert plain.status_code != 200
        except requests.RequestException:
            pass
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    # mutual TLS: a client certificate from the CA is required
    tmp2 = tmp_path / "mtls"
    tmp2.mkdir()
    proc, url = start_https(tmp2, "--tls-cert", cert, "--tls-key", key,
                            "--tls-client-ca", str(tmp_path / "ca.pem"))
    try:
        client = (str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
        wait_until(lambda: requests.get(url + "/healthz", verify=cert, cert=client,
                                        timeout=2).status_code == 200, 15, what="mTLS")
        try:
            r = requests.get(url + "/healthz", verify=cert, timeout=5)
            assert r.status_code == 401, r.text
        except requests.exceptions.SSLError:
            pass  # refused in the handshake is as good
        stranger = tmp_path / "stranger"
        stranger.mkdir()
        openssl("req", "-x509", *ec, "-keyout", "s.key", "-out", "s.pem", "-subj", "/CN=eve",
                cwd=stranger)
        try:
            r = requests.get(url + "/healthz", verify=cert, timeout=5,
                             cert=(str(stranger / "s.pem"), str(stranger / "s.key")))
            assert r.status_code == 401, r.text
        except requests.exceptions.SSLError:
            pass
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


# Finding 7: TLS defaults, the DMS endpoint, identifiers with control characters.

def test_tls_defaults_and_plain_http_dms_endpoint(daemon, tmp_path):
    url = daemon.url
    pid = requests.post(url + "/v1/projects", json={"name": "p"}).json()["id"]
    base = {"role": "source", "engine": "postgres", "database": "d", "username": "u",
            "password": "pw"}
    remote = requests.post(f"{url}/v1/projects/{pid}/endpoints",
                           json=dict(base, name="remote", host="db.internal")).json()
    assert remote["sslmode"] == "verify-full"
    local = requests.post(f"{url}/v1/projects/{pid}/endpoints",
                          json=dict(base, name="local", host="127.0.0.1")).json()
    assert local["sslmode"] == "prefer"
    r = requests.post(f"{url}/v1/projects/{pid}/endpoints",
                      json=dict(base, name="ca", host="db2.internal",
                                sslrootcert="/etc/ssl/certs/db-ca.pem"))
    assert r.status_code == 201 and r.json()["sslrootcert"] == "/etc/ssl/certs/db-ca.pem"
    # the root certificate is part of the destination the password is bound to
    r = requests.patch(f"{url}/v1/endpoints/{r.json()['id']}",
                       json={"sslrootcert": "/tmp/attacker-ca.pem"})
    assert r.status_code == 422
    for bad in ["http://10.0.0.5:8080", "http://127.evil.example/", "ftp://127.0.0.1/"]:
        p = subprocess.run([BINARY, "--listen", "127.0.0.1:0", "--db", str(tmp_path / "x.db"),
                            "--dms-endpoint", bad], capture_output=True, text=True,
                           timeout=10)
        assert p.returncode != 0 and "--dms-endpoint must be an https://" in p.stderr, bad


def test_identifiers_with_control_characters_are_refused(daemon):
    url = daemon.url
    pid = requests.post(url + "/v1/projects", json={"name": "p"}).json()["id"]
    r = requests.post(url + "/v1/projects", json={"name": "evil\nname"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/name"
    ep = {"name": "e", "role": "source", "engine": "oracle", "host": "h",
          "database": "ORCL", "username": "DMS\u001bUSER", "password": "pw\nwith newline"}
    r = requests.post(f"{url}/v1/projects/{pid}/endpoints", json=ep)
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == ["/username"]
    rule = {"rule-type": "selection", "rule-id": "1", "rule-name": "r",
            "object-locator": {"schema-name": "HR\r\nGRANT DBA TO X", "table-name": "%"},
            "rule-action": "include"}
    r = requests.post(f"{url}/v1/projects/{pid}/tasks", json={
        "name": "t", "source_endpoint_id": "ept_x", "target_endpoint_id": "ept_y",
        "table_mappings": {"rules": [rule]}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == \
        "/table_mappings/rules/0/object-locator/schema-name"
    r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": {"schemas": ["public", "x\ty"]}})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/parameters/schemas/1"
    assert [p["name"] for p in requests.get(url + "/v1/projects").json()["items"]] == ["p"]
