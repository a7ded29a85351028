#!/usr/bin/python3
"""pglogical-cdc.py - replication lag of the pg-logical engine's CDC under a
steady pgbench load on the source, PostgreSQL 15 to PostgreSQL 15 on
loopback.

Usage: bench/pglogical-cdc.py [--scale N] [--clients N] [--rate TPS]
                              [--duration SECS] [--engine-phase SECS]
                              [--history-key full|pk]
                              [--source-sync-commit on|off]
                              [--build-dir DIR] [--keep] [--json FILE]

Set-up: two clusters from scripts/pgcluster.py with bench/_bench_pg.py's
MIGRATION_SETTINGS (the full-load benchmark's), except that the source keeps
PostgreSQL's default synchronous_commit=on (--source-sync-commit; with off,
the source's own WAL writer delay, up to wal_writer_delay = 200 ms, comes
before a logical walsender may send a commit). `pgbench -i -s SCALE`
(default 10) on the source; pgbench_history has no primary key, so it gets
REPLICA IDENTITY FULL (--history-key full, default: it is insert-only, the
identity is never used to find a row) or a bigserial primary key
(--history-key pk). cutoverd (release build) then runs the
oracle-to-postgres plan on the pg-logical engine with {"schemas":
["public"], "validate_tables": false} up to the cutover gate: the
subscription is enabled and in CDC.

Phase 1 (--duration, default 60 s): `pgbench -c CLIENTS -j 2 -T DURATION
-R RATE -P 10` (default 4 clients, 200 tps of the built-in TPC-B-like
script: it updates accounts, tellers and branches and inserts into
history). Once a second (a fixed schedule) the benchmark samples the source:
pg_stat_replication.replay_lag (the engine's CDCLatencyTarget), write_lag,
flush_lag, and pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)
of the run's slot (the engine's BytesBehind) and ... - replay_lsn (bytes
not yet applied); then pgbench_history on the source and right after on
the target (every pgbench transaction inserts one row): tx_behind = source
count - target count (transactions committed but not yet visible on the
target), history_gap_s = source max(mtime) - target max(mtime) (how far,
in source time, the newest applied row trails the newest committed one;
0 when caught up), and freshness_s = now() - max(mtime) on the target
(mtime is the source transaction's start, both clusters share the clock;
it includes pgbench's gap between transactions, 1/RATE on average).

Phase 2 (--engine-phase, default 30 s, 0 skips it): the engine's own view.
The same load again; 3 s in, the cutover gate is approved, so final_sync
polls the source every 500 ms (await_cdc_latency with threshold 0) and
publishes engine.status events (CDCLatencyTarget, BytesBehind) until the
slot has caught up, which is when the load stops. The events inside the
load window are read back with GET /v1/runs/{id}/events?type=engine.status.
Afterwards every pgbench table must match the source (count and md5), and
no slot, publication or subscription may be left.

Median and p99 (nearest rank: with 60 samples p99 is the largest) over the
samples taken while pgbench ran. Every wait has a deadline; loopback only.
Exits non-zero only when the set-up or the run fails.
"""
import argparse
import datetime
import json
import os
import re
import threading
import time

import _bench_pg as b

SRC_DB, TGT_DB = "bench", "target"
TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]


class Sampler(threading.Thread):
    """Samples the source's slot/walsender and the target's freshness once a
    second on a fixed schedule until stopped (or limit_s passes)."""

    def __init__(self, src, tgt, slot, limit_s):
        super().__init__(daemon=True)
        self.src, self.tgt, self.slot, self.limit_s = src, tgt, slot, limit_s
        self.stop_flag = threading.Event()
        self.samples = []
        self.error = None

    def run(self):
        import psycopg2
        try:
            sc = psycopg2.connect(self.src.dsn(SRC_DB))
            tc = psycopg2.connect(self.tgt.dsn(TGT_DB))
            sc.autocommit = tc.autocommit = True
            scur, tcur = sc.cursor(), tc.cursor()
            start = time.monotonic()
            n = 0
            while not self.stop_flag.is_set() and time.monotonic() - start < self.limit_s:
                t = time.time()
                scur.execute(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,"
                    " pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint,"
                    " extract(epoch FROM r.write_lag)::float8,"
                    " extract(epoch FROM r.flush_lag)::float8,"
                    " extract(epoch FROM r.replay_lag)::float8"
                    " FROM pg_replication_slots s"
                    " LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid"
                    " WHERE s.slot_name = %s", (self.slot,))
                row = scur.fetchone()
                # the source first, then the target: what the source had
                # committed that the target does not show yet
                scur.execute("SELECT count(*), max(mtime) FROM pgbench_history")
                s_count, s_max = scur.fetchone()
                tcur.execute("SELECT count(*), max(mtime),"
                             " extract(epoch FROM clock_timestamp() - max(mtime))::float8"
                             " FROM pgbench_history")
                t_count, t_max, fresh = tcur.fetchone()
                gap = None
                if s_max is not None and t_max is not None:
                    gap = max(0.0, (s_max - t_max).total_seconds())
                if row:
                    self.samples.append({
                        "t": t, "bytes_behind": row[0], "bytes_unapplied": row[1],
                        "write_lag_s": row[2], "flush_lag_s": row[3], "replay_lag_s": row[4],
                        "freshness_s": fresh, "tx_behind": s_count - t_count,
                        "history_gap_s": gap})
                n += 1
                # fixed schedule: the n-th sample at start + n seconds
                self.stop_flag.wait(max(0.0, start + n - time.monotonic()))
            sc.close()
            tc.close()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            self.error = e


