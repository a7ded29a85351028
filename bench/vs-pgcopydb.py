#!/usr/bin/python3
"""vs-pgcopydb.py - cutover (pg-logical) against pgcopydb clone on the same
clusters and data, in one invocation.

Usage: bench/vs-pgcopydb.py [--scale N] [--repeat N] [--wait-quiet SECS]
                            [--params JSON] [--build-dir DIR]
                            [--timeout SECS] [--keep] [--json FILE]

Set-up: two PostgreSQL 15 clusters from scripts/pgcluster.py (source and
target, the same settings: pgcluster's plus MIGRATION_SETTINGS of
bench/_bench_pg.py). On the source: `pgbench -i -s SCALE --foreign-keys`
(default scale 50: 5,000,000 accounts), three extra secondary indexes
(pgbench_accounts (bid), pgbench_accounts (abalance), pgbench_tellers
(bid)) and a key on pgbench_history (a bigserial primary key column).

Each round (--repeat, default 3) runs both, in alternating order, each
into a fresh empty database of the target cluster, after CHECKPOINT of
both clusters and sync:

  pgcopydb  `pgcopydb clone --source URI --target URI --table-jobs 2
            --index-jobs 2 --dir TMP` (Debian pgcopydb; pg_dump/pg_restore
            of PostgreSQL 15 on PATH). Measured: wall time of the command.
  cutover   release cutoverd: project, two endpoints, then the
            oracle-to-postgres plan on pg-logical with
            {"schemas": ["public"]} plus --params (default
            {"validate_tables": false, "full_load_method": "snapshot"}:
            pgcopydb does not compare the data, so neither does cutover's
            run here, and the snapshot copy is the method compared; pass
            --params '{"full_load_method": "snapshot"}' to include the
            continuous validation before the gate). Measured: from the POST that creates
            the run to the run waiting at the cutover gate (polled every
            50 ms), i.e. schema, full load, indexes and foreign keys, CDC
            caught up. The gate is then approved and the run must succeed
            with the source's row counts and nothing left on either server.

Prints per round both times, the ratio cutover/pgcopydb and the foreign
CPU (machine CPU used by processes other than this script's children, the
clusters and cutoverd, in % of the machine), then the medians and the
ratio of the medians. Goal: cutover <= 0.8 x pgcopydb. Every wait has a
deadline; loopback only.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import _bench_pg as b

TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
SRC_DB = "bench"

EXTRA_SQL = """
CREATE INDEX accounts_bid_idx ON pgbench_accounts (bid);
CREATE INDEX accounts_abalance_idx ON pgbench_accounts (abalance);
CREATE INDEX tellers_bid_idx ON pgbench_tellers (bid);
ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY;
"""


def uri(cluster, db):
    return (f"postgresql://{cluster.user}:{cluster.password}@127.0.0.1:{cluster.port}/{db}"
            "?sslmode=disable")


def checkpoint(*clusters):
    for c in clusters:
        c.psql("CHECKPOINT")
    os.sync()


def counts(cluster, db):
    return {t: int(cluster.scalar(f"SELECT count(*) FROM {t}", db)) for t in TABLES}


def objects(cluster, db):
    """Indexes and constraints of the public schema (names), to check that
    both methods built everything."""
    return cluster.psql("SELECT string_agg(x, ',' ORDER BY x) FROM ("
                        " SELECT indexrelid::regclass::text AS x FROM pg_index i JOIN pg_class c"
                        "  ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace"
                        " UNION ALL SELECT conname FROM pg_constraint"
                        "  WHERE connamespace = 'public'::regnamespace) s", db).strip()


def fresh_db(tgt, name):
    tgt.dropdb(name)
    tgt.createdb(name)
    return name


def m_pgcopydb(a, src, tgt, idx):
    db = fresh_db(tgt, f"pgcopydb_{idx}")
    work = tempfile.mkdtemp(prefix="pgcopydb-")
    env = dict(os.environ, PATH=b.PG_BINDIR + ":" + os.environ.get("PATH", ""))
    try:
        checkpoint(src, tgt)
        fig = {"busy_pct_before": b.wait_quiet(a.wait_quiet) if a.wait_quiet else None}
        meter = b.CpuMeter([src, tgt]).start()
        t0 = time.monotonic()
        b.run_tool(["pgcopydb", "clone", "--source", uri(src, SRC_DB), "--target",
                    uri(tgt, db), "--table-jobs", "2", "--index-jobs", "2",
                    "--dir", os.path.join(work, "w")], env, a.timeout, "pgcopydb clone")
        fig["seconds"] = round(time.monotonic() - t0, 2)
        fig["load"] = meter.stop()
        fig["rows_ok"] = counts(tgt, db) == a.rows
        fig["objects_ok"] = objects(tgt, db) == a.objects
        if not (fig["rows_ok"] and fig["objects_ok"]):
            raise RuntimeError(f"pgcopydb: target differs: {counts(tgt, db)} "
                               f"{objects(tgt, db)}")
        return fig
    finally:
        shutil.rmtree(work, ignore_errors=True)
        tgt.dropdb(db)


def m_cutover(a, src, tgt, binary, idx):
    db = fresh_db(tgt, f"cutover_{idx}")
    d = b.Cutoverd(binary).start()
    try:
        checkpoint(src, tgt)
        fig = {"busy_pct_before": b.wait_quiet(a.wait_quiet) if a.wait_quiet else None}
        pid = d.post("/v1/projects", {"name": f"vs-{idx}"})["id"]
        s = d.endpoint(pid, "source", "source", src, SRC_DB)
        t = d.endpoint(pid, "target", "target", tgt, db)
        meter = b.CpuMeter([src, tgt]).start()
        t0 = time.monotonic()
        rid = d.post(f"/v1/projects/{pid}/runs", {
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": {"source_endpoint_id": s, "target_endpoint_id": t,
                           "schemas": ["public"], **a.params}})["id"]
        run = d.wait_run(rid, ("awaiting_approval",), a.timeout, "the cutover gate", 0.05)
        fig["seconds"] = round(time.monotonic() - t0, 2)
        fig["load"] = meter.stop()
        fig["steps_ms"] = {x["id"]: x["duration_ms"] for x in run["steps"]
                           if x.get("duration_ms") is not None}
        fig["objects_ok"] = objects(tgt, db) == a.objects
        d.post(f"/v1/runs/{rid}/steps/cutover_gate/approve")
        d.wait_run(rid, ("succeeded",), a.timeout, "the run to finish")
        fig["rows_ok"] = counts(tgt, db) == a.rows
        left = b.leftovers(src, SRC_DB, tgt, db)
        if not (fig["rows_ok"] and fig["objects_ok"]) or any(left.values()):
            raise RuntimeError(f"cutover: target differs or left {left}: {counts(tgt, db)} "
                               f"{objects(tgt, db)}")
        return fig
    finally:
        d.stop(cleanup=not a.keep)
        tgt.dropdb(db)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--wait-quiet", type=float, default=60)
    p.add_argument("--params", type=json.loads, default={"validate_tables": False, "full_load_method": "snapshot"},
                   help="extra run parameters for cutover (JSON object)")
    p.add_argument("--build-dir", default=os.path.join(b.ROOT, "build-release"))
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json")
    a = p.parse_args()
    if not shutil.which("pgcopydb"):
        sys.exit("pgcopydb is not installed (Debian package pgcopydb)")
    binary = b.build(a.build_dir)
    settings = dict(b.MIGRATION_SETTINGS)
    src, tgt = b.start_clusters(["vs-source", "vs-target"], settings, a.keep)
    result = {"scale": a.scale, "cutover_params": a.params, "rounds": []}
    try:
        src.createdb(SRC_DB)
        b.log(f"pgbench -i -s {a.scale} --foreign-keys ...")
        b.pgbench(src, SRC_DB, ["-i", "-q", "-s", str(a.scale), "--foreign-keys"], a.timeout)
        src.psql(EXTRA_SQL, SRC_DB, tuples=False)
        src.psql("VACUUM ANALYZE", SRC_DB, tuples=False)
        a.rows = counts(src, SRC_DB)
        a.objects = objects(src, SRC_DB)
        result["rows"] = a.rows
        for i in range(a.repeat):
            order = ["pgcopydb", "cutover"] if i % 2 == 0 else ["cutover", "pgcopydb"]
            rnd = {}
            for m in order:
                b.log(f"round {i + 1}: {m} ...")
                rnd[m] = (m_pgcopydb(a, src, tgt, i) if m == "pgcopydb"
                          else m_cutover(a, src, tgt, binary, i))
                b.log(f"round {i + 1}: {m} {rnd[m]['seconds']} s "
                      f"(foreign CPU {rnd[m]['load']['foreign_cpu_pct']} %)")
            rnd["ratio"] = round(rnd["cutover"]["seconds"] / rnd["pgcopydb"]["seconds"], 3)
            result["rounds"].append(rnd)
            print(f"round {i + 1}: pgcopydb {rnd['pgcopydb']['seconds']:.2f} s "
                  f"[{rnd['pgcopydb']['load']['foreign_cpu_pct']} % foreign], cutover "
                  f"{rnd['cutover']['seconds']:.2f} s "
                  f"[{rnd['cutover']['load']['foreign_cpu_pct']} % foreign], "
                  f"ratio {rnd['ratio']:.2f}  steps_ms {rnd['cutover']['steps_ms']}",
                  flush=True)
        mp = b.median([r["pgcopydb"]["seconds"] for r in result["rounds"]])
        mc = b.median([r["cutover"]["seconds"] for r in result["rounds"]])
        result.update({"median_pgcopydb_s": mp, "median_cutover_s": mc,
                       "ratio_of_medians": round(mc / mp, 3),
                       "median_ratio": b.median([r["ratio"] for r in result["rounds"]])})
        print(f"median: pgcopydb {mp:.2f} s, cutover {mc:.2f} s, ratio {mc / mp:.2f} "
              f"(median of per-round ratios {result['median_ratio']:.2f}); goal <= 0.80")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=2)
    finally:
        for c in (src, tgt):
            c.stop(cleanup=not a.keep)


if __name__ == "__main__":
    main()
