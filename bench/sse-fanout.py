#!/usr/bin/python3
"""sse-fanout.py - Server-Sent Events fan-out of a release cutoverd: N
subscribers (default 1,000) on one project's event stream while a run of the
"test" engine publishes paced step.progress ticks.

Usage: bench/sse-fanout.py [--subscribers N] [--ticks N] [--interval-ms MS]
                           [--idle-secs S] [--procs P] [--http-threads N]
                           [--workers N] [--wait-quiet S] [--build-dir DIR] [--json FILE]

What it does, in order:
  1. builds <build-dir>/tests/cutoverd-test if it is missing (meson setup
     -Dbuildtype=release if the build dir is absent), raises RLIMIT_NOFILE
     (inherited by the daemon) and starts the daemon on a free 127.0.0.1
     port with a temp --db and --log-level warn (--http-threads and
     --workers only if given);
  2. creates a project, then connects every subscriber:
     GET /v1/events?project_id=<id> with Accept: text/event-stream, written
     by hand over a plain socket (HTTP/1.1, chunked body decoded and SSE
     frames parsed). P client processes (default 1) each run one epoll
     loop over their share of the sockets: no thread per subscriber. The
     loop only recv()s and stamps each read with the wall clock; decoding
     happens after the measurement, so parsing cannot delay other reads.
     It waits until /metrics reports every stream open;
  3. idle: samples the daemon's utime+stime (/proc/<pid>/stat) over
     --idle-secs (default 10) with every subscriber connected and nothing
     published, and its VmRSS / VmHWM (/proc/<pid>/status). The heartbeat
     comes every 15 s per stream: use --idle-secs 32 to include two;
  4. waits (at most --wait-quiet s, default 60) for the machine to be
     < 15 % busy, then starts a view-migration run with engine "test" and
     parameters {"test": {"ticks": {"step": "load_final", "count": T,
     "interval_ms": I}}} (default T 500, I 20): the daemon publishes T
     step.progress events carrying "sent_at_ms" (epoch ms), one per step
     call, WAITing I ms between calls. For each tick at each subscriber,
     latency = wall-clock time the bytes were read by the client -
     sent_at_ms (same machine clock; sent_at_ms is whole ms, so figures
     carry up to +1 ms of truncation). sent_at_ms is taken before the event
     is committed, so the latency includes the commit (fsync);
  5. when every subscriber saw the run's final run.state (or a deadline
     passes), compares each subscriber's list of event ids with the
     project's events read back through the JSON endpoint and reports
     missing / extra deliveries; latency p50/p90/p99/max over all tick
     deliveries; per tick, the first subscriber's latency (publish path)
     and the first-to-last spread (fan-out); the actual tick rate; and the
     CPU of the daemon, of the client and of every other process on the
     machine during the burst (the last one says whether the figures were
     disturbed by other work).

Loopback only. Every wait has a deadline; the daemon and client processes
are stopped and the temp dir removed on exit. Targets (p99 < 100 ms, idle
CPU ~0 %, RSS < 64 MB, no missing delivery) are reported, not enforced: the
exit code is non-zero only if the set-up fails.
"""
import argparse
import array
import json
import multiprocessing as mp
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

from _bench import (ROOT, CLK_TCK, build, cpu_ticks, cutoverd_proc, machine_ticks,  # noqa: E402
                    metric, pct, wait_quiet, wait_until)



# ----------------------------------------------------------------- set-up

def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        sys.exit(f"sse-fanout: RLIMIT_NOFILE hard limit {hard} < {need} needed")
    return want


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# ----------------------------------------------------------------- client

class Stream:
    """One SSE subscriber: HTTP/1.1 response head, chunked decoding, frames."""
    __slots__ = ("sock", "head", "status", "chunked", "raw", "need", "crlf", "body",
                 "ids", "lat", "tickno", "ticks", "done", "eof", "error")

    def __init__(self, sock):
        self.sock = sock
        self.head = bytearray()
        self.status = None
        self.chunked = False
        self.raw = b""
        self.need = 0          # bytes left in the current chunk
        self.crlf = False      # expecting the CRLF that ends a chunk
        self.body = b""        # dechunked bytes not yet split into frames
        self.ids = array.array("q")
        self.lat = array.array("d")
        self.tickno = array.array("i")
        self.ticks = 0
        self.done = False
        self.eof = False
        self.error = None


