"""The pg-logical engine end to end: the oracle-to-postgres plan with a
PostgreSQL source holding pagila, a concurrent writer during CDC, the
cutover gate approved by the test; then row counts, checksums and the
schema compared with the source, and nothing left behind."""
import re
import threading

import pytest
import requests

from daemon import Daemon, wait_until
from pgcluster import Cluster, load_pagila

TABLES_SQL = ("SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n"
              " ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p')"
              " AND NOT c.relispartition AND n.nspname = 'public' ORDER BY 1")


@pytest.fixture(scope="module")
def clusters():
    src = Cluster("legacy")
    tgt = Cluster("target")
    src.start()
    tgt.start()
    try:
        src.createdb("pagila")
        load_pagila(src, "pagila")
        yield src, tgt
    finally:
        src.stop()
        tgt.stop()


def endpoint(url, pid, name, role, cluster, db):
    r = requests.post(f"{url}/v1/projects/{pid}/endpoints", json={
        "name": name, "role": role, "engine": "postgres", "host": "127.0.0.1",
        "port": cluster.port, "database": db, "username": cluster.user,
        "password": cluster.password, "sslmode": "disable"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def fingerprint(cluster, db, table):
    return cluster.scalar(f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ','"
                          f" ORDER BY t::text)), '') FROM {table} t", db)


def normalise(dump):
    lines = []
    for line in dump.splitlines():
        if not line.strip() or line.startswith("--") or line.startswith("SET ") or \
                line.startswith("SELECT pg_catalog.set_config") or line.startswith("\\"):
            continue
        lines.append(line)
    return "\n".join(lines)


class Writer(threading.Thread):
    """Inserts, updates and deletes on the source until stopped."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.stop_flag = threading.Event()
        self.rounds = 0
        self.error = None

    def run(self):
        import psycopg2
        try:
            conn = psycopg2.connect(self.cluster.dsn("pagila"))
            conn.autocommit = True
            cur = conn.cursor()
            while not self.stop_flag.is_set() and self.rounds < 2000:
                i = self.rounds
                cur.execute("INSERT INTO actor (first_name, last_name) VALUES (%s, %s)"
                            " RETURNING actor_id", (f"W{i}", "WRITER"))
                aid = cur.fetchone()[0]
                cur.execute("UPDATE actor SET last_name = %s WHERE actor_id = %s",
                            (f"UPDATED{i}", aid))
                cur.execute("UPDATE customer SET email = %s WHERE customer_id = %s",
                            (f"w{i}@example.com", 1 + i % 500))
                if i % 3 == 0:
                    cur.execute("DELETE FROM actor WHERE actor_id = %s", (aid,))
                self.rounds += 1
                self.stop_flag.wait(0.01)
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def test_oracle_to_postgres_plan_on_pg_logical_with_pagila(clusters, tmp_path):
    src, tgt = clusters
    tgt.createdb("target")
    d = Daemon(tmp_path).start()
    writer = Writer(src)
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "pagila"}).json()["id"]
        s = endpoint(url, pid, "legacy", "source", src, "pagila")
        t = endpoint(url, pid, "target", "target", tgt, "target")
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": {"source_endpoint_id": s, "target_endpoint_id": t,
                           "schemas": ["public"], "sequence_gap": 1000,
                           "migration_role": "Migration Role; x"}})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]

        def state():
            return requests.get(f"{url}/v1/runs/{rid}").json()

        # the writer runs while changes are captured and replicated
        wait_until(lambda: state()["current_step"] in ("full_load", "restore_constraints",
                                                       "resume_cdc", "await_cdc_sync",
                                                       "cutover_gate")
                   or state()["state"] == "failed", 120, what="the full load")
        writer.start()
        run = wait_until(lambda: (lambda x: x if x["state"] in ("awaiting_approval", "failed")
                                  else None)(state()), 300, what="the cutover gate")
        assert run["state"] == "awaiting_approval", run
        assert run["current_step"] == "cutover_gate"
        writer.stop_flag.set()
        writer.join(30)
        assert writer.error is None, writer.error
        assert writer.rounds > 0
        r = requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve")
        assert r.status_code == 200, r.text
        run = wait_until(lambda: (lambda x: x if x["state"] in ("succeeded", "failed")
                                  else None)(state()), 300, what="the run to finish")
        assert run["state"] == "succeeded", run

        tables = src.psql(TABLES_SQL, "pagila").split()
        assert len(tables) >= 15
        for table in tables:
            assert fingerprint(src, "pagila", table) == fingerprint(tgt, "target", table), table
        assert normalise(src.pg_dump_schema("pagila", ["public"])) == \
            normalise(tgt.pg_dump_schema("target", ["public"]))
        # sequences were moved past the source's values by the gap
        src_last = int(src.scalar("SELECT last_value FROM actor_actor_id_seq", "pagila"))
        tgt_last = int(tgt.scalar("SELECT last_value FROM actor_actor_id_seq", "target"))
        assert tgt_last >= src_last + 1000
        # configure_target created the migration role with its grants
        assert tgt.scalar("SELECT has_table_privilege('Migration Role; x',"
                          " 'public.actor', 'INSERT')", "target") == "t"
        # nothing left behind on either server
        assert src.scalar("SELECT count(*) FROM pg_replication_slots") == "0"
        assert src.scalar("SELECT count(*) FROM pg_publication", "pagila") == "0"
        assert tgt.scalar("SELECT count(*) FROM pg_subscription", "target") == "0"
        # the run's artifacts hold the captured DDL; events show table statistics
        arts = {a["name"] for a in requests.get(f"{url}/v1/runs/{rid}/artifacts").json()["items"]}
        assert {"prepare_target.sql", "capture.json", "validation.json"} <= arts
        report = requests.get(f"{url}/v1/runs/{rid}/artifacts/validation.json").json()
        assert report["match"] is True and report["mismatches"] == 0
        # the default final_validation: what changed since the continuous
        # validation, which went through every table
        assert report["final_validation"] == "changed"
        assert set(report["tables"]) == set(tables)
        assert all(t["match"] for t in report["tables"].values())
        script = requests.get(f"{url}/v1/runs/{rid}/artifacts/prepare_target.sql").text
        assert re.search(r"FOREIGN KEY", script)
        stats = requests.get(f"{url}/v1/runs/{rid}/events",
                             params={"type": "table.statistics", "limit": 1000}).json()["items"]
        assert stats, "no table statistics events"
        last = stats[-1]["data"]
        assert last["task_stats"]["FullLoadProgressPercent"] == 100
        assert all(t["TableState"] == "Table completed" for t in last["tables"])
        assert src.password not in d.log()
    finally:
        writer.stop_flag.set()
        if d.proc:
            assert d.stop() == 0, d.log()


def preflight_of(tmp_path, name, src_settings, tgt_settings, prepare=None):
    """Runs oracle-to-postgres on pg-logical from a fresh source cluster to a
    fresh target cluster with these server settings (after prepare(src, tgt)
    when given) until it stops; returns the run and the number of tables on
    the target then."""
    src = Cluster(name + "-src", **src_settings)
    tgt = Cluster(name + "-tgt", **tgt_settings)
    src.start()
    tgt.start()
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        src.psql("CREATE TABLE public.t (id int PRIMARY KEY)")
        if prepare:
            prepare(src, tgt)
        pid = requests.post(url + "/v1/projects", json={"name": name}).json()["id"]
        s = endpoint(url, pid, "src", "source", src, "postgres")
        t = endpoint(url, pid, "tgt", "target", tgt, "postgres")
        rid = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": {"source_endpoint_id": s, "target_endpoint_id": t}}).json()["id"]
        run = wait_until(lambda: (lambda x: x if x["state"] in ("failed", "succeeded",
                                                                "awaiting_approval")
                                  else None)(requests.get(f"{url}/v1/runs/{rid}").json()),
                         60, what="the run to stop")
        return run, int(tgt.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
    finally:
        assert d.stop() == 0
        src.stop()
        tgt.stop()


def test_wal_level_replica_stops_at_preflight(tmp_path):
    run, _ = preflight_of(tmp_path, "replica", {"wal_level": "replica"}, {})
    assert run["state"] == "failed"
    assert run["current_step"] == "preflight"
    step = run["steps"][0]
    assert "wal_level" in step["last_error"] and "logical" in step["last_error"]
    assert step["outputs"]["findings"][0] == {"endpoint": "source", "setting": "wal_level",
                                             "value": "replica", "required": "logical"}


def test_a_target_without_apply_workers_stops_at_preflight(tmp_path):
    """max_logical_replication_workers = 0 on the target: the subscription
    could never apply CDC, so preflight fails with that finding and the
    target is left as it was."""
    run, target_tables = preflight_of(tmp_path, "noworkers", {},
                                      {"max_logical_replication_workers": 0})
    assert run["state"] == "failed", run
    assert run["current_step"] == "preflight"
    step = run["steps"][0]
    assert step["outputs"]["findings"] == [
        {"endpoint": "target", "setting": "max_logical_replication_workers", "value": "0",
         "required": "at least 1 (the subscription's apply worker)"}], step["outputs"]
    assert "max_logical_replication_workers" in step["last_error"]
    assert target_tables == 0


def test_a_target_whose_workers_are_all_taken_stops_at_preflight(tmp_path):
    """One logical replication worker on the target, held by another enabled
    subscription of the cluster: preflight fails with that finding."""
    def busy(src, tgt):
        src.psql("CREATE PUBLICATION busy")
        conninfo = src.dsn("postgres").replace("'", "''")
        tgt.psql(f"CREATE SUBSCRIPTION busy CONNECTION '{conninfo}'"
                 " PUBLICATION busy WITH (copy_data = false)")
    run, target_tables = preflight_of(tmp_path, "busyworkers", {},
                                      {"max_logical_replication_workers": 1}, busy)
    assert run["state"] == "failed", run
    assert run["current_step"] == "preflight"
    assert run["steps"][0]["outputs"]["findings"] == [
        {"endpoint": "target", "setting": "max_logical_replication_workers",
         "value": "1, all in use by enabled subscriptions",
         "required": "a free one for the subscription's apply worker"}], run["steps"][0]
    assert target_tables == 0


def test_rollback_task_replicates_target_changes_back(clusters, tmp_path):
    """With rollback_task, cutover starts a CDC-only task from the target
    back to the source: writes on the new primary reach the old one."""
    src, tgt = clusters
    tgt.createdb("rollback")
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "rb"}).json()["id"]
        s = endpoint(url, pid, "legacy", "source", src, "pagila")
        t = endpoint(url, pid, "target", "target", tgt, "rollback")
        rid = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": {"source_endpoint_id": s, "target_endpoint_id": t,
                           "rollback_task": True}}).json()["id"]

        def state():
            return requests.get(f"{url}/v1/runs/{rid}").json()
        wait_until(lambda: state()["state"] in ("awaiting_approval", "failed"), 180,
                   what="the gate")
        assert requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code == 200
        run = wait_until(lambda: (lambda x: x if x["state"] in ("succeeded", "failed")
                                  else None)(state()), 180, what="the run")
        assert run["state"] == "succeeded", run
        assert {x["id"]: x["state"] for x in run["steps"]}["rollback_task"] == "succeeded"
        # the reverse subscription lives on the source, its slot on the target
        assert src.scalar("SELECT count(*) FROM pg_subscription", "pagila") == "1"
        tgt.psql("INSERT INTO actor (first_name, last_name) VALUES ('ROLL', 'BACK')", "rollback")
        wait_until(lambda: src.scalar("SELECT count(*) FROM actor WHERE last_name = 'BACK'",
                                      "pagila") == "1", 30, what="the change to flow back")
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()
        # the rollback task outlives the run on purpose; remove it here
        sub = src.scalar("SELECT subname FROM pg_subscription", "pagila")
        if sub:
            src.psql(f'ALTER SUBSCRIPTION "{sub}" DISABLE;'
                     f' ALTER SUBSCRIPTION "{sub}" SET (slot_name = NONE);'
                     f' DROP SUBSCRIPTION "{sub}"', "pagila")
            tgt.psql(f"SELECT pg_drop_replication_slot('{sub}')")
            tgt.psql(f'DROP PUBLICATION IF EXISTS "{sub}"', "rollback")
        src.psql("DELETE FROM actor WHERE last_name = 'BACK'", "pagila")
