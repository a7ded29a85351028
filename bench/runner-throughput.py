#!/usr/bin/python3
"""runner-throughput.py - how fast a release cutoverd's plan runner drives
runs to completion: N runs (default 1,000) of the view-migration plan with
the "test" engine, whose steps complete on their first call (no step_ms;
ongoing_sync defaults to off, so each run executes 6 steps and skips 1).

Usage: bench/runner-throughput.py [--runs N] [--workers LIST] [--clients C]
                                  [--http-threads N] [--build-dir DIR]
                                  [--timeout SECS] [--wait-quiet SECS]
                                  [--json FILE]

  --workers LIST  cutoverd --workers (runner worker threads), one daemon per
                  value, e.g. "1,4,8" (default 4, the daemon's default)
  --clients C     client threads creating runs, each with its own
                  keep-alive connection (default 4)

For each worker count: builds <build-dir>/tests/cutoverd-test if missing
(meson setup -Dbuildtype=release if the build dir is absent), starts it on a
free 127.0.0.1 port with a temp --db and --log-level warn, creates a
project, then starts the clock and the C client threads POST
/v1/projects/{id}/runs as fast as the API answers, while one more thread
follows GET /v1/events?type=run.state&project_id=..&after=<cursor> (a
cheap indexed page, polled every 20 ms) and counts the runs that reached
"succeeded". The clock stops when all N have succeeded. It reports the
total seconds, runs/s and executed steps/s (6 per run, checked against
cutover_step_attempts_total{verdict="done"} in /metrics), the create
phase alone (requests/s, latency p50/p99), create-to-succeeded time per run
(from the events' created_at), and the daemon's CPU (utime+stime).

Loopback only; every wait has a deadline (--timeout, default 600 s per
worker count). Exits non-zero only if the set-up fails or runs do not all
succeed in time.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

from _bench import (ROOT, CLK_TCK, build, cpu_ticks, cutoverd_proc, machine_ticks,  # noqa: E402
                    metric, pct, wait_quiet, wait_until)

STEPS_PER_RUN = 6            # view-migration: 7 steps, ongoing_sync skipped


def parse_ts(text):
    """RFC 3339 created_at -> epoch seconds (None if unparsable)."""
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def bench_one(binary, a, workers):
    tmp = tempfile.mkdtemp(prefix="cutover-runner-bench.")
    cmd = ["--db", os.path.join(tmp, "bench.db"),
           "--log-level", "warn", "--workers", str(workers)]
    if a.http_threads:
        cmd += ["--http-threads", str(a.http_threads)]
    log = open(os.path.join(tmp, "cutoverd.log"), "wb")
    daemon, port = cutoverd_proc.start(binary, tmp, cmd, log=log)
    url = f"http://127.0.0.1:{port}"
    fig = {"workers": workers, "clients": a.clients, "runs": a.runs,
           "http_threads": a.http_threads or "default"}
    stop = threading.Event()
    threads = []
    try:
        def ready():
            if daemon.poll() is not None:
                raise RuntimeError(f"cutoverd exited {daemon.returncode}")
            return requests.get(url + "/readyz", timeout=1).status_code == 200
        wait_until(ready, 15, "cutoverd /readyz")
        r = requests.post(url + "/v1/projects", json={"name": f"runner-w{workers}"},
                          timeout=10)
        r.raise_for_status()
        pid = r.json()["id"]
        done0 = metric(url, 'cutover_step_attempts_total{verdict="done"}', 0.0)
        if a.wait_quiet:
            fig["machine_busy_pct_before"] = round(wait_quiet(a.wait_quiet), 1)

        body = json.dumps({"plan": "view-migration", "engine": "test",
                           "parameters": {"test": {}}}).encode()
        lock = threading.Lock()
        next_i = [0]
        create_lat, errors = [], []
        created_at = {}              # run id -> epoch s of its "pending" event
        finished = {}                # run id -> (state, epoch s)
        t_created = [None]
        t_all_done = [None]

        def creator():
            s = requests.Session()
            while not stop.is_set():
                with lock:
                    if next_i[0] >= a.runs:
                        return
                    next_i[0] += 1
                t = time.monotonic()
                try:
                    resp = s.post(f"{url}/v1/projects/{pid}/runs", data=body, timeout=30,
                                  headers={"Content-Type": "application/json"})
                    ok = resp.status_code == 201
                    msg = None if ok else f"{resp.status_code} {resp.text[:200]}"
                except requests.RequestException as e:
                    ok, msg = False, str(e)
                dt = time.monotonic() - t
                with lock:
                    if ok:
                        create_lat.append(dt)
                    else:
                        errors.append(msg)
                    if len(create_lat) + len(errors) == a.runs:
                        t_created[0] = time.monotonic()

        def follower():
            s = requests.Session()
            after = 0
            while not stop.is_set():
                try:
                    page = s.get(url + "/v1/events", timeout=10,
                                 params={"type": "run.state", "project_id": pid,
                                         "after": after, "limit": 1000}).json()
                except requests.RequestException:
                    time.sleep(0.02)
                    continue
                for e in page["items"]:
                    d = e["data"]
                    if d.get("to") == "pending":
                        created_at[d["run_id"]] = parse_ts(e.get("created_at"))
                    elif d.get("to") in ("succeeded", "failed", "cancelled"):
                        finished[d["run_id"]] = (d["to"], parse_ts(e.get("created_at")))
                after = page["next_after"]
                if len(finished) >= a.runs:
                    t_all_done[0] = time.monotonic()
                    return
                if not page.get("more"):
                    time.sleep(0.02)

        c0 = cpu_ticks(daemon.pid)
        mb0, mt0 = machine_ticks()
        me0 = os.times()
        t0 = time.monotonic()
        threads = [threading.Thread(target=follower, daemon=True)]
        threads += [threading.Thread(target=creator, daemon=True) for _ in range(a.clients)]
        for t in threads:
            t.start()
        deadline = t0 + a.timeout
        while t_all_done[0] is None and time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise RuntimeError(f"cutoverd exited {daemon.returncode}")
            if errors and len(create_lat) + len(errors) == a.runs and \
                    len(finished) >= len(create_lat):
                break
            time.sleep(0.05)
        t1 = time.monotonic()
        c1 = cpu_ticks(daemon.pid)
        mb1, mt1 = machine_ticks()
        me1 = os.times()
        client_cpu = me1.user + me1.system - me0.user - me0.system
        stop.set()
        for t in threads:
            t.join(30)
        done1 = metric(url, 'cutover_step_attempts_total{verdict="done"}', 0.0)
        states = {}
        for st, _ in finished.values():
            states[st] = states.get(st, 0) + 1
        total = (t_all_done[0] or t1) - t0
        lat = sorted(create_lat)
        per_run = sorted(finished[r][1] - created_at[r] for r in finished
                         if r in created_at and finished[r][1] and created_at[r])
        fig.update({
            "complete": t_all_done[0] is not None and states.get("succeeded") == a.runs,
            "succeeded": states.get("succeeded", 0),
            "other_final_states": {k: v for k, v in states.items() if k != "succeeded"},
            "create_errors": len(errors), "create_error_samples": errors[:3],
            "total_secs": round(total, 3),
            "runs_per_sec": round(states.get("succeeded", 0) / total, 1),
            "steps_done": int(done1 - done0),
            "steps_per_sec": round((done1 - done0) / total, 1),
            "create_secs": round((t_created[0] or t1) - t0, 3),
            "create_per_sec": round(len(lat) / ((t_created[0] or t1) - t0), 1),
            "create_p50_ms": round(pct(lat, 50) * 1000, 2),
            "create_p99_ms": round(pct(lat, 99) * 1000, 2),
            "run_p50_secs": round(pct(per_run, 50), 3) if per_run else None,
            "run_p99_secs": round(pct(per_run, 99), 3) if per_run else None,
            "daemon_cpu_pct": round(100.0 * (c1 - c0) / CLK_TCK / (t1 - t0), 1),
            "machine_busy_pct": round(100.0 * (mb1 - mb0) / max(1, mt1 - mt0), 1),
            "client_cpu_pct": round(100.0 * client_cpu / (t1 - t0), 1),
            "other_cpu_pct": round(max(0.0, 100.0 * ((mb1 - mb0) / CLK_TCK - (c1 - c0) / CLK_TCK
                                                     - client_cpu) / (t1 - t0)), 1),
            "db_bytes": sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp)
                            if f.startswith("bench.db")),
        })
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(5)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return fig


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--workers", default="4",
                    help="cutoverd --workers values, comma-separated (default 4)")
    ap.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    ap.add_argument("--http-threads", type=int, default=None)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--wait-quiet", type=float, default=60.0,
                    help="before each measurement, wait up to this many seconds for the "
                         "machine to be < 15 %% busy (0: don't)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    try:
        workers = [int(w) for w in a.workers.split(",") if w.strip()]
    except ValueError:
        ap.error("--workers: comma-separated integers")
    if not workers or any(not 1 <= w <= 64 for w in workers) or \
            not (1 <= a.runs <= 100000 and 1 <= a.clients <= 64 and 1 <= a.timeout <= 3600):
        ap.error("option out of range")
    binary = build(os.path.abspath(a.build_dir), "tests/cutoverd-test")
    results, ok = [], True
    for w in workers:
        f = bench_one(binary, a, w)
        results.append(f)
        ok = ok and f["complete"]
        print(f"runner-throughput: --workers {w}, {a.clients} client threads, http-threads "
              f"{f['http_threads']}: {f['succeeded']}/{a.runs} runs succeeded in "
              f"{f['total_secs']:.2f} s = {f['runs_per_sec']} runs/s, "
              f"{f['steps_per_sec']} steps/s ({f['steps_done']} steps done)"
              + ("" if f["complete"] else "  [INCOMPLETE]"))
        print(f"  creates: {a.runs} in {f['create_secs']:.2f} s = {f['create_per_sec']}/s, "
              f"latency p50 {f['create_p50_ms']} ms, p99 {f['create_p99_ms']} ms, errors "
              f"{f['create_errors']} {f['create_error_samples'] or ''}")
        print(f"  per run (created -> succeeded): p50 {f['run_p50_secs']} s, p99 "
              f"{f['run_p99_secs']} s; daemon CPU {f['daemon_cpu_pct']} % of one core, client "
              f"{f['client_cpu_pct']} %, other processes {f['other_cpu_pct']} %; db "
              f"{f['db_bytes'] / 1e6:.1f} MB"
              + (f"; other final states {f['other_final_states']}"
                 if f["other_final_states"] else ""))
        sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