def stats(values, nd=4):
    vals = [v for v in values if v is not None]
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "median": round(b.median(vals), nd),
            "p99": round(b.pct(vals, 99), nd), "max": round(max(vals), nd),
            "min": round(min(vals), nd)}


def run_pgbench(src, a, secs):
    """pgbench for secs seconds; returns (start, end, parsed summary)."""
    args = ["-c", str(a.clients), "-j", "2", "-T", str(secs)]
    if a.rate:
        args += ["-R", str(a.rate)]
    args += ["-P", "10", "--no-vacuum"]
    t0 = time.time()
    p = b.pgbench(src, SRC_DB, args, secs + 120)
    t1 = time.time()
    out = p.stdout + p.stderr
    summ = {"command": "pgbench " + " ".join(args) + " " + SRC_DB}
    for key, rx in (("transactions", r"number of transactions actually processed: (\d+)"),
                    ("tps", r"tps = ([\d.]+)"),
                    ("latency_avg_ms", r"latency average = ([\d.]+) ms"),
                    ("schedule_lag_avg_ms", r"rate limit schedule lag: avg ([\d.]+)"),
                    ("failed", r"number of failed transactions: (\d+)")):
        m = re.search(rx, out)
        if m:
            summ[key] = float(m.group(1))
    return t0, t1, summ


def window(samples, t0, t1):
    return [s for s in samples if t0 + 1.0 <= s["t"] <= t1]


def summarise(samples):
    return {
        "samples": len(samples),
        "replay_lag_s": stats([s["replay_lag_s"] for s in samples]),
        "replay_lag_null": sum(1 for s in samples if s["replay_lag_s"] is None),
        "write_lag_s": stats([s["write_lag_s"] for s in samples]),
        "flush_lag_s": stats([s["flush_lag_s"] for s in samples]),
        "bytes_behind": stats([s["bytes_behind"] for s in samples], 0),
        "bytes_unapplied": stats([s["bytes_unapplied"] for s in samples], 0),
        "freshness_s": stats([s["freshness_s"] for s in samples]),
        "tx_behind": stats([s["tx_behind"] for s in samples], 1),
        "history_gap_s": stats([s["history_gap_s"] for s in samples]),
    }


def fingerprint(cluster, db, table):
    return cluster.scalar(f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ','"
                          f" ORDER BY t::text)), '') FROM {table} t", db)


