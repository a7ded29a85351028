#!/usr/bin/python3
"""index-workers.py - two index builds side by side on one table, as
restore_constraints runs them over restore_jobs connections, with and
without PostgreSQL's parallel workers per build
(max_parallel_maintenance_workers 2, the default, against 0: the run
parameter restore_index_workers).

Builds pgbench_accounts (bid) and (abalance) on two connections at once,
alternating the two settings, and prints each round's wall time and the
machine's CPU time (all processes, from /proc/stat), then the medians.

    bench/index-workers.py [--scale 50] [--repeat 3]

One throwaway cluster (scripts/pgcluster.py) with bench/_bench_pg.py's
migration settings (maintenance_work_mem 512 MB); the table is frozen
first, as the snapshot copy leaves it.
"""
import os
import threading
import time

import psycopg2

import _bench_pg as b

INDEXES = ("CREATE INDEX bench_bid ON pgbench_accounts (bid)",
           "CREATE INDEX bench_abalance ON pgbench_accounts (abalance)")


def machine_cpu_s():
    """CPU seconds all processes of the machine have used (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def main():
    a = b.scale_repeat_args(__doc__, 50)
    with b.pgbench_cluster("idxworkers", a.scale) as c:
        conns = [psycopg2.connect(c.dsn("bench")) for _ in INDEXES]
        for conn in conns:
            conn.autocommit = True
        conns[0].cursor().execute("VACUUM FREEZE pgbench_accounts")
        results = {2: [], 0: []}
        for rnd in range(1, a.repeat + 1):
            for workers in results:
                for conn in conns:
                    conn.cursor().execute("SET max_parallel_maintenance_workers = %s",
                                          (workers,))
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
                b.ab_round(results, workers, f"max_parallel_maintenance_workers {workers}", rnd,
                           wall, cpu, "machine CPU")
        b.ab_medians(results, lambda w: f"max_parallel_maintenance_workers {w}", "machine CPU")
        for conn in conns:
            conn.close()


if __name__ == "__main__":
    main()
