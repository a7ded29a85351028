#!/usr/bin/python3
"""copy-messages.py - what the size of COPY FROM STDIN's CopyData messages
costs the target backend, the slowest part of the snapshot full load.

libpq hands a COPY TO STDOUT stream out one row per PQgetCopyData call;
relaying each row as its own CopyData message makes the target backend read
one message per row. pg/pg_snapcopy.c gathers rows into messages of up to
64 KiB instead. This loads pgbench_accounts (binary format, as the snapshot
copy sends it) into an emptied table with FREEZE, in messages of about one
row (100 bytes) and of 64 KiB, alternating, and prints the backend's CPU
time (from /proc) and the wall time of each COPY and their medians.

    bench/copy-messages.py [--scale 20] [--repeat 3]

One throwaway cluster (scripts/pgcluster.py) with bench/_bench_pg.py's
migration settings; psycopg2 sends the stream (copy_expert with size = the
message size).
"""
import io
import os
import time

import psycopg2

import _bench_pg as b


def backend_cpu_s(pid):
    """User + system CPU seconds of process pid (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    a = b.scale_repeat_args(__doc__, 20)
    with b.pgbench_cluster("copymsg", a.scale) as c:
        conn = psycopg2.connect(c.dsn("bench"))
        conn.autocommit = True
        cur = conn.cursor()
        out = io.BytesIO()
        cur.copy_expert("COPY pgbench_accounts TO STDOUT (FORMAT binary)", out)
        data = out.getvalue()
        rows = a.scale * 100000
        print(f"pgbench_accounts: {rows} rows, {len(data)} bytes in binary format "
              f"({len(data) / rows:.0f} per row)")
        cur.execute("CREATE TABLE target (LIKE pgbench_accounts)")
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        results = {100: [], 65536: []}
        for rnd in range(1, a.repeat + 1):
            for size in results:
                cur.execute("BEGIN")
                cur.execute("TRUNCATE target")
                cpu0, t0 = backend_cpu_s(pid), time.monotonic()
                cur.copy_expert("COPY target FROM STDIN (FORMAT binary, FREEZE)",
                                io.BytesIO(data), size=size)
                wall, cpu = time.monotonic() - t0, backend_cpu_s(pid) - cpu0
                cur.execute("COMMIT")
                b.ab_round(results, size, f"messages of {size:>5} B", rnd, wall, cpu,
                           "backend CPU")
        b.ab_medians(results, lambda size: f"messages of {size:>5} B", "backend CPU")
        conn.close()


if __name__ == "__main__":
    main()
