#!/usr/bin/python3
"""index-builds.py - two index builds side by side on one table, as
restore_constraints runs them over restore_jobs connections, with one
session setting varied.

    bench/index-builds.py [--vary workers|memory] [--scale 50] [--repeat 3]

--vary workers (default): PostgreSQL's parallel workers per build,
max_parallel_maintenance_workers 2 (its default) against 0 (the run
parameter restore_index_workers).
--vary memory: maintenance_work_mem 1 GB (what pgcopydb sets for its index
jobs), 512 MB (the cluster's setting here) and 64 MB (PostgreSQL's default,
and cutover's for its build sessions: the run parameter
maintenance_work_mem_mb); the workers stay at the cluster's setting.

Builds pgbench_accounts (bid) and (abalance) on two connections at once,
alternating the settings, and prints each round's wall time and the
machine's CPU time (all processes, from /proc/stat), then the medians.

One throwaway cluster (scripts/pgcluster.py) with bench/_bench_pg.py's
migration settings (maintenance_work_mem 512 MB); the table is frozen
first, as the snapshot copy leaves it.
"""
import argparse
import threading
import time

import psycopg2

import _bench_pg as b

INDEXES = ("CREATE INDEX bench_bid ON pgbench_accounts (bid)",
           "CREATE INDEX bench_abalance ON pgbench_accounts (abalance)")
VARY = {"workers": ("max_parallel_maintenance_workers", (2, 0)),
        "memory": ("maintenance_work_mem", ("1GB", "512MB", "64MB"))}


def machine_cpu_s():
    """CPU seconds all processes of the machine have used (/proc/stat)."""
    return b.machine_ticks()[0] / b.CLK_TCK


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vary", choices=sorted(VARY), default="workers")
    ap.add_argument("--scale", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    setting, values = VARY[a.vary]
    with b.pgbench_cluster("idxbuilds", a.scale) as c:
        conns = [psycopg2.connect(c.dsn("bench")) for _ in INDEXES]
        for conn in conns:
            conn.autocommit = True
        conns[0].cursor().execute("VACUUM FREEZE pgbench_accounts")
        results = {v: [] for v in values}
        for rnd in range(1, a.repeat + 1):
            for value in results:
                for conn in conns:
                    conn.cursor().execute("SELECT set_config(%s, %s, false)",
                                          (setting, str(value)))
                conns[0].cursor().execute("DROP INDEX IF EXISTS bench_bid, bench_abalance")
                threads = [threading.Thread(target=lambda k, s: k.cursor().execute(s),
                                            args=(conn, sql))
                           for conn, sql in zip(conns, INDEXES)]
                cpu0, t0 = machine_cpu_s(), time.monotonic()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(600)
                wall, cpu = time.monotonic() - t0, machine_cpu_s() - cpu0
                b.ab_round(results, value, f"{setting} {value}", rnd, wall, cpu, "machine CPU")
        b.ab_medians(results, lambda v: f"{setting} {v}", "machine CPU")
        for conn in conns:
            conn.close()


if __name__ == "__main__":
    main()
