"""The attacks of the security review (issue 16), each shown failing over HTTP
against the real daemon.

Finding 1: a daemon without tokens is driven by a web page (DNS rebinding,
blind cross-site POSTs).
"""
import os
import subprocess

import requests

from daemon import BINARY, Daemon


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
