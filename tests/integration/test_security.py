"""The attacks of the security review (issue 16), each shown failing over HTTP
against the real daemon.

Finding 1: a daemon without tokens is driven by a web page (DNS rebinding,
blind cross-site POSTs).
"""
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
