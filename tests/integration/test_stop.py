"""SIGTERM: the daemon finishes the requests in flight, answers the ones that
arrive meanwhile with a 503 problem+json, and exits 0 without losing what
the finished requests wrote."""
import json
import signal
import socket

import requests

from daemon import Daemon, wait_until


def read_until(sock, marker, timeout=10.0):
    """Reads from sock until marker appears; returns everything read."""
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_sigterm_drains_requests_in_flight_and_refuses_new_ones(tmp_path):
    d = Daemon(tmp_path).start()
    body = json.dumps({"name": "sent-while-stopping"}).encode()
    sock = socket.create_connection(("127.0.0.1", d.port))
    try:
        # a request in flight: its headers are read (the daemon answers
        # 100 Continue once its handler has seen them), its body not yet
        sock.sendall(b"POST /v1/projects HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Expect: 100-continue\r\n\r\n" % (d.port, len(body)))
        assert b"100 Continue" in read_until(sock, b"\r\n\r\n")
        d.proc.send_signal(signal.SIGTERM)

        # requests that arrive while it drains get a clear answer, not a hang
        def refused():
            r = requests.get(d.url + "/healthz", timeout=2)
            return [r] if r.status_code == 503 else None  # a Response of 503 is falsy
        r = wait_until(refused, 10, what="a 503 while the daemon drains")[0]
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert r.json()["status"] == 503
        assert "stopping" in r.json()["detail"]
        assert r.headers["Retry-After"] == "5"
        assert d.proc.poll() is None  # still draining: the POST is in flight

        # the request in flight completes, then the daemon exits 0
        sock.sendall(body)
        answer = read_until(sock, b"}")
        assert b"HTTP/1.1 201" in answer, answer
        assert d.proc.wait(15) == 0, d.log()
    finally:
        sock.close()
        d.stop()
    d.start()
    try:
        names = [p["name"] for p in requests.get(d.url + "/v1/projects").json()["items"]]
        assert names == ["sent-while-stopping"]
    finally:
        assert d.stop() == 0, d.log()
