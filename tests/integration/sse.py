"""A small Server-Sent Events client for the tests (text/event-stream as the
WHATWG HTML spec defines it: id, event, data fields; comments ignored)."""
import json
import socket
import threading

import requests


def parse_stream(lines, on_comment=None):
    """Yields {"id": int|None, "event": str, "data": obj} per event from an
    iterator of decoded lines; on_comment(text) is called for comment lines
    (": connected", ": heartbeat")."""
    ev = {"id": None, "event": "message", "data": []}
    for line in lines:
        if line == "":
            if ev["data"]:
                data = "\n".join(ev["data"])
                yield {"id": ev["id"], "event": ev["event"], "data": json.loads(data)}
            ev = {"id": None, "event": "message", "data": []}
            continue
        if line.startswith(":"):
            if on_comment:
                on_comment(line[1:].strip())
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "id":
            ev["id"] = int(value)
        elif field == "event":
            ev["event"] = value
        elif field == "data":
            ev["data"].append(value)


class Subscriber:
    """Reads an SSE stream in a background thread until stop() or until a
    predicate over the received events is satisfied. `connected` is set once
    the server's ": connected" comment arrived, i.e. the stream is open and
    subscribed; a stream that failed before that sets only `done`."""

    def __init__(self, url, last_event_id=None, headers=None, until=None):
        self.url = url
        self.events = []
        self.error = None
        self.done = threading.Event()
        self.until = until
        self.headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            self.headers["Last-Event-ID"] = str(last_event_id)
        self.headers.update(headers or {})
        self.resp = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.connected = threading.Event()

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        try:
            with requests.get(self.url, headers=self.headers, stream=True,
                              timeout=(5, 60)) as r:
                self.resp = r
                self.status = r.status_code
                self.content_type = r.headers.get("Content-Type")

                def comment(text):
                    if text == "connected":
                        self.connected.set()
                for ev in parse_stream(r.iter_lines(decode_unicode=True), comment):
                    self.events.append(ev)
                    if self.until and self.until(self.events):
                        break
                    if self.done.is_set():
                        break
        except (requests.RequestException, socket.error, AttributeError) as e:
            if not self.done.is_set():
                self.error = e
        finally:
            self.done.set()

    def stop(self):
        self.done.set()
        if self.resp is not None:
            try:
                self.resp.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
            except Exception:  # noqa: BLE001 - best effort to unblock the reader
                pass
        self.thread.join(10)

    def wait(self, timeout=30):
        if not self.done.wait(timeout):
            raise AssertionError(f"SSE stream {self.url} not finished after {timeout}s: "
                                 f"{len(self.events)} events")
        if self.error:
            raise self.error
        return self.events
