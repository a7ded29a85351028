#!/usr/bin/python3
"""cutover-window.py - the downtime window of a pg-logical cutover, from the
approval of cutover_gate to the run's `succeeded`, at two data sizes under
the same write load.

Usage: bench/cutover-window.py [--scales 10,100] [--rounds 3] [--clients 4]
                               [--rate TPS] [--load-secs SECS]
                               [--final-validation changed|full|none]
                               [--chunk-rows N] [--validation-rate ROWS]
                               [--build-dir DIR] [--keep] [--json FILE]

Per scale: two clusters from scripts/pgcluster.py with bench/_bench_pg.py's
MIGRATION_SETTINGS; `pgbench -i -s SCALE` on the source; pgbench_history
gets a bigserial primary key (every table then has one, so all of them are
validated in key chunks). Per round: a fresh target database and a run of
the oracle-to-postgres plan on pg-logical with {"schemas": ["public"],
"final_validation": FINAL, "validation_chunk_rows": N,
"validation_rate_rows": R}. `pgbench -c CLIENTS -j 2 -R RATE` writes from
the creation of the run, through the full load, CDC and the continuous
validation, until the run waits at the gate and at least --load-secs have
passed; then the load stops (the source is quiesced) and the gate is
approved at once. The window is the run's finished_at minus the gate's
approved_at (both written by cutoverd), with the duration of each step
after the gate. Afterwards the target must match the source (count and
sum(abalance) of pgbench_accounts, counts of the others) and no slot,
publication or subscription may be left.

Medians over the rounds; the ratio window(largest scale) / window(smallest)
is printed with the goal (<= 1.2). The machine's load is recorded around
every window (the machine may be shared). Every wait has a deadline;
loopback only. Exits non-zero only when the set-up or a run fails.
"""
import argparse
import datetime
import json
import os
import signal
import subprocess
import time

import _bench_pg as b

SRC_DB = "bench"
AFTER_GATE = ["final_sync", "stop_task", "enable_triggers", "reset_sequences"]


