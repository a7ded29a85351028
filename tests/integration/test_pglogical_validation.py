"""Continuous validation of the pg-logical engine: differences planted on
the target during CDC are reported with their key ranges before the cutover
gate and stop the run; a change made on the source just before the gate is
validated at the gate (final_validation "changed") and the run succeeds; a
change planted on the target while the run waits at the gate fails
final_sync; the change log is removed at the end."""
import threading

import psycopg2
import pytest
import requests

from daemon import Daemon, wait_until
from runs_util import two_clusters

SCHEMA = """
CREATE TABLE items (id integer PRIMARY KEY, v text NOT NULL, n integer NOT NULL);
INSERT INTO items SELECT g, 'item ' || g, g % 97 FROM generate_series(1, 5000) g;
CREATE TABLE pairs (a integer, b text, v text, PRIMARY KEY (a, b));
INSERT INTO pairs SELECT g / 3, 'k' || (g % 3), 'pair ' || g FROM generate_series(3, 1502) g;
CREATE TABLE notes (x integer NOT NULL, y text);
ALTER TABLE notes REPLICA IDENTITY FULL;
INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g;
"""

# run parameters that make several chunks per table
PARAMS = {"schemas": ["public"], "validation_chunk_rows": 400, "validation_max_checks": 3,
          "cdc_latency_threshold_seconds": 0}


@pytest.fixture(scope="module")
def clusters():
    with two_clusters("vsource", "vtarget") as pair:
        yield pair


def fresh_dbs(src, tgt, name):
    src.createdb(name)
    src.psql(SCHEMA, name)
    tgt.createdb(name)


