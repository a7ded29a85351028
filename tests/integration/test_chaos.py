"""Chaos: the real daemon and PostgreSQL clusters under faults (issue 17).
Each test asserts that the run completes (or fails with a clear reason)
with no row lost and nothing duplicated: the target restarted during the
full load; the source restarted during CDC; the network to the source cut
for a minute (a loopback TCP proxy the test controls); the SQLite disk full
(a small tmpfs); the daemon stopped with SIGSTOP and continued; kill -9
during a cancelled run's clean-up. docs/operations.md lists what each
leaves behind."""
import datetime
import os
import select
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from daemon import TEST_BINARY, Daemon, wait_until
from pgcluster import PG_BINDIR
from test_pglogical import TABLES_SQL, Writer, clusters, endpoint, fingerprint  # noqa: F401


class TcpProxy(threading.Thread):
    """Forwards 127.0.0.1:<port> to a backend until cut(): then every open
    connection is closed and new ones are refused (the listening socket is
    closed) until restore() listens on the same port again."""

    def __init__(self, backend_port):
        super().__init__(daemon=True)
        self.backend = ("127.0.0.1", backend_port)
        self.lock = threading.Lock()
        self.pairs = []
        self.stopped = False
        self.listener = self._listen(0)
        self.port = self.listener.getsockname()[1]

    def _listen(self, port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        return s

    def run(self):
        while not self.stopped:
            with self.lock:
                lst = self.listener
                socks = [x for p in self.pairs for x in p]
            rd = ([lst] if lst else []) + socks
            try:
                ready, _, _ = select.select(rd, [], [], 0.2)
            except (OSError, ValueError):
                continue
            for s in ready:
                if s is lst:
                    try:
                        c, _ = lst.accept()
                        b = socket.create_connection(self.backend, timeout=5)
                    except OSError:
                        continue
                    with self.lock:
                        self.pairs.append((c, b))
                    continue
                with self.lock:
                    pair = next((p for p in self.pairs if s in p), None)
                if not pair:
                    continue
                other = pair[1] if s is pair[0] else pair[0]
                try:
                    data = s.recv(65536)
                    if data:
                        other.sendall(data)
                        continue
                except OSError:
                    pass
                self._drop(pair)

    def _drop(self, pair):
        with self.lock:
            if pair in self.pairs:
                self.pairs.remove(pair)
        for x in pair:
            try:
                x.close()
            except OSError:
                pass

    def cut(self):
        with self.lock:
            lst, self.listener = self.listener, None
            pairs, self.pairs = self.pairs, []
        lst.close()
        for p in pairs:
            for x in p:
                try:
                    x.shutdown(socket.SHUT_RDWR)
                    x.close()
                except OSError:
                    pass

    def restore(self):
        lst = self._listen(self.port)
        with self.lock:
            self.listener = lst

    def stop(self):
        self.stopped = True
        if self.listener:
            self.listener.close()


def restart(cluster):
    """pg_ctl restart: the same data, options and port (its output to the
    log file, or the server would hold our pipe open)."""
    cluster._run(cluster._as_owner([os.path.join(PG_BINDIR, "pg_ctl"), "-D", cluster.datadir,
                                    "-l", cluster.logfile, "-w", "-t", "60", "-m", "fast",
                                    "restart"]))


def start_run(url, pid, s, t, **params):
    r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": dict({"source_endpoint_id": s, "target_endpoint_id": t,
                            "schemas": ["public"]}, **params)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def get(url, rid):
    return requests.get(f"{url}/v1/runs/{rid}", timeout=10).json()


def wait_step(url, rid, steps, timeout=120):
    return wait_until(lambda: (lambda x: x if x["current_step"] in steps or
                               x["state"] in ("failed", "awaiting_approval") else None)(
        get(url, rid)), timeout, interval=0.01, what=f"a step of {steps}")


def finish(url, rid, timeout=300):
    """Waits for the cutover gate, approves it, waits for the end."""
    run = wait_until(lambda: (lambda x: x if x["state"] in ("awaiting_approval", "failed")
                              else None)(get(url, rid)), timeout, what="the cutover gate")
    assert run["state"] == "awaiting_approval", run
    r = requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve")
    assert r.status_code == 200, r.text
    run = wait_until(lambda: (lambda x: x if x["state"] in ("succeeded", "failed")
                              else None)(get(url, rid)), timeout, what="the run to finish")
    assert run["state"] == "succeeded", run
    return run