def epoch(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=int, default=200,
                    help="pgbench -R (tps); 0: unthrottled")
    ap.add_argument("--duration", type=int, default=60, help="phase 1 load (s)")
    ap.add_argument("--engine-phase", type=int, default=30,
                    help="phase 2 load (s) with the gate approved; 0 skips it")
    ap.add_argument("--history-key", choices=("full", "pk"), default="full")
    ap.add_argument("--source-sync-commit", choices=("on", "off"), default="on")
    ap.add_argument("--build-dir", default=os.path.join(b.ROOT, "build-release"))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    if not 1 <= a.duration <= 3600 or not 0 <= a.engine_phase <= 3600 or a.rate < 0:
        ap.error("durations must be within an hour")
    binary = b.build(a.build_dir)

    settings = dict(b.MIGRATION_SETTINGS)
    src_settings = dict(settings, synchronous_commit=a.source_sync_commit)
    src = b.start_clusters(["cdc-source"], src_settings, keep=a.keep)[0]
    try:
        tgt = b.start_clusters(["cdc-target"], settings, keep=a.keep)[0]
    except Exception:
        src.stop(cleanup=not a.keep)
        raise
    d = None
    fig = {"scale": a.scale, "clients": a.clients, "rate": a.rate, "duration": a.duration,
           "history_key": a.history_key, "machine": {"cpus": os.cpu_count()}}
    try:
        src.createdb(SRC_DB)
        tgt.createdb(TGT_DB)
        b.pgbench(src, SRC_DB, ["-i", "-s", str(a.scale), "-q"], 600)
        if a.history_key == "full":
            src.psql("ALTER TABLE pgbench_history REPLICA IDENTITY FULL", SRC_DB)
        else:
            src.psql("ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY", SRC_DB)
        src.psql("VACUUM ANALYZE", SRC_DB)
        names = ["fsync", "synchronous_commit", "full_page_writes", "wal_level",
                 "shared_buffers", "wal_writer_delay", "wal_receiver_status_interval",
                 "max_wal_size", "autovacuum"]
        fig["cluster_settings"] = {"source": b.server_settings(src, names),
                                   "target": b.server_settings(tgt, names)}

        d = b.Cutoverd(binary).start()
        rid = d.start_o2p_run("cdc", src, SRC_DB, tgt, TGT_DB,
                              {"schemas": ["public"], "validate_tables": False})
        run = d.wait_run(rid, ("awaiting_approval",), 600, "the cutover gate")
        slot = b.step(run, "full_load")["outputs"]["main"]["slot"]
        fig["slot"] = slot
        fig["await_cdc_sync_outputs"] = b.step(run, "await_cdc_sync")["outputs"].get("cdc")
        b.log(f"run {rid} at the cutover gate; slot {slot}")

        # ---- phase 1: steady load, the run waits at the gate
        sampler = Sampler(src, tgt, slot, a.duration + a.engine_phase + 300)
        sampler.start()
        time.sleep(2.0)
        fig["before_load"] = summarise(sampler.samples[-2:])
        b.log(f"phase 1: pgbench {a.duration}s at {a.rate} tps ...")
        meter = b.CpuMeter([src, tgt]).start()
        t0, t1, pg1 = run_pgbench(src, a, a.duration)
        load1 = meter.stop()
        time.sleep(2.0)
        s1 = window(sampler.samples, t0, t1)
        fig["phase1"] = {"pgbench": pg1, "load": load1, "source": summarise(s1),
                         "series_replay_lag_s": [s["replay_lag_s"] for s in s1],
                         "series_bytes_behind": [s["bytes_behind"] for s in s1]}
        b.log(json.dumps({k: v for k, v in fig["phase1"]["source"].items()}))

        # ---- phase 2: the engine's view (final_sync polls under load)
        if a.engine_phase:
            b.log(f"phase 2: pgbench {a.engine_phase}s, gate approved after 3 s ...")
            result = {}

            def load():
                result["t0"], result["t1"], result["pgbench"] = run_pgbench(
                    src, a, a.engine_phase)
            th = threading.Thread(target=load, daemon=True)
            th.start()
            time.sleep(3.0)
            d.post(f"/v1/runs/{rid}/steps/cutover_gate/approve")
            th.join(a.engine_phase + 180)
            run = d.wait_run(rid, ("succeeded",), 600, "the run to finish")
            fs = b.step(run, "final_sync")
            events = d.events(rid, "engine.status")
            t0, t1 = result["t0"], result["t1"]
            during = [e for e in events if e["data"].get("Status") == "running"
                      and t0 + 3.0 <= epoch(e["created_at"]) <= t1]
            s2 = window(sampler.samples, t0 + 3.0, t1)
            fig["phase2"] = {
                "pgbench": result["pgbench"],
                "final_sync_ms": fs["duration_ms"],
                "final_sync_finished_after_load_s": round(epoch(fs["finished_at"]) - t1, 2),
                "engine_status_events": len(during),
                "engine": {
                    "CDCLatencyTarget_s": stats([e["data"]["CDCLatencyTarget"] for e in during]),
                    "BytesBehind": stats([e["data"]["BytesBehind"] for e in during], 0)},
                "source": summarise(s2)}
            b.log(json.dumps(fig["phase2"]["engine"]))
        else:
            d.post(f"/v1/runs/{rid}/steps/cutover_gate/approve")
            run = d.wait_run(rid, ("succeeded",), 600, "the run to finish")
        sampler.stop_flag.set()
        sampler.join(10)
        if sampler.error:
            raise RuntimeError(f"sampler: {sampler.error!r}")

        mism = [t for t in TABLES
                if fingerprint(src, SRC_DB, t) != fingerprint(tgt, TGT_DB, t)]
        fig["target_matches_source"] = not mism
        fig["mismatched_tables"] = mism
        fig["leftovers"] = b.leftovers(src, SRC_DB, tgt, TGT_DB)
        fig["history_rows"] = int(src.scalar("SELECT count(*) FROM pgbench_history", SRC_DB))
        if mism or any(fig["leftovers"].values()):
            raise RuntimeError(f"after the run: mismatched {mism}, left {fig['leftovers']}")
    finally:
        if d:
            d.stop(cleanup=not a.keep)
        src.stop(cleanup=not a.keep)
        tgt.stop(cleanup=not a.keep)
    text = json.dumps(fig, indent=2)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