def endpoint(url, pid, name, role, cluster, db):
    r = requests.post(f"{url}/v1/projects/{pid}/endpoints", json={
        "name": name, "role": role, "engine": "postgres", "host": "127.0.0.1",
        "port": cluster.port, "database": db, "username": cluster.user,
        "password": cluster.password, "sslmode": "disable"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def start_run(url, src, tgt, db, **extra):
    pid = requests.post(url + "/v1/projects", json={"name": db}).json()["id"]
    s = endpoint(url, pid, "source", "source", src, db)
    t = endpoint(url, pid, "target", "target", tgt, db)
    params = dict(PARAMS, source_endpoint_id=s, target_endpoint_id=t, **extra)
    r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": "pg-logical", "parameters": params})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def run_of(url, rid):
    return requests.get(f"{url}/v1/runs/{rid}").json()


def step(run, sid):
    return next(s for s in run["steps"] if s["id"] == sid)


def wait_run(url, rid, states, timeout, what):
    return wait_until(lambda: (lambda x: x if x["state"] in states else None)(run_of(url, rid)),
                      timeout, interval=0.1, what=what)


def events(url, rid, etype):
    return requests.get(f"{url}/v1/runs/{rid}/events",
                        params={"type": etype, "limit": 1000}).json()["items"]


def fingerprint(cluster, db, table):
    return cluster.scalar(f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ','"
                          f" ORDER BY t::text)), '') FROM {table} t", db)


class Writer(threading.Thread):
    """Source writes during CDC: a hot range of items, new items, pairs."""

    def __init__(self, cluster, db):
        super().__init__(daemon=True)
        self.cluster, self.db = cluster, db
        self.stop_flag = threading.Event()
        self.rounds = 0
        self.error = None

    def run(self):
        try:
            conn = psycopg2.connect(self.cluster.dsn(self.db))
            conn.autocommit = True
            cur = conn.cursor()
            while not self.stop_flag.is_set() and self.rounds < 5000:
                i = self.rounds
                cur.execute("UPDATE items SET n = n + 1 WHERE id = %s", (1 + i % 40,))
                cur.execute("INSERT INTO items VALUES (%s, 'new', 0)", (100000 + i,))
                cur.execute("UPDATE pairs SET v = %s WHERE a = %s AND b = 'k1'",
                            (f"w{i}", 1 + i % 400))
                self.rounds += 1
                self.stop_flag.wait(0.005)
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def in_range(key, m):
    """True if key tuple lies in the mismatch's (lo, hi] range."""
    lo, hi = m["lo"], m["hi"]
    return (lo is None or tuple(key) > tuple(lo)) and (hi is None or tuple(key) <= tuple(hi))


def test_differences_planted_during_cdc_are_reported_before_the_gate(clusters, tmp_path):
    src, tgt = clusters
    db = "planted"
    fresh_dbs(src, tgt, db)
    d = Daemon(tmp_path).start()
    writer = Writer(src, db)
    try:
        url = d.url
        rid = start_run(url, src, tgt, db)
        # hold the run right after the full load, plant, let it go on
        wait_until(lambda: step(run_of(url, rid), "full_load")["state"] == "succeeded"
                   or run_of(url, rid)["state"] == "failed", 120, interval=0.05,
                   what="the full load")
        assert requests.post(f"{url}/v1/runs/{rid}/pause").status_code == 200
        run = wait_run(url, rid, ("paused",), 60, "the pause")
        assert step(run, "await_cdc_sync")["state"] == "pending", run
        tgt.psql("UPDATE items SET v = 'planted' WHERE id = 1234;"
                 " DELETE FROM items WHERE id = 2345;"
                 " INSERT INTO items VALUES (4321000, 'extra', 0);"
                 " UPDATE pairs SET v = 'planted' WHERE a = 300 AND b = 'k2'", db)
        writer.start()
        assert requests.post(f"{url}/v1/runs/{rid}/resume").status_code == 200
        run = wait_run(url, rid, ("failed", "awaiting_approval"), 300, "the validation")
        writer.stop_flag.set()
        writer.join(30)
        assert writer.error is None, writer.error
        assert writer.rounds > 0

        # the cutover is blocked: the run failed before the gate
        assert run["state"] == "failed", run
        assert run["current_step"] == "await_cdc_sync"
        assert step(run, "cutover_gate")["state"] == "pending"
        assert "validation" in run["error"] and "mismatch" in run["error"]
        val = step(run, "await_cdc_sync")["outputs"]["validation"]
        assert val["state"] == "mismatch"
        found = {}
        for m in val["mismatches"]:
            for k in m["keys"]:
                found[(m["table"], tuple(k["key"]))] = (k, m)
        # exactly the planted keys, each with its chunk's key range
        assert set(found) == {("public.items", (1234,)), ("public.items", (2345,)),
                              ("public.items", (4321000,)), ("public.pairs", (300, "k2"))}
        k, m = found[("public.items", (1234,))]
        assert k["source"] and k["target"] and k["source"] != k["target"]
        assert in_range([1234], m) and m["found_by"] == "chunk"
        k, m = found[("public.items", (2345,))]
        assert k["source"] and k["target"] is None and in_range([2345], m)
        k, m = found[("public.items", (4321000,))]
        assert k["source"] is None and k["target"] and in_range([4321000], m)
        k, m = found[("public.pairs", (300, "k2"))]
        assert in_range([300, "k2"], m)
        # the ranges are chunks, not whole tables
        assert all(m["lo"] is not None or m["hi"] is not None for m in val["mismatches"])
        # progress per table on the run resource and as events
        prog = val["progress"]
        assert prog["public.items"]["mismatches"] == 3
        assert prog["public.pairs"]["mismatches"] == 1
        assert prog["public.notes"]["mismatches"] == 0
        assert prog["public.items"]["rows_validated"] > 0
        assert prog["public.items"]["chunks_done"] >= 10
        evs = events(url, rid, "validation.mismatch")
        assert {e["data"]["table"] for e in evs} == {"public.items", "public.pairs"}
        assert events(url, rid, "validation.progress")
    finally:
        writer.stop_flag.set()
        assert d.stop() == 0, d.log()


def test_changes_before_the_gate_are_validated_at_the_gate(clusters, tmp_path):
    src, tgt = clusters
    db = "atgate"
    fresh_dbs(src, tgt, db)
    d = Daemon(tmp_path).start()
    writer = Writer(src, db)
    try:
        url = d.url
        rid = start_run(url, src, tgt, db)
        wait_until(lambda: run_of(url, rid)["current_step"] in ("resume_cdc", "await_cdc_sync",
                                                                "cutover_gate")
                   or run_of(url, rid)["state"] == "failed", 120, what="CDC")
        writer.start()
        run = wait_run(url, rid, ("awaiting_approval", "failed"), 300, "the gate")
        assert run["state"] == "awaiting_approval", run
        before = step(run, "await_cdc_sync")["outputs"]["validation"]
        assert before["state"] == "done"
        assert before["progress"]["public.items"]["chunks_pending"] == 0
        assert before["progress"]["public.items"]["rows_validated"] >= 5000
        writer.stop_flag.set()
        writer.join(30)
        assert writer.error is None, writer.error
        # the last changes, just before the approval
        src.psql("UPDATE items SET v = 'late' WHERE id = 4000;"
                 " DELETE FROM items WHERE id = 4001;"
                 " INSERT INTO items VALUES (7654321, 'late', 1);"
                 " UPDATE pairs SET v = 'late' WHERE a = 10 AND b = 'k0'", db)
        assert requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code \
            == 200
        run = wait_run(url, rid, ("succeeded", "failed"), 300, "the run")
        assert run["state"] == "succeeded", run
        final = step(run, "final_sync")["outputs"]["validation"]
        assert final["state"] == "done" and final["mismatches"] == []
        assert final["changed_keys_pending"] == 0
        # the late keys were validated at the gate, by key, not by table
        assert final["changed_keys_validated"] >= before["changed_keys_validated"] + 4
        gate = [e for e in events(url, rid, "validation.progress") if e["data"]["final"]]
        assert gate and gate[-1]["data"]["step"] == "final_sync"
        report = requests.get(f"{url}/v1/runs/{rid}/artifacts/validation.json").json()
        assert report["final_validation"] == "changed" and report["match"] is True
        for table in ("items", "pairs", "notes"):
            assert fingerprint(src, db, table) == fingerprint(tgt, db, table), table
        # the change log and its triggers are gone with the task
        assert tgt.scalar("SELECT count(*) FROM pg_namespace"
                          " WHERE nspname LIKE 'cutover\\_%\\_validation'", db) == "0"
        assert tgt.scalar("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'cutover\\_%'",
                          db) == "0"
    finally:
        writer.stop_flag.set()
        assert d.stop() == 0, d.log()


def test_the_validation_goes_on_while_the_gate_waits(clusters, tmp_path):
    """Writes go on while the run awaits approval (the application is not
    quiesced yet): the gate's watch validates their keys as they come, so
    final_sync is left with only what changed since its last look."""
    src, tgt = clusters
    db = "gatewatch"
    fresh_dbs(src, tgt, db)
    d = Daemon(tmp_path).start()
    writer = Writer(src, db)  # started once the run waits at the gate
    try:
        rid = start_run(d.url, src, tgt, db)
        url = d.url
        run = wait_run(url, rid, ("awaiting_approval", "failed"), 300, "the gate")
        assert run["state"] == "awaiting_approval", run
        at_gate = step(run, "await_cdc_sync")["outputs"]["validation"]["changed_keys_validated"]
        writer.start()

        def validated_at_gate():
            v = step(run_of(url, rid), "cutover_gate")["outputs"].get("validation") or {}
            return v.get("changed_keys_validated", 0)
        # the watch keeps validating the keys the writer changes
        wait_until(lambda: writer.rounds >= 300 and validated_at_gate() >= at_gate + 300,
                   120, what="the gate's watch to validate the writer's keys")
        writer.stop_flag.set()
        writer.join(30)
        assert writer.error is None, writer.error
        wait_until(lambda: (step(run_of(url, rid), "cutover_gate")["outputs"]["validation"]
                            ["changed_keys_pending"] == 0), 120,
                   what="the watch to catch up with the change log")
        run = run_of(url, rid)
        assert run["state"] == "awaiting_approval"
        gate = step(run, "cutover_gate")["outputs"]["validation"]
        assert gate["mismatches"] == []
        watch = [e for e in events(url, rid, "validation.progress")
                 if e["data"]["step"] == "cutover_gate"]
        assert watch and not watch[-1]["data"]["final"]
        assert requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code \
            == 200
        run = wait_run(url, rid, ("succeeded", "failed"), 300, "the run")
        assert run["state"] == "succeeded", run
        final = step(run, "final_sync")["outputs"]["validation"]
        # final_sync went on from the watch's state: the writer's keys were
        # not validated again inside the cutover window
        assert final["changed_keys_validated"] - gate["changed_keys_validated"] < 50, \
            (final["changed_keys_validated"], gate["changed_keys_validated"])
        assert final["state"] == "done" and final["mismatches"] == []
        for table in ("items", "pairs", "notes"):
            assert fingerprint(src, db, table) == fingerprint(tgt, db, table), table
    finally:
        writer.stop_flag.set()
        assert d.stop() == 0, d.log()


def test_a_difference_planted_at_the_gate_fails_final_sync(clusters, tmp_path):
    src, tgt = clusters
    db = "gateplant"
    fresh_dbs(src, tgt, db)
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        rid = start_run(url, src, tgt, db)
        run = wait_run(url, rid, ("awaiting_approval", "failed"), 300, "the gate")
        assert run["state"] == "awaiting_approval", run
        # a write on the target while the run waits: the trigger logs it
        tgt.psql("UPDATE items SET n = -1 WHERE id = 77", db)
        assert requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code \
            == 200
        run = wait_run(url, rid, ("succeeded", "failed"), 120, "final_sync")
        assert run["state"] == "failed" and run["current_step"] == "final_sync", run
        val = step(run, "final_sync")["outputs"]["validation"]
        (m,) = val["mismatches"]
        assert m["table"] == "public.items" and m["found_by"] == "changed_keys"
        assert [k["key"] for k in m["keys"]] == [[77]]
        assert step(run, "stop_task")["state"] == "pending"
    finally:
        assert d.stop() == 0, d.log()


def test_final_validation_must_be_a_known_mode(tmp_path):
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "modes"}).json()["id"]
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": {"source_endpoint_id": "ept_x", "target_endpoint_id": "ept_y",
                           "final_validation": "sometimes", "validation_chunk_rows": 5}})
        assert r.status_code == 400
        ptrs = {e["pointer"] for e in r.json()["errors"]}
        assert {"/parameters/final_validation", "/parameters/validation_chunk_rows"} <= ptrs
        assert requests.get(f"{url}/v1/projects/{pid}/runs").json()["items"] == []
    finally:
        assert d.stop() == 0, d.log()