def feed(st, data, now_ms, run_marker):
    """Consumes bytes read from st.sock at wall-clock now_ms."""
    if st.status is None:
        st.head += data
        end = st.head.find(b"\r\n\r\n")
        if end < 0:
            if len(st.head) > 16384:
                st.error = "response head too large"
            return
        head = bytes(st.head[:end]).decode("latin-1").split("\r\n")
        rest = bytes(st.head[end + 4:])
        st.head = None
        parts = head[0].split(" ", 2)
        st.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
        hdrs = {}
        for h in head[1:]:
            k, _, v = h.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if st.status != 200 or "text/event-stream" not in hdrs.get("content-type", ""):
            st.error = f"status {st.status}, content-type {hdrs.get('content-type')}"
            return
        st.chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
        data = rest
        if not data:
            return
    if st.chunked:
        raw = st.raw + data if st.raw else data
        out = []
        pos, n = 0, len(raw)
        while pos < n:
            if st.need:
                take = min(st.need, n - pos)
                out.append(raw[pos:pos + take])
                pos += take
                st.need -= take
                if not st.need:
                    st.crlf = True
                continue
            if st.crlf:
                if n - pos < 2:
                    break
                pos += 2
                st.crlf = False
                continue
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(raw[pos:eol].split(b";", 1)[0], 16)
            pos = eol + 2
            if size == 0:
                st.eof = True
                pos = n
                break
            st.need = size
        st.raw = raw[pos:]
        data = b"".join(out)
    buf = st.body + data if st.body else data
    start = 0
    while True:
        end = buf.find(b"\n\n", start)
        if end < 0:
            break
        frame = buf[start:end]
        start = end + 2
        if frame[:4] != b"id: ":
            continue                    # "retry:", comments, heartbeats
        eid, etype, payload = 0, b"", b""
        for line in frame.split(b"\n"):
            if line[:4] == b"id: ":
                eid = int(line[4:])
            elif line[:7] == b"event: ":
                etype = line[7:]
            elif line[:6] == b"data: ":
                payload = line[6:]
        st.ids.append(eid)
        if etype == b"step.progress" and b'"sent_at_ms"' in payload:
            d = json.loads(payload)
            st.lat.append(now_ms - d["sent_at_ms"])
            st.tickno.append(d["tick"])
            st.ticks += 1
        elif etype == b"run.state" and run_marker[0] and run_marker[0] in payload:
            d = json.loads(payload)
            if d.get("to") in ("succeeded", "failed", "cancelled"):
                st.done = True
    st.body = buf[start:]


FINAL_RE = re.compile(rb'"to":"(?:succeeded|failed|cancelled)"')


