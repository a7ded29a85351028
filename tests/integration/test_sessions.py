"""Browser sessions over HTTP: POST /v1/sessions exchanges a token for an
HttpOnly, SameSite=Strict cookie with an expiry; cookie-authenticated
requests that change something need the session's X-CSRF-Token; the
session expires and DELETE ends it; without a tokens file there is no
sign-in."""
import hashlib

import pytest
import requests

from contract import ContractSession
from daemon import Daemon, wait_until

TOKENS = {"viewer": "tok-viewer-s1", "operator": "tok-operator-s2"}


def token_file(tmp_path):
    lines = [f"{hashlib.sha256(t.encode()).hexdigest()} {role} {role}-person"
             for role, t in TOKENS.items()]
    path = tmp_path / "tokens"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def authd(tmp_path):
    d = Daemon(tmp_path, tokens_file=token_file(tmp_path)).start()
    yield d
    if d.proc:
        assert d.stop() == 0, d.log()


def sign_in(url, role, ttl=None):
    s = ContractSession(url)
    body = {"token": TOKENS[role]}
    if ttl:
        body["ttl_seconds"] = ttl
    r = s.post("/v1/sessions", json=body)
    assert r.status_code == 201, r.text
    return s, r


def test_sign_in_cookie_and_csrf(authd):
    s, r = sign_in(authd.url, "operator")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("cutover_session=")
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"):
        assert attr in cookie, cookie
    body = r.json()
    assert (body["principal"], body["role"], body["auth"]) == (
        "operator-person", "operator", "session")
    assert len(body["csrf_token"]) == 32 and body["expires_at"]
    assert TOKENS["operator"] not in r.text

    # reads work with the cookie alone
    assert s.get("/v1/projects").status_code == 200
    cur = s.get("/v1/sessions/current").json()
    assert cur["csrf_token"] == body["csrf_token"] and cur["role"] == "operator"
    # a change without the CSRF header is refused and changes nothing
    r = s.post("/v1/projects", json={"name": "no-csrf"})
    assert r.status_code == 403, r.text
    assert r.json()["errors"][0]["header"] == "X-CSRF-Token"
    r = s.post("/v1/projects", json={"name": "bad-csrf"}, headers={"X-CSRF-Token": "0" * 32})
    assert r.status_code == 403
    assert s.get("/v1/projects").json()["items"] == []
    # with it, the change is made in the session holder's name
    r = s.post("/v1/projects", json={"name": "with-csrf"},
               headers={"X-CSRF-Token": body["csrf_token"]})
    assert r.status_code == 201, r.text
    # the CSRF token alone, without the cookie, is not a credential
    r = requests.post(authd.url + "/v1/projects", json={"name": "x"},
                      headers={"X-CSRF-Token": body["csrf_token"]})
    assert r.status_code == 401

    # the event stream accepts the cookie (EventSource sends it)
    with s.get("/v1/events", headers={"Accept": "text/event-stream"}, stream=True,
               timeout=5) as st:
        assert st.status_code == 200
        assert st.headers["Content-Type"].startswith("text/event-stream")

    # sign out: the cookie is cleared and the session no longer works
    r = s.delete("/v1/sessions/current", headers={"X-CSRF-Token": body["csrf_token"]})
    assert r.status_code == 204
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    stale = requests.get(authd.url + "/v1/projects", cookies={
        "cutover_session": cookie.split(";")[0].split("=", 1)[1]})
    assert stale.status_code == 401


def test_viewer_session_keeps_its_role(authd):
    s, r = sign_in(authd.url, "viewer")
    csrf = r.json()["csrf_token"]
    r = s.post("/v1/projects", json={"name": "v"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and "operator" in r.json()["detail"]


def test_session_expires(authd):
    s, r = sign_in(authd.url, "viewer", ttl=1)
    assert "Max-Age=1" in r.headers["Set-Cookie"]
    value = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert s.get("/v1/projects").status_code == 200
    # the browser would drop the cookie; the daemon refuses it by itself too
    wait_until(lambda: requests.get(authd.url + "/v1/projects", cookies={
        "cutover_session": value}).status_code == 401, timeout=10, interval=0.2,
        what="the session to expire")


def test_bad_sign_in(authd):
    s = ContractSession(authd.url)
    r = s.post("/v1/sessions", json={"token": "wrong"})
    assert r.status_code == 401
    r = s.post("/v1/sessions", json={"token": TOKENS["viewer"], "ttl_seconds": 0,
                                     "remember": True})
    assert r.status_code == 400
    fields = {e["pointer"] for e in r.json()["errors"]}
    assert fields == {"/ttl_seconds", "/remember"}
    assert "Set-Cookie" not in r.headers
    assert s.get("/v1/sessions/current").status_code == 401


def test_no_sign_in_without_tokens_file(daemon):
    s = ContractSession(daemon.url)
    r = s.post("/v1/sessions", json={"token": "anything"})
    assert r.status_code == 404 and "tokens file" in r.json()["detail"]
    cur = s.get("/v1/sessions/current").json()
    assert (cur["auth"], cur["role"], cur["csrf_token"]) == ("none", "admin", None)


def test_sign_in_is_audited_and_cookies_checked_before_the_body(tmp_path):
    """A sign-in is an audit.session.create event in the signer's name; a
    cookie-authenticated change without the CSRF header is refused on the
    headers, without waiting for the body it announces."""
    import socket
    tokens = dict(TOKENS, admin="tok-admin-s3")
    path = tmp_path / "tokens"
    path.write_text("".join(f"{hashlib.sha256(t.encode()).hexdigest()} {role} {role}-person\n"
                            for role, t in tokens.items()))
    path.chmod(0o600)
    d = Daemon(tmp_path, tokens_file=str(path)).start()
    try:
        s, r = sign_in(d.url, "operator")
        admin = {"Authorization": "Bearer " + tokens["admin"]}
        evs = requests.get(d.url + "/v1/events", params={"type": "audit.session.create"},
                           headers=admin).json()["items"]
        assert len(evs) == 1, evs
        data = evs[0]["data"]
        assert (data["actor"], data["role"], data["id"]) == (
            "operator-person", "operator", "operator-person")
        assert data["address"] == "127.0.0.1" and data["request_id"]
        assert TOKENS["operator"] not in str(evs)
        # viewers and operators do not see audit events
        r = requests.get(d.url + "/v1/events", params={"type": "audit.session.create"},
                         cookies=s.cookies)
        assert r.status_code == 403 and "admin" in r.json()["detail"]

        cookie = s.cookies.get("cutover_session")
        port = int(d.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall((f"POST /v1/projects HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                       f"Cookie: cutover_session={cookie}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                       ).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = c.recv(4096)   # times out (fails) if the body is awaited
                if not chunk:
                    break
                head += chunk
        assert head.startswith(b"HTTP/1.1 403"), head
        assert s.get("/v1/projects").json()["items"] == []
    finally:
        assert d.stop() == 0, d.log()[-2000:]