def test_validation_resumes_after_kill_9(clusters, tmp_path):
    """The pass goes on from the cursor saved with the last verdict."""
    src, tgt = clusters
    db = "resume"
    fresh_dbs(src, tgt, db)
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        # slow enough to be caught half way: 2,000 source rows a second
        rid = start_run(url, src, tgt, db, validation_rate_rows=2000)

        def done_chunks():
            run = run_of(url, rid)
            prog = step(run, "await_cdc_sync")["outputs"].get("validation", {}).get("progress")
            return prog["public.items"]["chunks_done"] if prog else 0
        before = wait_until(lambda: done_chunks() >= 3, 120, interval=0.05,
                            what="a few validated chunks")
        before = done_chunks()
        assert before < 13, "the pass ended before the kill"
        last_id = max(e["id"] for e in events(url, rid, "validation.progress"))
        d.kill9()
        d.start()
        run = wait_run(url, rid, ("awaiting_approval", "failed"), 300, "the gate")
        assert run["state"] == "awaiting_approval", run
        after = [e for e in events(url, rid, "validation.progress") if e["id"] > last_id]
        assert after[0]["data"]["tables"]["public.items"]["chunks_done"] >= before
        prog = step(run, "await_cdc_sync")["outputs"]["validation"]["progress"]
        # every row validated once: nothing skipped, nothing counted twice
        assert prog["public.items"]["rows_validated"] == 5000
        assert prog["public.pairs"]["rows_validated"] == 1500
        assert prog["public.notes"]["rows_validated"] == 50
    finally:
        assert d.stop() == 0, d.log()