def epoch(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def start_pgbench(src, a):
    argv = [os.path.join(b.PG_BINDIR, "pgbench"), "-c", str(a.clients), "-j", "2",
            "-T", "3600", "--no-vacuum"]
    if a.rate:
        argv += ["-R", str(a.rate)]
    # SIGINT back to its default: a script started in the background of a
    # shell inherits SIGINT ignored, and pgbench would write on past the gate
    return subprocess.Popen(argv + [SRC_DB], env=src.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stop_pgbench(p):
    """Stops pgbench (SIGINT, then SIGKILL after 10 s); returns how long
    stopping took in seconds, so a load that wrote on is visible."""
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return round(time.monotonic() - t0, 2)


def one_round(d, src, tgt, a, scale, n):
    tgt_db = f"target_{n}"
    tgt.createdb(tgt_db)
    params = {"schemas": ["public"], "final_validation": a.final_validation,
              "validation_chunk_rows": a.chunk_rows, "validation_rate_rows": a.validation_rate}
    hist = "SELECT count(*) FROM pgbench_history"
    txs_before = int(src.scalar(hist, SRC_DB))
    t_start = time.monotonic()
    load = start_pgbench(src, a)
    try:
        rid = d.start_o2p_run(f"window-{scale}-{n}", src, SRC_DB, tgt, tgt_db, params)
        run = d.wait_run(rid, ("awaiting_approval",), 3600, "the cutover gate", interval=0.5)
        left = a.load_secs - (time.monotonic() - t_start)
        if left > 0:
            time.sleep(left)  # the fixed load duration, not a synchronisation
    finally:
        stop_s = stop_pgbench(load)
    txs = int(src.scalar(hist, SRC_DB)) - txs_before  # one history row per transaction
    quiet = b.wait_quiet(20)
    meter = b.CpuMeter([src, tgt]).start()
    d.post(f"/v1/runs/{rid}/steps/cutover_gate/approve")
    run = d.wait_run(rid, ("succeeded",), 1800, "the run to finish", interval=0.05)
    machine = meter.stop()
    approved = epoch(b.step(run, "cutover_gate")["approved_at"])
    window = epoch(run["finished_at"]) - approved
    steps = {s: b.step(run, s)["duration_ms"] for s in AFTER_GATE}
    val = b.step(run, "await_cdc_sync")["outputs"].get("validation", {})
    fin = b.step(run, "final_sync")["outputs"].get("validation", {})
    acc = "SELECT count(*) || ':' || sum(abalance) FROM pgbench_accounts"
    same = src.scalar(acc, SRC_DB) == tgt.scalar(acc, tgt_db)
    for t in ("pgbench_branches", "pgbench_tellers", "pgbench_history"):
        q = f"SELECT count(*) FROM {t}"
        same = same and src.scalar(q, SRC_DB) == tgt.scalar(q, tgt_db)
    left = b.leftovers(src, SRC_DB, tgt, tgt_db)
    if not same or any(left.values()):
        raise RuntimeError(f"round {n} scale {scale}: target differs={not same} left={left}")
    full_load = b.step(run, "full_load")
    res = {"window_s": round(window, 3), "steps_ms": steps, "pgbench_transactions": txs,
           "pgbench_stop_s": stop_s,
           "gate_reached_after_s": round(epoch(b.step(run, "await_cdc_sync")["finished_at"])
                                         - epoch(full_load["started_at"]), 1),
           "rows_validated_before_gate": sum(t.get("rows_validated", 0)
                                             for t in val.get("progress", {}).values()),
           "changed_keys_at_gate": fin.get("changed_keys_validated", 0)
           - val.get("changed_keys_validated", 0),
           "busy_pct_before_approval": quiet, "load_during_window": machine}
    tgt.dropdb(tgt_db)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="10,100")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=int, default=200, help="pgbench -R (tps); 0: unthrottled")
    ap.add_argument("--load-secs", type=int, default=30,
                    help="least seconds of write load before the approval")
    ap.add_argument("--final-validation", choices=("changed", "full", "none"),
                    default="changed")
    ap.add_argument("--chunk-rows", type=int, default=10000)
    ap.add_argument("--validation-rate", type=int, default=0,
                    help="validation_rate_rows (0: no limit)")
    ap.add_argument("--build-dir", default=os.path.join(b.ROOT, "build-release"))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    scales = [int(s) for s in a.scales.split(",")]
    if a.rounds < 1 or not scales:
        ap.error("need at least one round and one scale")
    binary = b.build(a.build_dir)
    fig = {"clients": a.clients, "rate": a.rate, "load_secs": a.load_secs,
           "final_validation": a.final_validation, "chunk_rows": a.chunk_rows,
           "validation_rate_rows": a.validation_rate, "machine": {"cpus": os.cpu_count(),
                                                                  "loadavg_start":
                                                                  os.getloadavg()},
           "scales": {}}
    for scale in scales:
        src, tgt = b.start_clusters([f"win-src-{scale}", f"win-tgt-{scale}"],
                                    b.MIGRATION_SETTINGS, keep=a.keep)
        d = None
        try:
            src.createdb(SRC_DB)
            b.log(f"scale {scale}: pgbench -i ...")
            b.pgbench(src, SRC_DB, ["-i", "-s", str(scale), "-q"], 3600)
            src.psql("ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY", SRC_DB)
            src.psql("VACUUM ANALYZE", SRC_DB)
            d = b.Cutoverd(binary).start()
            rounds = []
            for n in range(a.rounds):
                r = one_round(d, src, tgt, a, scale, n)
                b.log(f"scale {scale} round {n}: window {r['window_s']} s {r['steps_ms']}")
                rounds.append(r)
            fig["scales"][str(scale)] = {
                "rounds": rounds,
                "window_median_s": round(b.median([r["window_s"] for r in rounds]), 3),
                "final_sync_median_ms": b.median([r["steps_ms"]["final_sync"] for r in rounds])}
        finally:
            if d:
                d.stop(cleanup=not a.keep)
            src.stop(cleanup=not a.keep)
            tgt.stop(cleanup=not a.keep)
    lo, hi = str(min(scales)), str(max(scales))
    if lo != hi:
        ratio = fig["scales"][hi]["window_median_s"] / fig["scales"][lo]["window_median_s"]
        fig["ratio"] = round(ratio, 3)
        fig["goal_met"] = ratio <= 1.2
    fig["machine"]["loadavg_end"] = os.getloadavg()
    text = json.dumps(fig, indent=2)
    print(text)
    for s in scales:
        print(f"scale {s}: window median {fig['scales'][str(s)]['window_median_s']} s")
    if "ratio" in fig:
        print(f"window({hi}) / window({lo}) = {fig['ratio']} (goal <= 1.2: "
              f"{'met' if fig['goal_met'] else 'not met'})")
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
