"""PostgreSQL sources as they are: keywords as column names, SQL-standard
function bodies, procedures, a table without a key, a large object, a
materialized view, and DDL on the source during CDC, through the
oracle-to-postgres plan on pg-logical."""
import itertools

import pytest
import requests

from daemon import Daemon, wait_until
from runs_util import O2PEnv, two_clusters

SOURCE_SQL = r"""
CREATE TABLE public.kw (id int PRIMARY KEY, begin int, "end" text, atomic boolean, loop numeric);
CREATE FUNCTION public.kw_sum(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
  SELECT a + b;
END;
CREATE PROCEDURE public.kw_touch(i int) LANGUAGE plpgsql AS $$
BEGIN
  UPDATE public.kw SET loop = loop + 1 WHERE id = i;
END
$$;
CREATE TABLE public.history (at timestamptz NOT NULL DEFAULT now(),
                             kw_id int REFERENCES public.kw (id), note text);
INSERT INTO public.kw SELECT g, g, 'e' || g, g % 2 = 0, g * 1.5 FROM generate_series(1, 200) g;
INSERT INTO public.history (kw_id, note) SELECT g, 'n' || g FROM generate_series(1, 100) g;
CREATE MATERIALIZED VIEW public.kw_totals AS SELECT count(*) AS n, sum(begin) AS s FROM public.kw;
SELECT lo_from_bytea(424242, convert_to(repeat('large object payload ', 500), 'UTF8'));
"""

_names = itertools.count()


@pytest.fixture(scope="module")
def clusters():
    with two_clusters("srcsrc", "srctgt") as pair:
        yield pair


@pytest.fixture
def env(clusters, tmp_path):
    """A fresh source database, an empty target database, a daemon and a
    project with both endpoints."""
    src, tgt = clusters
    n = next(_names)
    sdb, tdb = src.createdb(f"src{n}"), tgt.createdb(f"tgt{n}")
    src.psql(SOURCE_SQL, sdb, tuples=False)
    d = Daemon(tmp_path).start()
    yield O2PEnv(d, f"p{n}", src, sdb, tgt, tdb)
    if d.proc:
        assert d.stop() == 0, d.log()


def outputs(run, step):
    return next(s for s in run["steps"] if s["id"] == step)["outputs"]


def rows(cluster, db, sql):
    return cluster.psql(sql, db)


def normalise(dump):
    return "\n".join(l for l in dump.splitlines()
                     if l.strip() and not l.startswith(("--", "SET ", "SELECT pg_catalog.", "\\")))


def target_objects(e):
    return e.tgt.scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n"
                        " ON n.oid = c.relnamespace WHERE n.nspname = 'public'", e.tdb)


def test_keyless_table_and_large_objects_fail_preflight_changing_nothing(env):
    e = env
    before = target_objects(e)
    rid = e.start()
    run = e.until(rid, ("failed", "awaiting_approval", "succeeded"))
    assert run["state"] == "failed" and run["current_step"] == "preflight", run
    findings = outputs(run, "preflight")["findings"]
    keyless = [f for f in findings if f.get("table") == "public.history"]
    assert keyless and keyless[0]["setting"] == "replica identity"
    assert "tables_without_key" in keyless[0]["required"]
    assert any(f["setting"] == "large objects" and f["value"] == "1 large objects"
               for f in findings)
    assert "public.history" in run["steps"][0]["last_error"]
    # nothing was created or dropped on the target, nothing on the source
    assert target_objects(e) == before == "0"
    assert e.src.scalar("SELECT count(*) FROM pg_replication_slots") == "0"
    assert e.src.scalar("SELECT relreplident FROM pg_class WHERE relname = 'history'",
                        e.sdb) == "d"


def test_bad_tables_without_key_value_is_refused(env):
    r = requests.post(f"{env.url}/v1/projects/{env.pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": {"source_endpoint_id": "x", "target_endpoint_id": "y",
                       "tables_without_key": "ignore"}})
    assert r.status_code == 400, r.text
    assert any(f.get("pointer") == "/parameters/tables_without_key"
               for f in r.json().get("errors", [])), r.text


