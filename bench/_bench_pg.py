"""_bench_pg.py - shared helpers of the pg-logical benchmarks
(bench/pglogical-fullload.py, bench/pglogical-cdc.py).

Throwaway clusters come from scripts/pgcluster.py (PostgreSQL 15 on
127.0.0.1, run through ``runuser -u postgres`` when we are root); cutoverd is
the release build (<build-dir>/cutoverd, set up with
``meson setup -Dbuildtype=release`` when the build dir is absent). Every wait
has a deadline. Only the standard library, requests and psycopg2 (Debian
packages) are used.
"""
import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from _bench import (CLK_TCK, build, cutoverd_proc, machine_ticks, pct,  # noqa: E402,F401
                    wait_quiet, wait_until)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import pgcluster  # noqa: E402  (scripts/pgcluster.py)

PG_BINDIR = pgcluster.PG_BINDIR

# What a DBA would set on both servers for a bulk migration, on top of
# pgcluster's defaults (fsync=off, synchronous_commit=off,
# full_page_writes=off, shared_buffers=64MB, wal_level=logical). Applied to
# every cluster of a benchmark, so the engine and the tools it is compared
# with see the same servers.
MIGRATION_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "512MB",
    "wal_buffers": "64MB",
    "autovacuum": "off",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def median(values):
    return statistics.median(values) if values else float("nan")


# ------------------------------------------------------- machine load
#
# The machine may be shared with other work: every measurement records how
# busy the machine was before it and how much CPU processes other than ours
# took during it ("foreign" CPU: machine busy time minus the CPU of this
# script's process tree and of the clusters' postmasters and their children).

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _procs():
    """pid -> (ppid, utime+stime, cutime+cstime) of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(p)] = (int(st[1]), int(st[11]) + int(st[12]), int(st[13]) + int(st[14]))
    return out


def postmaster_pid(cluster):
    try:
        with open(os.path.join(cluster.datadir, "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError, TypeError):
        return None


class CpuMeter:
    """CPU of our process trees versus the whole machine between start() and
    stop(). Children that exit during the window are counted through their
    parents' cutime/cstime."""

    def __init__(self, clusters=()):
        self.clusters = list(clusters)

    def _ours(self):
        procs = _procs()
        roots = {os.getpid()} | {p for p in map(postmaster_pid, self.clusters) if p}
        kids = {}
        for pid, (ppid, _, _) in procs.items():
            kids.setdefault(ppid, []).append(pid)
        tree, todo = {}, list(roots)
        while todo:
            pid = todo.pop()
            if pid in procs and pid not in tree:
                tree[pid] = procs[pid][1] + procs[pid][2]
                todo += kids.get(pid, [])
        return tree

    def start(self):
        self.t0 = time.monotonic()
        self.m0 = machine_ticks()
        self.o0 = self._ours()
        return self

    def stop(self):
        m1 = machine_ticks()
        o1 = self._ours()
        secs = time.monotonic() - self.t0
        ours = sum(v - self.o0.get(pid, 0) for pid, v in o1.items())
        busy, total = m1[0] - self.m0[0], max(1, m1[1] - self.m0[1])
        ncpu = os.cpu_count() or 1
        return {"machine_busy_pct": round(100.0 * busy / total, 1),
                "ours_cpu_s": round(ours / CLK_TCK, 1),
                "foreign_cpu_pct": round(max(0.0, 100.0 * (busy - ours) / total), 1),
                "wall_s": round(secs, 2), "cpus": ncpu}


# --------------------------------------------------------------- clusters

def start_clusters(names, settings, keep=False):
    """Starts one pgcluster.Cluster per name with settings; returns them."""
    out = []
    try:
        for n in names:
            c = pgcluster.Cluster(n, **settings)
            c.start()
            out.append(c)
    except Exception:
        for c in out:
            c.stop(cleanup=not keep)
        raise
    return out


