"""Webhooks against the real daemon and a receiver on loopback: every event
of the types asked for arrives, in order, signed the Standard Webhooks way;
nothing is lost across a kill -9 between an event and its delivery (the
repeat carries the same webhook-id); failed deliveries are retried with
backoff and listed; a webhook failing for a (scaled) day is disabled with an
event; only https:// public targets without --webhook-allow-private."""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
import requests

from daemon import TEST_BINARY, Daemon, wait_until
from runs_util import make_project, start_run, wait_state


class Receiver:
    """An HTTP receiver on loopback recording every delivery."""

    def __init__(self):
        self.got = []            # (headers dict, body bytes, status answered)
        self.fail_first = 0      # answer 500 to this many requests
        self.hold = None         # threading.Event: block requests until set
        self.held = threading.Event()
        self.always_fail = False
        self.lock = threading.Lock()
        recv = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if recv.hold is not None and not recv.hold.is_set():
                    with recv.lock:   # received, never answered (the daemon dies)
                        recv.got.append(({k.lower(): v for k, v in self.headers.items()},
                                         body, 0))
                    recv.held.set()
                    recv.hold.wait(60)
                    self.close_connection = True
                    return
                with recv.lock:
                    status = 500 if recv.always_fail or recv.fail_first > 0 else 204
                    if recv.fail_first > 0:
                        recv.fail_first -= 1
                    recv.got.append(({k.lower(): v for k, v in self.headers.items()},
                                     body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self):
        with self.lock:
            return [(h, b) for h, b, s in self.got if s == 204]

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()


def verify(secret, headers, body):
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == "v1," + want
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def start(tmp_path, scale="0.01"):
    return Daemon(tmp_path, binary=TEST_BINARY, args=["--webhook-allow-private"],
                  env={"CUTOVER_WEBHOOK_TIME_SCALE": scale}).start()


def run_state_events(url, rid):
    r = requests.get(f"{url}/v1/runs/{rid}/events", params={"type": "run.state",
                                                          "limit": 1000})
    return [e["id"] for e in r.json()["items"]]


def finish(url, rid):
    wait_state(url, rid, "awaiting_approval")
    assert requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code == 200
    return wait_state(url, rid, {"succeeded", "failed"})


def test_signed_in_order_and_across_kill9(tmp_path, receiver):
    d = start(tmp_path)
    try:
        url = d.url
        pid = make_project(url)
        r = requests.post(f"{url}/v1/projects/{pid}/webhooks",
                          json={"url": receiver.url, "events": ["run.*"]})
        assert r.status_code == 201, r.text
        hook = r.json()
        secret = hook["secret"]
        assert secret.startswith("whsec_") and hook["enabled"] is True
        assert "secret" not in requests.get(f"{url}/v1/webhooks/{hook['id']}").json()
        receiver.fail_first = 2     # two 500s: retried with backoff
        run = start_run(url, pid, test={"step_ms": 5})
        assert finish(url, run["id"])["state"] == "succeeded"
        want = run_state_events(url, run["id"])
        assert len(want) == 5
        got = wait_until(lambda: (lambda g: g if len(g) >= len(want) else None)(
            receiver.delivered()), 30, what="the run.state deliveries")
        for h, b in got:
            verify(secret, h, b)
        assert [int(h["webhook-id"][4:]) for h, _ in got] == want     # in order, all
        bodies = [json.loads(b) for _, b in got]
        assert {b["type"] for b in bodies} == {"run.state"}
        assert bodies[-1]["data"]["to"] == "succeeded"
        assert bodies[0]["data"]["run_id"] == run["id"]
        assert len(receiver.got) == len(want) + 2                       # the two 500s
        # the receiver saw the last one before the daemon recorded its answer
        dl = wait_until(lambda: (lambda items: items if {x["state"] for x in items} ==
                                 {"delivered"} else None)(
            requests.get(f"{url}/v1/webhooks/{hook['id']}/deliveries").json()["items"]),
            10, what="every delivery recorded")
        first = [x for x in dl if x["event_id"] == want[0]][0]
        assert [a["status"] for a in first["attempt_log"]] == [500, 500, 204]

        # kill -9 while a delivery is in flight: the repeat has the same id
        receiver.hold = threading.Event()
        receiver.held.clear()
        run2 = start_run(url, pid, test={"step_ms": 5})
        receiver.held.wait(30)
        assert receiver.held.is_set()
        d.kill9()
        receiver.hold.set()
        d.start()
        url = d.url
        assert finish(url, run2["id"])["state"] == "succeeded"
        want2 = run_state_events(url, run2["id"])
        got2 = wait_until(lambda: (lambda g: g if len({h["webhook-id"] for h in g} &
                                                      {f"evt_{i}" for i in want2}) == len(want2)
                                   else None)([h for h, _ in receiver.delivered()]), 30,
                          what="every run.state delivery of the second run")
        ids = [h["webhook-id"] for h in got2 if int(h["webhook-id"][4:]) in want2]
        assert ids == [f"evt_{i}" for i in want2], "in order, none missing"
        for h, b in receiver.delivered():
            verify(secret, h, b)
        # the message in flight at the kill was sent again with the same id
        all_ids = [h["webhook-id"] for h, _, _ in receiver.got]
        assert all_ids.count(f"evt_{want2[0]}") == 2
    finally:
        if d.proc:
            d.stop()


def test_only_requested_types_and_disable_after_a_day(tmp_path, receiver):
    d = start(tmp_path, scale="0.0001")     # a "day" is 8.6 s
    try:
        url = d.url
        pid = make_project(url)
        ok = requests.post(f"{url}/v1/projects/{pid}/webhooks",
                           json={"url": receiver.url + "?ok", "events": ["step.state"],
                                 "secret": "whsec_" + base64.b64encode(b"k" * 24).decode()})
        assert ok.status_code == 201
        run = start_run(url, pid, test={"step_ms": 5})
        finish(url, run["id"])
        want = [e["id"] for e in requests.get(f"{url}/v1/runs/{run['id']}/events", params={
            "type": "step.state", "limit": 1000}).json()["items"]]
        got = wait_until(lambda: (lambda g: g if len(g) >= len(want) else None)(
            receiver.delivered()), 30, what="step.state deliveries")
        assert [int(h["webhook-id"][4:]) for h, _ in got] == want
        assert {json.loads(b)["type"] for _, b in got} == {"step.state"}
        # a receiver that always fails: disabled after a (scaled) day, with an event
        receiver.always_fail = True
        run2 = start_run(url, pid, test={"step_ms": 5})
        wait_state(url, run2["id"], "awaiting_approval")
        hook = wait_until(lambda: (lambda h: h if not h["enabled"] else None)(
            requests.get(f"{url}/v1/webhooks/{ok.json()['id']}").json()), 40,
            what="the webhook disabled")
        assert hook["disabled_reason"] and hook["failing_since"]
        ev = requests.get(f"{url}/v1/events", params={"type": "webhook.disabled"}).json()
        assert ev["items"][0]["data"]["webhook_id"] == hook["id"]
        # enabling again clears the failure
        r = requests.patch(f"{url}/v1/webhooks/{hook['id']}", json={"enabled": True})
        assert r.status_code == 200 and r.json()["failing_since"] is None
        assert requests.delete(f"{url}/v1/webhooks/{hook['id']}").status_code == 204
        assert requests.get(f"{url}/v1/webhooks/{hook['id']}").status_code == 404
    finally:
        d.stop()


def test_targets_must_be_public_https_by_default(tmp_path):
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid = make_project(url)
        coll = f"{url}/v1/projects/{pid}/webhooks"
        for target in ("http://hooks.example.com/x", "https://127.0.0.1/x",
                       "https://10.1.2.3/x", "https://[::1]/x", "https://localhost/x",
                       "https://192.168.0.5/x", "ftp://example.com/x", "not a url"):
            r = requests.post(coll, json={"url": target, "events": ["run.state"]})
            assert r.status_code == 400, target
            assert r.json()["errors"][0]["pointer"] == "/url"
        r = requests.post(coll, json={"url": "https://hooks.example.com/x", "events": ["run.*"]})
        assert r.status_code == 201, r.text
        for bad in ({"events": []}, {"events": ["run*"]}, {"events": ["RUN.state"]}):
            r = requests.post(coll, json=dict(bad, url="https://hooks.example.com/y"))
            assert r.status_code == 400, bad
        r = requests.post(coll, json={"url": "https://hooks.example.com/z",
                                      "events": ["*"], "secret": "plain"})
        assert r.status_code == 400 and r.json()["errors"][0]["pointer"] == "/secret"
        assert len(requests.get(coll).json()["items"]) == 1
    finally:
        d.stop()
