"""image_smoke.py - drives one small pg-logical migration through a running
cutoverd (the container image, see scripts/image.sh) over its REST API.

Starts two throwaway PostgreSQL 15 clusters on 127.0.0.1 (scripts/pgcluster.py),
creates a small schema with rows on the source, then through the API only:
checks /readyz, that a request without a token gets 401, creates a project,
two endpoints and an oracle-to-postgres run on the pg-logical engine, inserts
rows on the source while changes are captured, approves the cutover gate and
waits for the run to succeed. Finally compares row counts and checksums of
every table on both clusters.

Usage: CUTOVER_TOKEN=<admin token> python3 scripts/image_smoke.py --url URL
Exit status 0 on success; on failure the last state of the run is printed.
Standard library only.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgcluster import Cluster  # noqa: E402

SCHEMA = """
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customer,
                     amount numeric(10,2) NOT NULL, placed timestamptz NOT NULL DEFAULT now());
CREATE INDEX orders_customer ON orders (customer_id);
INSERT INTO customer SELECT g, 'customer ' || g FROM generate_series(1, 200) g;
INSERT INTO orders (customer_id, amount, placed)
SELECT 1 + g % 200, (g % 97) + 0.5, timestamptz '2026-01-01' + g * interval '1 minute'
FROM generate_series(1, 2000) g;
"""
TABLES = ["public.customer", "public.orders"]


class Api:
    """JSON over HTTP with a bearer token (urllib)."""

    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, token=True):
        """Returns (status, parsed JSON body or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        return status, (json.loads(raw) if raw else None)

    def must(self, method, path, body=None, want=(200, 201)):
        status, doc = self.call(method, path, body)
        if status not in want:
            raise SystemExit(f"{method} {path}: HTTP {status}: {doc}")
        return doc


def wait_for(what, timeout, fn):
    """Polls fn() every 0.5 s until it returns a truthy value; exits with a
    message naming what was awaited after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}; last: {last}")


def fingerprint(cluster, db, table):
    return cluster.scalar(f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ','"
                          f" ORDER BY t::text)), '') FROM {table} t", db)


def endpoint(api, pid, name, role, cluster, db):
    return api.must("POST", f"/v1/projects/{pid}/endpoints", {
        "name": name, "role": role, "engine": "postgres", "host": "127.0.0.1",
        "port": cluster.port, "database": db, "username": cluster.user,
        "password": cluster.password, "sslmode": "disable"})["id"]


def migrate(api, src, tgt):
    status, ready = api.call("GET", "/readyz", token=False)
    if status != 200 or ready.get("status") != "ready":
        raise SystemExit(f"/readyz: HTTP {status}: {ready}")
    print(f"readyz: {ready}")
    status, _ = api.call("GET", "/v1/projects", token=False)
    if status != 401:
        raise SystemExit(f"GET /v1/projects without a token: HTTP {status}, want 401")
    pid = api.must("POST", "/v1/projects", {"name": "image-smoke"})["id"]
    s = endpoint(api, pid, "source", "source", src, "shop")
    t = endpoint(api, pid, "target", "target", tgt, "shop")
    rid = api.must("POST", f"/v1/projects/{pid}/runs", {
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": {"source_endpoint_id": s, "target_endpoint_id": t,
                       "schemas": ["public"]}})["id"]
    print(f"run {rid} started")

    def run_in(*states):
        run = api.must("GET", f"/v1/runs/{rid}")
        return run if run["state"] in states + ("failed", "cancelled") else None

    def past_full_load():
        run = api.must("GET", f"/v1/runs/{rid}")
        return run if run["state"] in ("failed", "awaiting_approval") or run.get(
            "current_step") in ("restore_constraints", "resume_cdc", "await_cdc_sync") else None

    run = wait_for("the full load to finish", 300, past_full_load)
    if run["state"] == "failed":
        raise SystemExit(f"run failed: {json.dumps(run, indent=1)}")
    # changes made now reach the target through CDC
    src.psql("INSERT INTO orders (customer_id, amount) SELECT 1 + g % 200, 9.99"
             " FROM generate_series(1, 50) g; UPDATE customer SET name = name || '!'"
             " WHERE id <= 10; DELETE FROM orders WHERE id <= 5", "shop", tuples=False)
    run = wait_for("the cutover gate", 300, lambda: run_in("awaiting_approval"))
    if run["state"] != "awaiting_approval":
        raise SystemExit(f"run {run['state']}: {json.dumps(run, indent=1)}")
    api.must("POST", f"/v1/runs/{rid}/steps/cutover_gate/approve")
    run = wait_for("the run to finish", 300, lambda: run_in("succeeded"))
    if run["state"] != "succeeded":
        raise SystemExit(f"run {run['state']}: {json.dumps(run, indent=1)}")
    for table in TABLES:
        a, b = fingerprint(src, "shop", table), fingerprint(tgt, "shop", table)
        if a != b:
            raise SystemExit(f"{table}: source {a} != target {b}")
        print(f"  {table}: {a.split(':')[0]} rows, checksums match")
    print(f"run {rid} succeeded: {len(run['steps'])} steps")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="cutoverd base URL, e.g. http://127.0.0.1:8080")
    args = ap.parse_args()
    token = os.environ.get("CUTOVER_TOKEN")
    if not token:
        raise SystemExit("set CUTOVER_TOKEN to an admin token of the daemon's tokens file")
    src, tgt = Cluster("image-src"), Cluster("image-tgt")
    try:
        src.start()
        tgt.start()
        src.createdb("shop")
        tgt.createdb("shop")
        src.psql(SCHEMA, "shop", tuples=False)
        migrate(Api(args.url, token), src, tgt)
    finally:
        src.stop()
        tgt.stop()


if __name__ == "__main__":
    main()