def run_tool(argv, env, timeout, what, **kw):
    """Runs argv; raises with its stderr tail when it fails."""
    p = subprocess.run(argv, env=env, timeout=timeout, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed ({p.returncode}): {p.stderr[-3000:]}")
    return p


def pgbench(cluster, db, args, timeout):
    return run_tool([os.path.join(PG_BINDIR, "pgbench")] + list(args) + [db],
                    cluster.env(), timeout, "pgbench " + " ".join(args))


def scale_repeat_args(doc, scale):
    """The --scale (pgbench scale) and --repeat (rounds, default 3) options
    of a micro-benchmark whose usage is doc's first line."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--scale", type=int, default=scale)
    ap.add_argument("--repeat", type=int, default=3)
    return ap.parse_args()


@contextlib.contextmanager
def pgbench_cluster(name, scale):
    """A throwaway cluster with MIGRATION_SETTINGS whose database "bench"
    holds pgbench's tables at scale; stopped and removed at the end."""
    with pgcluster.Cluster(name, **MIGRATION_SETTINGS) as c:
        c.createdb("bench")
        pgbench(c, "bench", ["-i", "-q", "-s", str(scale)], 600)
        yield c


def ab_round(results, key, label, rnd, wall, cpu, cpu_what):
    """Records round rnd of variant key of an A/B micro-benchmark in
    results ({key: [(wall s, cpu s)]}) and prints it."""
    results.setdefault(key, []).append((wall, cpu))
    print(f"round {rnd}: {label}: {cpu_what} {cpu:.2f} s, wall {wall:.2f} s", flush=True)


def ab_medians(results, label, cpu_what):
    """Prints each variant's median CPU and wall time; label(key) names it."""
    for key, r in results.items():
        print(f"median, {label(key)}: {cpu_what} {statistics.median(x[1] for x in r):.2f} s,"
              f" wall {statistics.median(x[0] for x in r):.2f} s")


def server_settings(cluster, names):
    q = ", ".join(f"current_setting('{n}')" for n in names)
    return dict(zip(names, cluster.psql(f"SELECT {q}").strip().split("|")))


# ---------------------------------------------------------------- cutoverd

class Cutoverd:
    """A release cutoverd on a free loopback port with a temporary --db."""

    def __init__(self, binary, workdir=None, log_level="warn"):
        self.binary = binary
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="cutover-bench-")
        self.log_level = log_level
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.workdir, "cutoverd.log")
        self.s = requests.Session()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc, self.port = cutoverd_proc.start(
            self.binary, self.workdir,
            ["--db", os.path.join(self.workdir, "bench.db"), "--log-level", self.log_level],
            log=self._log)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"cutoverd exited {self.proc.returncode}: {self.log()}")
            return self.s.get(self.url + "/readyz", timeout=1).status_code == 200
        wait_until(ready, 15, "cutoverd /readyz", 0.05)
        return self

    def stop(self, cleanup=True):
        """SIGTERM and wait; removes the temporary work directory (its SQLite
        file and log) unless cleanup is False."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            self._log.close()
        self.proc = None
        if cleanup and self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    # -- API -------------------------------------------------------------

    def post(self, path, body=None, expect=(200, 201)):
        r = self.s.post(self.url + path, json=body, timeout=30)
        if r.status_code not in expect:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else None

    def get(self, path, **params):
        r = self.s.get(self.url + path, params=params, timeout=30)
        r.raise_for_status()
        return r.json()

    def endpoint(self, pid, name, role, cluster, db):
        return self.post(f"/v1/projects/{pid}/endpoints", {
            "name": name, "role": role, "engine": "postgres", "host": "127.0.0.1",
            "port": cluster.port, "database": db, "username": cluster.user,
            "password": cluster.password, "sslmode": "disable"})["id"]

    def start_o2p_run(self, name, src, src_db, tgt, tgt_db, parameters):
        """Project, both endpoints and an oracle-to-postgres run on pg-logical."""
        pid = self.post("/v1/projects", {"name": name})["id"]
        s = self.endpoint(pid, "source", "source", src, src_db)
        t = self.endpoint(pid, "target", "target", tgt, tgt_db)
        params = {"source_endpoint_id": s, "target_endpoint_id": t}
        params.update(parameters)
        return self.post(f"/v1/projects/{pid}/runs", {
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": params})["id"]

    def run(self, rid):
        return self.get(f"/v1/runs/{rid}")

    def wait_run(self, rid, states, timeout, what, interval=0.2):
        def pred():
            r = self.run(rid)
            if r["state"] in states or r["state"] in ("failed", "cancelled"):
                return r
            return None
        r = wait_until(pred, timeout, what, interval)
        if r["state"] not in states:
            raise RuntimeError(f"run {rid} {r['state']} at {r.get('current_step')}: "
                               f"{r.get('error')} {step_errors(r)}")
        return r

    def events(self, rid, etype, limit=1000):
        """All events of type etype of the run (paged)."""
        out, after = [], 0
        for _ in range(1000):
            page = self.get(f"/v1/runs/{rid}/events", type=etype, limit=limit, after=after)
            out += page["items"]
            after = page["next_after"]
            if not page["more"]:
                break
        return out


def step_errors(run):
    return {s["id"]: s["last_error"] for s in run.get("steps", []) if s.get("last_error")}


def step(run, step_id):
    for s in run["steps"]:
        if s["id"] == step_id:
            return s
    raise KeyError(step_id)


def leftovers(src, src_db, tgt, tgt_db):
    """Replication objects left on either server (all zero after a clean run)."""
    return {
        "slots": int(src.scalar("SELECT count(*) FROM pg_replication_slots")),
        "publications": int(src.scalar("SELECT count(*) FROM pg_publication", src_db)),
        "subscriptions": int(tgt.scalar("SELECT count(*) FROM pg_subscription", tgt_db)),
    }