def test_replica_identity_full_carries_updates_deletes_lo_and_matview(env):
    e = env
    rid = e.start(tables_without_key="replica-identity-full", copy_large_objects=True)
    run = e.until(rid, ("failed", "awaiting_approval"))
    assert run["state"] == "awaiting_approval", run
    assert outputs(run, "full_load")["replica_identity_full"] == [
        {"schema": "public", "table": "history", "previous": "d"}]
    assert e.src.scalar("SELECT relreplident FROM pg_class WHERE relname = 'history'",
                        e.sdb) == "f"
    # changes during CDC, on the keyless table too
    e.src.psql("UPDATE public.history SET note = 'changed' WHERE kw_id <= 10;"
               "DELETE FROM public.history WHERE kw_id > 90;"
               "INSERT INTO public.history (kw_id, note) VALUES (1, 'new');"
               "CALL public.kw_touch(5); DELETE FROM public.kw WHERE id = 200", e.sdb,
               tuples=False)
    want = rows(e.src, e.sdb, "SELECT kw_id, note FROM public.history ORDER BY 1, 2")
    wait_until(lambda: rows(e.tgt, e.tdb, "SELECT kw_id, note FROM public.history"
                            " ORDER BY 1, 2") == want, 60, what="UPDATE/DELETE to arrive")
    assert requests.post(f"{e.url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code == 200
    run = e.until(rid, ("failed", "succeeded"))
    assert run["state"] == "succeeded", run
    # the schema (columns begin/end/atomic/loop, BEGIN ATOMIC function, procedure) is equal
    assert normalise(e.src.pg_dump_schema(e.sdb, ["public"])) == \
        normalise(e.tgt.pg_dump_schema(e.tdb, ["public"]))
    assert e.tgt.scalar("SELECT public.kw_sum(2, 3)", e.tdb) == "5"
    for table in ("public.kw", "public.history"):
        q = f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"
        assert e.src.scalar(q, e.sdb) == e.tgt.scalar(q, e.tdb), table
    # the large object and the refreshed materialized view arrived
    lo = "SELECT md5(lo_get(424242))"
    assert e.tgt.scalar(lo, e.tdb) == e.src.scalar(lo, e.sdb) is not None
    assert outputs(run, "final_sync")["large_objects"]["objects"] == 1
    assert e.tgt.scalar("SELECT n || ':' || s FROM public.kw_totals", e.tdb) == \
        e.src.scalar("SELECT count(*) || ':' || sum(begin) FROM public.kw", e.sdb) == "199:19900"
    assert outputs(run, "final_sync")["materialized_views"] == ["public.kw_totals"]
    # the source's replica identity is back to what it was
    assert e.src.scalar("SELECT relreplident FROM pg_class WHERE relname = 'history'",
                        e.sdb) == "d"
    assert outputs(run, "stop_task")["replica_identity_restored"] == [
        {"schema": "public", "table": "history", "replica_identity": "DEFAULT"}]


def test_exclude_leaves_keyless_tables_out_and_reports_them(env):
    e = env
    rid = e.start(tables_without_key="exclude", copy_large_objects=True)
    run = e.until(rid, ("failed", "awaiting_approval"))
    assert run["state"] == "awaiting_approval", run["error"]
    main = outputs(run, "full_load")["main"]
    assert main["excluded"] == ["public.history"]
    assert [t["table"] for t in main["tables"]] == ["kw"]
    assert requests.post(f"{e.url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code == 200
    run = e.until(rid, ("failed", "succeeded"))
    assert run["state"] == "succeeded", run
    report = requests.get(f"{e.url}/v1/runs/{rid}/artifacts/validation.json").json()
    assert report["excluded"] == ["public.history"] and report["match"] is True
    assert "public.history" not in report["tables"]
    assert e.tgt.scalar("SELECT count(*) FROM public.history", e.tdb) == "0"
    assert e.src.scalar("SELECT relreplident FROM pg_class WHERE relname = 'history'",
                        e.sdb) == "d"


def test_column_added_on_the_source_during_cdc_stops_the_gate(env):
    e = env
    # without data validation (which would also see the rows differ), the
    # gate's schema comparison is what stops the cutover
    # the subscription's table synchronisation: the run can be paused while
    # PostgreSQL copies, so the DDL lands after the copy and before CDC
    rid = e.start(tables_without_key="exclude", copy_large_objects=True, validate_tables=False,
                  full_load_method="subscription")
    wait_until(lambda: e.run(rid)["current_step"] == "full_load", 120, interval=0.05,
               what="the full load")
    assert requests.post(f"{e.url}/v1/runs/{rid}/pause").status_code == 200
    e.until(rid, ("paused",))
    # the initial copy finishes while the run is paused; then DDL on the source
    wait_until(lambda: e.tgt.scalar(
        "SELECT count(*) FILTER (WHERE srsubstate <> 'r') || '/' || count(*)"
        " FROM pg_subscription_rel", e.tdb) == "0/1", 120, what="the initial copy")
    e.src.psql("ALTER TABLE public.kw ADD COLUMN added_later text", e.sdb, tuples=False)
    assert requests.post(f"{e.url}/v1/runs/{rid}/resume").status_code == 200
    run = e.until(rid, ("failed", "awaiting_approval"))
    assert run["state"] == "failed" and run["current_step"] == "cutover_gate", run
    diff = outputs(run, "cutover_gate")["schema_difference"]
    assert diff == [{"table": "public.kw", "object": "column added_later", "source": "text",
                     "target": None}]
    gate = next(s for s in run["steps"] if s["id"] == "cutover_gate")
    assert "added_later" in gate["last_error"]
    # the same change on the target, then a retry opens the gate
    e.tgt.psql("ALTER TABLE public.kw ADD COLUMN added_later text", e.tdb, tuples=False)
    assert requests.post(f"{e.url}/v1/runs/{rid}/steps/cutover_gate/retry").status_code == 200
    run = e.until(rid, ("failed", "awaiting_approval"))
    assert run["state"] == "awaiting_approval", run
    requests.post(f"{e.url}/v1/runs/{rid}/cancel")