def client_main(idx, port, path, count, conn):
    """Child process: opens `count` streams, reports, then serves them with
    one epoll loop until told to stop; sends back ids and latencies.

    The hot loop only does recv() and stamps each read with the wall clock;
    the bytes are decoded (HTTP head, chunks, SSE frames) after the
    measurement, so parsing costs cannot delay the reads of other streams.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ep = select.epoll()
    streams, by_fd, reads = [], {}, {}
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
           f"User-Agent: sse-fanout/{idx}\r\n\r\n").encode()
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(req)
            s.setblocking(False)
            st = Stream(s)
            streams.append(st)
            by_fd[s.fileno()] = st
            reads[s.fileno()] = []
            ep.register(s.fileno(), select.EPOLLIN)
    except OSError as e:
        conn.send(("error", f"connect #{len(streams)}: {e}"))
        return
    conn.send(("connecting", len(streams)))
    stop_at = None
    t_cpu0 = None
    run_marker = [None]
    open_n = len(streams)
    finals = 0
    hard_deadline = time.monotonic() + 900
    now = time.time
    while time.monotonic() < hard_deadline:
        if conn.poll():
            msg = conn.recv()
            if msg[0] == "run":
                run_marker[0] = msg[1].encode()
                t_cpu0 = os.times()
            elif msg[0] == "stop":
                stop_at = time.monotonic() + msg[1]
        if stop_at is not None and (time.monotonic() >= stop_at or finals >= open_n):
            break
        if open_n == 0:
            time.sleep(0.05)
            continue
        for fd, _ in ep.poll(0.05, 1024):
            st = by_fd[fd]
            try:
                data = st.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                data = b""
                st.error = str(e)
            if data:
                reads[fd].append((now() * 1000.0, data))
                if not st.done and FINAL_RE.search(data):
                    st.done = True      # provisional: re-checked by the parse below
                    finals += 1
            else:
                st.eof = True
                ep.unregister(fd)
                open_n -= 1
                if st.done:
                    finals -= 1
    t_cpu1 = os.times()
    cpu = (t_cpu1.user + t_cpu1.system - t_cpu0.user - t_cpu0.system) if t_cpu0 else 0.0
    for st in streams:
        pieces = reads.pop(st.sock.fileno(), [])
        st.sock.close()
        st.done = st.eof = False
        for t, data in pieces:
            if st.error or st.eof:
                break
            try:
                feed(st, data, t, run_marker)
            except (ValueError, KeyError) as e:
                st.error = f"parse: {e}"
    conn.send(("result", {
        "heads": sum(1 for st in streams if st.status == 200),
        "cpu": cpu,
        "errors": [st.error for st in streams if st.error][:5],
        "nerrors": sum(1 for st in streams if st.error),
        "done": sum(1 for st in streams if st.done),
        "ids": [st.ids.tobytes() for st in streams],
        "lat": b"".join(st.lat.tobytes() for st in streams),
        "tickno": b"".join(st.tickno.tobytes() for st in streams),
    }))


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--ticks", type=int, default=500)
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--idle-secs", type=float, default=10.0)
    ap.add_argument("--procs", type=int, default=1, help="client processes (default 1)")
    ap.add_argument("--http-threads", type=int, default=None,
                    help="cutoverd --http-threads (default: the daemon's own default)")
    ap.add_argument("--workers", type=int, default=None,
                    help="cutoverd --workers (default: the daemon's own default)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--wait-quiet", type=float, default=60.0,
                    help="before the burst, wait up to this many seconds for the machine "
                         "to be < 15 %% busy (0: don't)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    a = ap.parse_args()
    if not (1 <= a.subscribers <= 10000 and 1 <= a.ticks <= 100000 and
            1 <= a.interval_ms <= 60000 and 0 <= a.idle_secs <= 600 and 1 <= a.procs <= 16):
        ap.error("option out of range")

    binary = build(os.path.abspath(a.build_dir), "tests/cutoverd-test")
    nofile = raise_nofile(a.subscribers + 512)
    tmp = tempfile.mkdtemp(prefix="cutover-sse-fanout.")
    # every subscriber connects from 127.0.0.1: lift the per-address cap
    cmd = ["--db", os.path.join(tmp, "bench.db"),
           "--log-level", "warn",
           "--max-connections-per-address", str(a.subscribers + 64)]
    if a.http_threads:
        cmd += ["--http-threads", str(a.http_threads)]
    if a.workers:
        cmd += ["--workers", str(a.workers)]
    log = open(os.path.join(tmp, "cutoverd.log"), "wb")
    daemon, port = cutoverd_proc.start(binary, tmp, cmd, log=log)
    url = f"http://127.0.0.1:{port}"
    children = []
    fig = {"subscribers": a.subscribers, "ticks": a.ticks, "interval_ms": a.interval_ms,
           "procs": a.procs, "http_threads": a.http_threads or "default",
           "workers": a.workers or "default",
           "nofile": nofile}
    try:
        def ready():
            if daemon.poll() is not None:
                raise RuntimeError(f"cutoverd exited {daemon.returncode}")
            return requests.get(url + "/readyz", timeout=1).status_code == 200
        wait_until(ready, 15, "cutoverd /readyz")
        http = requests.Session()
        r = http.post(url + "/v1/projects", json={"name": "sse-fanout"}, timeout=10)
        r.raise_for_status()
        pid = r.json()["id"]
        path = f"/v1/events?project_id={pid}"
        rss_before = status_kb(daemon.pid, "VmRSS")

        # ---- subscribers
        t0 = time.monotonic()
        share = [a.subscribers // a.procs + (1 if i < a.subscribers % a.procs else 0)
                 for i in range(a.procs)]
        ctx = mp.get_context("fork")
        for i, n in enumerate(share):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=client_main, args=(i, port, path, n, child), daemon=True)
            p.start()
            children.append((p, parent))
        for p, c in children:
            if not c.poll(120):
                raise RuntimeError("client process did not connect in 120 s")
            msg = c.recv()
            if msg[0] == "error":
                raise RuntimeError(msg[1])
        wait_until(lambda: metric(url, "cutover_sse_subscribers") == a.subscribers, 60,
                   f"{a.subscribers} open streams in /metrics", interval=0.2)
        fig["connect_secs"] = round(time.monotonic() - t0, 2)

        # ---- idle
        time.sleep(1.0)                 # let connection set-up settle
        c0, w0 = cpu_ticks(daemon.pid), time.monotonic()
        time.sleep(a.idle_secs)
        c1, w1 = cpu_ticks(daemon.pid), time.monotonic()
        fig["idle_cpu_secs"] = (c1 - c0) / CLK_TCK
        fig["idle_cpu_pct"] = 100.0 * (c1 - c0) / CLK_TCK / (w1 - w0) if w1 > w0 else 0.0
        fig["idle_window_secs"] = round(w1 - w0, 2)
        fig["rss_kb_before_subs"] = rss_before
        fig["rss_kb_subs"] = status_kb(daemon.pid, "VmRSS")
        fig["threads"] = status_kb(daemon.pid, "Threads")

        # ---- burst
        params = {"test": {"ticks": {"step": "load_final", "count": a.ticks,
                                     "interval_ms": a.interval_ms}}}
        if a.wait_quiet:
            fig["machine_busy_pct_before_burst"] = round(wait_quiet(a.wait_quiet), 1)
        cb, wb = cpu_ticks(daemon.pid), time.monotonic()
        mb0, mt0 = machine_ticks()
        r = http.post(f"{url}/v1/projects/{pid}/runs", timeout=10,
                      json={"plan": "view-migration", "engine": "test", "parameters": params})
        r.raise_for_status()
        run_id = r.json()["id"]
        for p, c in children:
            c.send(("run", run_id))
        expect_secs = a.ticks * a.interval_ms / 1000.0
        wait_until(lambda: http.get(f"{url}/v1/runs/{run_id}", timeout=5).json()["state"]
                   in ("succeeded", "failed", "cancelled"),
                   expect_secs * 3 + 60, f"run {run_id} to finish", interval=0.25)
        ce, we = cpu_ticks(daemon.pid), time.monotonic()
        mb1, mt1 = machine_ticks()
        fig["machine_busy_pct"] = 100.0 * (mb1 - mb0) / max(1, mt1 - mt0)
        fig["machine_cpus"] = os.cpu_count()
        fig["daemon_cpu_secs_burst"] = (ce - cb) / CLK_TCK
        fig["rss_kb_after_burst"] = status_kb(daemon.pid, "VmRSS")
        fig["hwm_kb"] = status_kb(daemon.pid, "VmHWM")
        fig["run_state"] = http.get(f"{url}/v1/runs/{run_id}", timeout=5).json()["state"]
        fig["burst_secs"] = round(we - wb, 2)
        fig["burst_cpu_pct"] = 100.0 * (ce - cb) / CLK_TCK / (we - wb)
        for p, c in children:
            c.send(("stop", 30.0))       # at most 30 s more for the tail

        # expected: every event of the project, read back as JSON pages
        expected, sent, after = [], [], 0
        for _ in range(10000):
            body = http.get(url + "/v1/events", timeout=10,
                            params={"project_id": pid, "after": after, "limit": 1000}).json()
            expected += [e["id"] for e in body["items"]]
            sent += [e["data"]["sent_at_ms"] for e in body["items"]
                     if e["type"] == "step.progress" and "sent_at_ms" in e["data"]]
            if not body["items"]:
                break
            after = body["next_after"]
        results = []
        for p, c in children:
            if not c.poll(120):
                raise RuntimeError("client process did not report in 120 s")
            results.append(c.recv()[1])
        cpu_client = sum(res["cpu"] for res in results)
        # CPU time of everything else on the machine during the burst
        fig["other_cpu_pct"] = max(0.0, 100.0 * ((mb1 - mb0) / CLK_TCK - (ce - cb) / CLK_TCK
                                               - cpu_client) / (we - wb))
        span = (max(sent) - min(sent)) / 1000.0 if len(sent) > 1 else 0.0
        fig["tick_span_secs"] = round(span, 2)
        fig["tick_rate_per_sec"] = round((len(sent) - 1) / span, 1) if span else 0.0
    finally:
        for p, c in children:
            if p.is_alive():
                p.terminate()
            p.join(5)
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(5)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- figures
    exp = array.array("q", expected)
    exp_set = set(expected)
    missing = extra = subs_incomplete = 0
    for res in results:
        for raw in res["ids"]:
            got = array.array("q")
            got.frombytes(raw)
            if got == exp:
                continue
            subs_incomplete += 1
            gs = set(got)
            missing += len(exp_set - gs)
            extra += len(got) - len(gs & exp_set)
    lat, tickno = array.array("d"), array.array("i")
    for res in results:
        lat.frombytes(res["lat"])
        tickno.frombytes(res["tickno"])
    # per tick: the first subscriber's latency (publish path: commit, wake-up,
    # first send) and the spread to the last one (fan-out across streams)
    first, last = {}, {}
    for t, v in zip(tickno, lat):
        if v < first.get(t, float("inf")):
            first[t] = v
        if v > last.get(t, float("-inf")):
            last[t] = v
    first_s = sorted(first.values())
    spread_s = sorted(last[t] - first[t] for t in first)
    # by time: latency p99 of the first and of the second half of the ticks
    half = a.ticks // 2
    lat_h1 = sorted(v for t, v in zip(tickno, lat) if t <= half)
    lat_h2 = sorted(v for t, v in zip(tickno, lat) if t > half)
    lat = sorted(lat)
    fig.update({
        "stream_heads_200": sum(res["heads"] for res in results),
        "stream_errors": sum(res["nerrors"] for res in results),
        "subscribers_saw_end": sum(res["done"] for res in results),
        "stream_error_samples": [e for res in results for e in res["errors"]][:5],
        "events_per_subscriber_expected": len(expected),
        "deliveries_expected": len(expected) * a.subscribers,
        "deliveries_received": sum(len(raw) // 8 for res in results for raw in res["ids"]),
        "deliveries_missing": missing,
        "deliveries_extra_or_dup": extra,
        "subscribers_with_gaps": subs_incomplete,
        "tick_deliveries_expected": a.ticks * a.subscribers,
        "tick_deliveries_received": len(lat),
        "lat_p50_ms": pct(lat, 50), "lat_p90_ms": pct(lat, 90), "lat_p99_ms": pct(lat, 99),
        "lat_max_ms": lat[-1] if lat else float("nan"),
        "lat_min_ms": lat[0] if lat else float("nan"),
        "first_delivery_p50_ms": pct(first_s, 50), "first_delivery_p99_ms": pct(first_s, 99),
        "spread_p50_ms": pct(spread_s, 50), "spread_p99_ms": pct(spread_s, 99),
        "spread_max_ms": spread_s[-1] if spread_s else float("nan"),
        "lat_p99_first_half_ms": pct(lat_h1, 99), "lat_p99_second_half_ms": pct(lat_h2, 99),
        "client_cpu_pct_of_burst": 100.0 * cpu_client / fig["burst_secs"],
    })
    f = fig
    ok_lat = f["lat_p99_ms"] < 100
    ok_idle = f["idle_cpu_pct"] < 1.0
    ok_rss = f["rss_kb_subs"] < 64 * 1024
    ok_all = f["deliveries_missing"] == 0 and f["tick_deliveries_received"] == \
        f["tick_deliveries_expected"]
    yn = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    print(f"sse-fanout: {f['subscribers']} subscribers in {f['procs']} client process(es), "
          f"http-threads {f['http_threads']}, workers {f['workers']}, RLIMIT_NOFILE {f['nofile']}")
    print(f"  connect: {f['subscribers']} streams open in {f['connect_secs']} s; "
          f"heads 200: {f['stream_heads_200']}, stream errors: {f['stream_errors']} "
          f"{f['stream_error_samples'] or ''}")
    print(f"  idle ({f['idle_window_secs']} s, no events): daemon CPU {f['idle_cpu_secs']:.2f} s"
          f" = {f['idle_cpu_pct']:.2f} % of one core  [target ~0 %: {yn(ok_idle)}]")
    print(f"  RSS: {f['rss_kb_before_subs'] / 1024:.1f} MB before subscribers, "
          f"{f['rss_kb_subs'] / 1024:.1f} MB with {f['subscribers']}, "
          f"{f['rss_kb_after_burst'] / 1024:.1f} MB after the burst (VmHWM "
          f"{f['hwm_kb'] / 1024:.1f} MB), {f['threads']} threads  [target < 64 MB: "
          f"{yn(ok_rss)}]")
    print(f"  burst: run {f['run_state']} after {f['burst_secs']} s; {f['ticks']} ticks every "
          f"{f['interval_ms']} ms published over {f['tick_span_secs']} s "
          f"({f['tick_rate_per_sec']}/s); daemon CPU {f['burst_cpu_pct']:.1f} % of one core, client "
          f"CPU {f['client_cpu_pct_of_burst']:.1f} %, other processes {f['other_cpu_pct']:.1f} %; "
          f"machine {f['machine_busy_pct']:.0f} % busy ({f['machine_cpus']} CPUs)")
    print(f"  deliveries: {f['deliveries_received']} of {f['deliveries_expected']} "
          f"({f['events_per_subscriber_expected']} events x {f['subscribers']}); missing "
          f"{f['deliveries_missing']}, extra/duplicate {f['deliveries_extra_or_dup']}, "
          f"subscribers with a gap {f['subscribers_with_gaps']}, saw the final run.state "
          f"{f['subscribers_saw_end']}; ticks "
          f"{f['tick_deliveries_received']} of {f['tick_deliveries_expected']}  "
          f"[{yn(ok_all)}]")
    print(f"  latency (read time - sent_at_ms): p50 {f['lat_p50_ms']:.1f} ms, p90 "
          f"{f['lat_p90_ms']:.1f} ms, p99 {f['lat_p99_ms']:.1f} ms, max "
          f"{f['lat_max_ms']:.1f} ms  [target p99 < 100 ms: {yn(ok_lat)}]")
    print(f"  per tick: first subscriber p50 {f['first_delivery_p50_ms']:.1f} ms, p99 "
          f"{f['first_delivery_p99_ms']:.1f} ms; first-to-last spread p50 "
          f"{f['spread_p50_ms']:.1f} ms, p99 {f['spread_p99_ms']:.1f} ms, max "
          f"{f['spread_max_ms']:.1f} ms; latency p99 ticks 1-{half}: "
          f"{f['lat_p99_first_half_ms']:.1f} ms, later: {f['lat_p99_second_half_ms']:.1f} ms")
    if a.json:
        with open(a.json, "w") as out:
            json.dump(f, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