def stop_writer(writer):
    """Stops a Writer and checks it made changes without an error."""
    writer.stop_flag.set()
    writer.join(30)
    assert writer.error is None, writer.error
    assert writer.rounds > 0


def same_data(src, tgt, db):
    tables = src.psql(TABLES_SQL, "pagila").split()
    assert len(tables) >= 15
    for table in tables:
        assert fingerprint(src, "pagila", table) == fingerprint(tgt, db, table), table
    # nothing left behind
    assert src.scalar("SELECT count(*) FROM pg_replication_slots") == "0"
    assert tgt.scalar("SELECT count(*) FROM pg_subscription", db) == "0"


def project(url, name, src, tgt, db, src_port=None):
    tgt.createdb(db)
    pid = requests.post(url + "/v1/projects", json={"name": name}).json()["id"]
    s = endpoint(url, pid, "legacy", "source", src, "pagila")
    if src_port:
        cur = requests.get(f"{url}/v1/endpoints/{s}")
        # a new destination needs the password again (it is bound to host and port)
        r = requests.patch(f"{url}/v1/endpoints/{s}",
                           json={"port": src_port, "password": src.password},
                           headers={"If-Match": cur.headers["ETag"]})
        assert r.status_code == 200, r.text
    t = endpoint(url, pid, "target", "target", tgt, db)
    return pid, s, t


def test_target_restarted_during_full_load(clusters, daemon):  # noqa: F811
    src, tgt = clusters
    url = daemon.url
    pid, s, t = project(url, "tgt-restart", src, tgt, "chaos_tgt")
    rid = start_run(url, pid, s, t, max_attempts=10, retry_cap_ms=5000)
    assert wait_step(url, rid, ("full_load",))["current_step"] == "full_load"
    restart(tgt)
    finish(url, rid)
    same_data(src, tgt, "chaos_tgt")


def test_source_restarted_during_cdc(clusters, daemon):  # noqa: F811
    src, tgt = clusters
    url = daemon.url
    pid, s, t = project(url, "src-restart", src, tgt, "chaos_src")
    rid = start_run(url, pid, s, t, max_attempts=10, retry_cap_ms=5000)
    wait_step(url, rid, ("await_cdc_sync", "cutover_gate"))
    writer = Writer(src)
    writer.start()
    wait_until(lambda: writer.rounds >= 20 or writer.error, 30, what="changes on the source")
    restart(src)
    writer.join(60)  # the restart ends the writer's session
    second = Writer(src)
    second.start()
    wait_until(lambda: second.rounds >= 20 or second.error, 30, what="changes after the restart")
    stop_writer(second)
    finish(url, rid)
    same_data(src, tgt, "chaos_src")


def test_network_to_source_cut_for_a_minute(clusters, daemon):  # noqa: F811
    src, tgt = clusters
    url = daemon.url
    proxy = TcpProxy(src.port)
    proxy.start()
    try:
        pid, s, t = project(url, "net-cut", src, tgt, "chaos_net", src_port=proxy.port)
        # steps retry for about 40 s, less than the outage: the run fails
        # naming the connection, and is retried once the network is back
        rid = start_run(url, pid, s, t, max_attempts=12, retry_cap_ms=5000)
        assert wait_step(url, rid, ("full_load",))["current_step"] == "full_load"
        writer = Writer(src)  # straight to the source, not through the proxy
        writer.start()
        proxy.cut()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the outage itself: a minute
            run = get(url, rid)
            assert run["state"] in ("running", "failed"), run
            if run["state"] == "failed":  # retries ran out: it says why
                assert "connect" in run["error"] and "source" in run["error"], run["error"]
            time.sleep(1)
        restored = datetime.datetime.now(datetime.timezone.utc)
        proxy.restore()
        stop_writer(writer)
        run = get(url, rid)
        if run["state"] == "failed":  # the operator retries once the network is back
            r = requests.post(f"{url}/v1/runs/{rid}/steps/{run['current_step']}/retry")
            assert r.status_code == 200, r.text
        run = finish(url, rid)
        # the full load could only finish once the source was reachable again
        full_load = next(x for x in run["steps"] if x["id"] == "full_load")
        assert datetime.datetime.fromisoformat(full_load["finished_at"].replace(
            "Z", "+00:00")) > restored, full_load
        same_data(src, tgt, "chaos_net")
    finally:
        proxy.stop()


