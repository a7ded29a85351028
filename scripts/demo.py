#!/usr/bin/python3
"""The cutover demo: a complete migration of real sample data through the
REST API only, as a pipeline would drive it.

It starts two throwaway PostgreSQL 15 clusters on loopback under the demo
directory -- "legacy" (wal_level=logical) with pagila and chinook, and
"target" with the databases db1 and db2 -- and cutoverd with its SQLite file
beside them. Then:

1. the eight-step oracle-to-postgres plan on the pg-logical engine moves
   pagila from legacy to db1, while a writer inserts, updates and deletes
   rows on the source during CDC; the cutover gate is approved through the
   API once the writer stops; the validation report (counts and checksums
   per table) must be all equal;
2. the view-migration plan stages chinook's invoice_line into db1, links
   chinook's invoice in db2 through postgres_fdw, builds the view and the
   final table, loads it, keeps it in sync, and validates it.

Progress comes from the run's Server-Sent Events stream. Any failure stops
the demo with the failing step's error and exit status 1.

Usage: demo.py [--keep] [--non-interactive] [--port N] [--dir DIR]
       demo.py cleanup [--dir DIR]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import cutoverd_proc  # noqa: E402
from pgcluster import Cluster, load_chinook, load_pagila  # noqa: E402

COLOR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def c(text, code):
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def say(text=""):
    print(text, flush=True)


class DemoError(Exception):
    pass


# ------------------------------------------------------------------ state


def state_path(d):
    return os.path.join(d, "state.json")


def cleanup(d, remove=True):
    """Stops what an earlier demo left running in d and removes d (unless
    remove is False: a failed demo keeps its logs)."""
    try:
        with open(state_path(d)) as f:
            st = json.load(f)
    except (OSError, ValueError):
        st = {}
    pid = st.get("cutoverd_pid")
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    for name in st.get("clusters", []):
        cl = Cluster(name, base_dir=d)
        cl.tmpdir = os.path.join(d, name)
        cl.datadir = os.path.join(cl.tmpdir, "data")
        cl.running = True
        cl.stop(cleanup=False)
    if remove:
        shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------ API


class Api:
    def __init__(self, url):
        self.url = url
        self.s = requests.Session()

    def call(self, method, path, **kw):
        r = self.s.request(method, self.url + path, timeout=30, **kw)
        if r.status_code >= 400:
            raise DemoError(f"{method} {path} -> {r.status_code}: {r.text}")
        return r.json() if r.headers.get("Content-Type", "").startswith("application/json") \
            else r.text

    def post(self, path, body=None, **kw):
        return self.call("POST", path, json=body, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)


class Follower(threading.Thread):
    """Reads the run's SSE stream and prints steps, table progress and CDC
    lag as lines; remembers the run's state."""

    def __init__(self, api, run_id, plan_steps):
        super().__init__(daemon=True)
        self.api = api
        self.run_id = run_id
        self.steps = plan_steps
        self.state = "pending"
        self.current = None
        self.error = None
        self.events = 0
        self.last_stats = 0.0
        self.finished = threading.Event()

    def run(self):
        url = f"{self.api.url}/v1/runs/{self.run_id}/events"
        last_id = None
        while not self.finished.is_set():
            headers = {"Accept": "text/event-stream"}
            if last_id:
                headers["Last-Event-ID"] = str(last_id)
            try:
                with requests.get(url, headers=headers, stream=True, timeout=(5, 60)) as r:
                    ev = {}
                    for line in r.iter_lines(decode_unicode=True):
                        if line == "":
                            if "data" in ev:
                                last_id = ev.get("id", last_id)
                                self.show(ev.get("event"), json.loads(ev["data"]))
                            ev = {}
                            if self.finished.is_set():
                                return
                            continue
                        if line.startswith(":"):
                            continue
                        k, _, v = line.partition(":")
                        ev[k] = v[1:] if v.startswith(" ") else v
            except requests.RequestException:
                time.sleep(0.5)  # reconnect, resuming after Last-Event-ID

    def show(self, kind, d):
        self.events += 1
        if kind == "run.state":
            self.state = d["to"]
            color = {"succeeded": "32", "failed": "31", "awaiting_approval": "33"}.get(
                d["to"], "36")
            say(c(f"  run {d['to']}", color) + (f": {d['error']}" if d.get("error") else ""))
            if d["to"] in ("succeeded", "failed", "cancelled"):
                self.finished.set()
        elif kind == "step.state":
            if d["to"] in ("running", "skipped", "awaiting_approval", "succeeded", "failed"):
                n = self.steps.index(d["step"]) + 1 if d["step"] in self.steps else 0
                aws = f"AWS step {d['aws_step']}, " if d.get("aws_step") else ""
                mark = {"succeeded": c("done", "32"), "failed": c("FAILED", "31"),
                        "skipped": "skipped", "awaiting_approval": c("awaiting approval", "33"),
                        "running": "running"}[d["to"]]
                say(f"  [{n:2d}/{len(self.steps)}] {d['step']:<28} {aws}{mark}"
                    + (f": {d['error']}" if d.get("error") else ""))
            if d["to"] == "running":
                self.current = d["step"]
            if d["to"] == "failed":
                self.error = f"step {d['step']} failed: {d.get('error')}"
        elif kind == "step.retry":
            say(f"        retry {d['attempt']}/{d['max_attempts']} in {d['retry_in_ms']} ms: "
                f"{d['error']}")
        elif kind == "table.statistics":
            now = time.monotonic()
            ts = d["task_stats"]
            sig = (ts["TablesLoaded"], ts["TablesLoading"], ts["TablesQueued"])
            if sig != getattr(self, "last_sig", None) and \
                    (now - self.last_stats >= 1.0 or ts["FullLoadProgressPercent"] >= 100):
                self.last_sig = sig
                self.last_stats = now
                pct = ts["FullLoadProgressPercent"]
                bar = "#" * int(pct / 5) + "." * (20 - int(pct / 5))
                say(f"        full load [{bar}] {pct:5.1f}%  tables loaded "
                    f"{ts['TablesLoaded']}, loading {ts['TablesLoading']}, "
                    f"queued {ts['TablesQueued']}")
                for t in d["tables"]:
                    if t["TableState"] != "Table completed":
                        say(f"          {t['SchemaName']}.{t['TableName']}: {t['TableState']},"
                            f" {t['FullLoadRows']} rows")
        elif kind == "engine.status" and "CDCLatencyTarget" in d:
            say(f"        CDC latency {d['CDCLatencyTarget']:.2f} s, "
                f"{d['BytesBehind']} bytes behind")
        elif kind == "engine.status":
            say(f"        task {d.get('Status')} ({d.get('StopReason', '')})")
        elif kind == "step.progress" and d.get("object"):
            say(f"        {d['step']}: {d['object']} ({d['done']}/{d['total']})")