def all_threads_stopped(pid):
    """True when every thread of pid is stopped ("T" in /proc/PID/task/TID/stat)."""
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return bool(states) and all(s == "T" for s in states)


def test_daemon_stopped_with_sigstop_and_continued(clusters, daemon):  # noqa: F811
    src, tgt = clusters
    url = daemon.url
    pid, s, t = project(url, "sigstop", src, tgt, "chaos_stop")
    rid = start_run(url, pid, s, t)
    wait_step(url, rid, ("full_load",))
    writer = Writer(src)
    writer.start()
    daemon.proc.send_signal(signal.SIGSTOP)
    try:
        # kill() only queues SIGSTOP to one thread, which then stops the
        # others: until the kernel shows every thread stopped, another one
        # may still serve a request
        wait_until(lambda: all_threads_stopped(daemon.proc.pid), 10,
                   what="every thread of the daemon stopped (state T)")
        with pytest.raises(requests.exceptions.Timeout):
            requests.get(url + "/healthz", timeout=2)
        writer.stop_flag.wait(20)  # stopped for 20 s while the source changes
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    assert requests.get(url + "/healthz", timeout=10).status_code == 200
    stop_writer(writer)
    finish(url, rid)
    same_data(src, tgt, "chaos_stop")


def test_kill_9_during_cleanup(clusters, tmp_path):  # noqa: F811
    src, tgt = clusters
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid, s, t = project(url, "kill-cleanup", src, tgt, "chaos_kill")
        rid = start_run(url, pid, s, t)
        wait_step(url, rid, ("await_cdc_sync", "cutover_gate"))
        assert src.scalar("SELECT count(*) FROM pg_replication_slots"
                          " WHERE slot_name LIKE 'cutover\\_%'") == "1"
        assert requests.post(f"{url}/v1/runs/{rid}/cancel").status_code == 200
        d.kill9()  # the clean-up has at best begun
        d.start()
        wait_until(lambda: [e for e in requests.get(
            f"{url}/v1/runs/{rid}/events", params={"type": "run.cleanup"}).json()["items"]
            if e["data"]["result"] == "done"], 60, what="the clean-up after kill -9")
        assert get(url, rid)["cleanup"]["state"] == "done"
        assert src.scalar("SELECT count(*) FROM pg_replication_slots") == "0"
        assert src.scalar("SELECT count(*) FROM pg_publication", "pagila") == "0"
        assert tgt.scalar("SELECT count(*) FROM pg_subscription", "chaos_kill") == "0"
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()


@pytest.fixture
def small_disk():
    """A 6 MiB tmpfs, mounted for the test and unmounted after it."""
    path = tempfile.mkdtemp(prefix="cutover-chaos-disk-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(path)
        pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}")
    yield path
    subprocess.run(["umount", "-l", path], check=False)
    os.rmdir(path)


def fill(path):
    """Writes a filler file until the file system is full; returns it."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_sqlite_disk_full(small_disk, tmp_path):
    db = os.path.join(small_disk, "cutover.db")
    effects = tmp_path / "effects"
    d = Daemon(tmp_path, db=db, binary=TEST_BINARY).start()
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "disk"}).json()["id"]
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "view-migration", "engine": "test",
            "parameters": {"test": {"step_ms": 300, "effects_file": str(effects)}}})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        wait_until(lambda: get(url, rid)["state"] == "running", 30, what="the run to start")
        filler = fill(small_disk)
        # refused writes are clear 5xx problems; reads and health go on
        r = requests.post(url + "/v1/projects", json={"name": "x" * 100})
        assert r.status_code >= 500, r.text
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert requests.get(url + "/healthz").status_code == 200
        assert requests.get(f"{url}/v1/runs/{rid}").status_code == 200
        os.unlink(filler)
        run = wait_until(lambda: (lambda x: x if x["state"] in ("succeeded", "failed")
                                  else None)(get(url, rid)), 120, what="the run to finish")
        assert run["state"] == "succeeded", run
        lines = effects.read_text().splitlines()
        done = [x["id"] for x in run["steps"] if x["state"] == "succeeded"]
        assert len(lines) == len(set(lines)) and sorted(x.split()[1] for x in lines) == \
            sorted(done), (lines, done)
        assert requests.post(url + "/v1/projects", json={"name": "after"}).status_code == 201
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