# ------------------------------------------------------------------ writer


class Writer(threading.Thread):
    """Changes rows on the source while CDC runs, so that changes flow."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.stop_flag = threading.Event()
        self.changes = 0
        self.error = None

    def run(self):
        import psycopg2
        try:
            conn = psycopg2.connect(self.cluster.dsn("pagila"))
            conn.autocommit = True
            cur = conn.cursor()
            i = 0
            while not self.stop_flag.is_set() and i < 5000:
                cur.execute("INSERT INTO actor (first_name, last_name) VALUES (%s, 'DEMO')"
                            " RETURNING actor_id", (f"W{i}",))
                aid = cur.fetchone()[0]
                cur.execute("UPDATE customer SET email = %s WHERE customer_id = %s",
                            (f"demo{i}@example.com", 1 + i % 599))
                if i % 2:
                    cur.execute("DELETE FROM actor WHERE actor_id = %s", (aid,))
                    self.changes += 1
                self.changes += 2
                i += 1
                self.stop_flag.wait(0.02)
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported by the demo
            self.error = e


# ------------------------------------------------------------------ demo


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise DemoError(f"timed out after {timeout}s waiting for {what}")


def endpoint(api, pid, name, role, cluster, db):
    return api.post(f"/v1/projects/{pid}/endpoints", {
        "name": name, "role": role, "engine": "postgres", "host": "127.0.0.1",
        "port": cluster.port, "database": db, "username": cluster.user,
        "password": cluster.password, "sslmode": "disable"})["id"]


def follow_run(api, run_id, plan, on_step=None, timeout=600):
    steps = [s["id"] for s in api.get(f"/v1/plans/{plan}")["steps"]]
    f = Follower(api, run_id, steps)
    f.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"/v1/runs/{run_id}")
        if on_step:
            on_step(run)
        if run["state"] in ("succeeded", "failed", "cancelled"):
            f.finished.wait(5)
            if run["state"] != "succeeded":
                failed = [s for s in run["steps"] if s["state"] == "failed"]
                why = f"{failed[0]['id']}: {failed[0]['last_error']}" if failed else run["error"]
                raise DemoError(f"run {run_id} {run['state']} at step {why}")
            return run
        time.sleep(0.3)
    raise DemoError(f"run {run_id} did not finish in {timeout}s")


def run_demo(args):
    d = os.path.abspath(args.dir)
    cleanup(d)
    os.makedirs(d)
    os.chmod(d, 0o755)
    if os.getuid() == 0 and subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", d],
                                           check=False).returncode != 0:
        raise DemoError(f"{d} is not reachable by the postgres user that runs the clusters: "
                        "choose another --dir")
    state = {"clusters": [], "cutoverd_pid": None}

    def save():
        with open(state_path(d), "w") as fh:
            json.dump(state, fh)

    t0 = time.monotonic()
    say(c("== Two PostgreSQL 15 clusters on loopback", "1"))
    legacy = Cluster("legacy", base_dir=d)
    target = Cluster("target", base_dir=d)
    for cl in (legacy, target):
        cl.start()
        state["clusters"].append(cl.name)
        save()
    legacy.createdb("pagila")
    load_pagila(legacy, "pagila")
    legacy.createdb("chinook")
    load_chinook(legacy, "chinook")
    target.createdb("db1")
    target.createdb("db2")
    load_chinook(target, "db2")
    say(f"  legacy  127.0.0.1:{legacy.port}  pagila ({legacy.scalar('SELECT count(*) FROM rental', 'pagila')} rentals), chinook")
    say(f"  target  127.0.0.1:{target.port}  db1 (empty), db2 (chinook: the existing invoice table)")

    say(c("== cutoverd", "1"))
    binary = os.environ.get("CUTOVERD", os.path.join(ROOT, "build", "cutoverd"))
    log = open(os.path.join(d, "cutoverd.log"), "ab")
    try:
        proc, port = cutoverd_proc.start(binary, d, ["--db", os.path.join(d, "cutover.db")],
                                         port=args.port, log=log)
    except cutoverd_proc.StartError as e:
        raise DemoError(f"{e}; see {d}/cutoverd.log")
    state["cutoverd_pid"] = proc.pid
    save()
    url = f"http://127.0.0.1:{port}"
    api = Api(url)

    def ready():
        if proc.poll() is not None:
            raise DemoError(f"cutoverd exited ({proc.returncode}); see {d}/cutoverd.log")
        try:
            return requests.get(url + "/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    wait_for(ready, 15, "cutoverd")
    say(f"  {url}  (store {d}/cutover.db)")

    say(c("== Project and endpoints (POST /v1/projects, /v1/projects/{id}/endpoints)", "1"))
    pid = api.post("/v1/projects", {"name": "demo", "description": "pagila and chinook"},
                   headers={"Idempotency-Key": "demo-project"})["id"]
    src = endpoint(api, pid, "legacy-pagila", "source", legacy, "pagila")
    tgt = endpoint(api, pid, "target-db1", "target", target, "db1")
    src2 = endpoint(api, pid, "legacy-chinook", "source", legacy, "chinook")
    db2 = endpoint(api, pid, "target-db2", "target", target, "db2")
    say(f"  project {pid}; endpoints {src}, {tgt}, {src2}, {db2} (passwords write-only)")

    say(c("== Run 1: oracle-to-postgres on pg-logical (pagila -> db1)", "1"))
    run = api.post(f"/v1/projects/{pid}/runs", {
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": {"source_endpoint_id": src, "target_endpoint_id": tgt,
                       "schemas": ["public"], "sequence_gap": 1000}})
    rid1 = run["id"]
    say(f"  run {rid1}: GET {url}/v1/runs/{rid1}/events (text/event-stream)")
    writer = Writer(legacy)
    approved = []

    cdc_steps = ("full_load", "restore_constraints", "resume_cdc", "await_cdc_sync",
                 "cutover_gate")

    def on_step(r):
        if r["current_step"] in cdc_steps and not writer.is_alive() \
                and not writer.stop_flag.is_set():
            say(c("  >> a writer inserts, updates and deletes on the source: changes are "
                  "captured in the replication slot and applied by CDC", "35"))
            writer.start()
        if r["state"] == "awaiting_approval" and r["current_step"] == "cutover_gate" \
                and not approved:
            # let changes flow for a while before the operator quiesces the source
            wait_for(lambda: writer.changes >= 300 or writer.error or not writer.is_alive(),
                     60, "the writer's changes")
            writer.stop_flag.set()
            if writer.is_alive():
                writer.join(30)
            if writer.error:
                raise DemoError(f"writer failed: {writer.error}")
            say(c(f"  >> source quiesced after {writer.changes} changes; approving the "
                  "cutover (POST .../steps/cutover_gate/approve)", "35"))
            api.post(f"/v1/runs/{rid1}/steps/cutover_gate/approve")
            approved.append(True)
    run1 = follow_run(api, rid1, "oracle-to-postgres", on_step)

    report = api.get(f"/v1/runs/{rid1}/artifacts/validation.json")
    if report.get("final_validation") == "changed":
        # validated continuously during CDC; at the gate only what changed since
        say(c("== Validation (continuously during CDC, then the changed keys at the gate)",
              "1"))
        say(f"  changed keys validated at the gate: {report.get('changed_keys_validated', 0)}")
        for name, t in sorted(report["tables"].items()):
            ok = c("equal", "32") if t["match"] else c("DIFFERENT", "31")
            say(f"  {name:<28} {t.get('rows_validated', 0):>7} rows validated in "
                f"{t.get('chunks_done', 0)} chunks  {ok}")
    else:
        say(c("== Validation (counts and checksums per table, source vs target)", "1"))
        for name, t in sorted(report["tables"].items()):
            ok = c("equal", "32") if t["match"] else c("DIFFERENT", "31")
            say(f"  {name:<28} {t['source']['rows']:>7} rows  checksum "
                f"{t['source']['checksum']:>22}  {ok}")
    if not report["match"]:
        raise DemoError(f"{report['mismatches']} tables differ")
    say(c(f"  validation: all {len(report['tables'])} tables match", "32"))
    script = api.get(f"/v1/runs/{rid1}/artifacts/prepare_target.sql")
    fks = [ln for ln in script.splitlines() if "FOREIGN KEY" in ln]
    idx = [ln for ln in script.splitlines() if ln.lstrip().upper().startswith("CREATE INDEX")
           or "CREATE INDEX" in ln.upper()]
    say(c("== Artifacts captured by prepare_target (GET /v1/runs/{id}/artifacts)", "1"))
    for a in api.get(f"/v1/runs/{rid1}/artifacts")["items"]:
        say(f"  {a['name']:<28} {a['size']:>7} bytes  ({a['step_id']})")
    say(f"  prepare_target.sql: {len(fks)} foreign keys, {len(idx)} index statements, e.g.")
    for ln in (fks[:2] + idx[:2]):
        say("    " + ln.strip()[:110])

    say(c("== Run 2: view-migration on pg-logical (chinook invoice_line + db2 invoice)", "1"))
    run = api.post(f"/v1/projects/{pid}/runs", {
        "plan": "view-migration", "engine": "pg-logical",
        "parameters": {
            "source_endpoint_id": src2, "target_endpoint_id": tgt, "remote_endpoint_id": db2,
            "source_table": {"schema": "public", "name": "invoice_line"},
            "staging_schema": "public",
            "remote_table": {"schema": "public", "name": "invoice"},
            "view": {"schema": "public", "name": "invoice_line_v", "join": "inner",
                     "keys": [{"left": "invoice_id", "right": "invoice_id"}],
                     "columns": [{"side": "left", "column": "invoice_line_id"},
                                 {"side": "left", "column": "invoice_id"},
                                 {"side": "left", "column": "track_id"},
                                 {"side": "left", "column": "unit_price"},
                                 {"side": "left", "column": "quantity"},
                                 {"side": "right", "column": "customer_id"},
                                 {"side": "right", "column": "invoice_date"},
                                 {"side": "right", "column": "total",
                                  "alias": "invoice_total"}]},
            "final_table": {"schema": "public", "name": "invoice_line_final",
                            "key": ["invoice_line_id"]},
            "batch_size": 500, "ongoing_sync": True}})
    rid2 = run["id"]
    run2 = follow_run(api, rid2, "view-migration")
    vrep = api.get(f"/v1/runs/{rid2}/artifacts/validation.json")
    if not vrep.get("match"):
        raise DemoError(f"view migration validation: {json.dumps(vrep)[:500]}")
    say(c(f"  view migration validation: match (view {vrep['view']['count']} rows, final "
          f"table {vrep['final']['count']} rows, checksums {vrep['view']['checksum']} = "
          f"{vrep['final']['checksum']}, missing in final "
          f"{vrep['missing_in_final']['count']}, missing in view "
          f"{vrep['missing_in_view']['count']}, different {vrep['different']['count']})", "32"))

    say(c("== Summary", "1"))
    for r in (run1, run2):
        rows = sum(t["source"]["rows"] if "source" in t else t.get("rows_validated", 0)
                   for t in report["tables"].values()) if r is run1 else \
            int(target.scalar("SELECT count(*) FROM invoice_line_final", "db1"))
        steps = [s for s in r["steps"] if s["state"] == "succeeded"]
        dur = sum(s["duration_ms"] for s in r["steps"]) / 1000
        say(f"  {r['plan']:<20} {r['id']}  {r['state']}  {len(steps)} steps, {rows} rows, "
            f"{dur:.1f} s of step time")
    say(f"  demo took {time.monotonic() - t0:.0f} s")
    say("  inspect:")
    say(f"    curl -s {url}/v1/runs/{rid1} | python3 -m json.tool")
    say(f"    curl -s '{url}/v1/runs/{rid1}/events?limit=20'")
    say(f"    curl -s -N -H 'Accept: text/event-stream' {url}/v1/runs/{rid2}/events")
    say(f"    curl -s {url}/v1/runs/{rid1}/artifacts/prepare_target.sql")
    say(c("demo: succeeded", "32"))
    if args.keep:
        say(f"  kept running: cutoverd {url}, legacy 127.0.0.1:{legacy.port}, "
            f"target 127.0.0.1:{target.port} (password in {d}/state.json)")
        state["passwords"] = {"legacy": legacy.password, "target": target.password}
        save()
        os.chmod(state_path(d), 0o600)
        say("  stop with: scripts/demo.sh cleanup")
    else:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        for cl in (legacy, target):
            cl.stop(cleanup=False)
        shutil.rmtree(d, ignore_errors=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", default="run", choices=["run", "cleanup"])
    ap.add_argument("--keep", action="store_true", help="leave everything running")
    ap.add_argument("--non-interactive", action="store_true",
                    help="no colours; progress as plain lines")
    ap.add_argument("--port", type=int, default=int(os.environ.get("CUTOVER_DEMO_PORT", 0)),
                    help="port for cutoverd (default 0: any free port, printed)")
    # under /tmp: the clusters run as the postgres user when the demo runs as
    # root, and that user must be able to reach their directories
    ap.add_argument("--dir", default=os.environ.get(
        "CUTOVER_DEMO_DIR", os.path.join("/tmp", f"cutover-demo-{os.getuid()}")))
    args = ap.parse_args()
    global COLOR
    if args.non_interactive:
        COLOR = False
    if args.command == "cleanup":
        cleanup(os.path.abspath(args.dir))
        say("demo removed")
        return 0
    try:
        return run_demo(args)
    except (DemoError, requests.RequestException, OSError) as e:
        say(c(f"demo: FAILED: {e}", "31"))
        d = os.path.abspath(args.dir)
        say(f"  logs: {d}/cutoverd.log, {d}/legacy/server.log, {d}/target/server.log")
        cleanup(d, remove=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
