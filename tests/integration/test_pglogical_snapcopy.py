"""The pg-logical full load by snapshot copy (full_load_method "snapshot"): the slot made with an exported snapshot, tables copied under it in
ctid ranges over several connections while the source keeps changing, keys
built again per table, then CDC from the slot's consistent point. Every row
must arrive exactly once."""
import threading

import psycopg2
import pytest
import requests

from daemon import Daemon, wait_until
from runs_util import O2PEnv, two_clusters

SOURCE_SQL = r"""
CREATE TABLE public.big (id bigint PRIMARY KEY, grp int NOT NULL, payload text,
                         doubled bigint GENERATED ALWAYS AS (grp * 2) STORED);
INSERT INTO public.big (id, grp, payload)
  SELECT g, g % 97, repeat(md5(g::text), 3) FROM generate_series(1, 30000) g;
CREATE TABLE public.parted (id int, region text, amount numeric, PRIMARY KEY (id, region))
  PARTITION BY LIST (region);
CREATE TABLE public.parted_eu PARTITION OF public.parted FOR VALUES IN ('eu');
CREATE TABLE public.parted_us PARTITION OF public.parted FOR VALUES IN ('us');
INSERT INTO public.parted SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g * 0.5
  FROM generate_series(1, 2000) g;
CREATE TABLE public.small (code text PRIMARY KEY, label text UNIQUE);
INSERT INTO public.small VALUES ('a', 'alpha'), ('b', 'beta'), ('c', NULL);
CREATE INDEX big_grp ON public.big (grp);
CREATE TYPE public.mood AS ENUM ('calm', 'busy');
CREATE TABLE public.moods (id int PRIMARY KEY, mood public.mood, tags public.mood[]);
INSERT INTO public.moods SELECT g, 'busy', ARRAY['calm', 'busy']::public.mood[]
  FROM generate_series(1, 50) g;
"""

CHECKSUMS = {
    "big": "SELECT count(*) || ':' || coalesce(md5(string_agg(id || '/' || grp || '/' ||"
           " payload || '/' || doubled, ',' ORDER BY id)), '') FROM public.big",
    "parted": "SELECT count(*) || ':' || md5(string_agg(id || region || amount, ','"
              " ORDER BY id, region)) FROM public.parted",
    "small": "SELECT count(*) || ':' || md5(string_agg(code || coalesce(label, '-'), ','"
             " ORDER BY code)) FROM public.small",
    "moods": "SELECT count(*) || ':' || md5(string_agg(id || mood::text || tags::text, ','"
             " ORDER BY id)) FROM public.moods",
}


@pytest.fixture(scope="module")
def clusters():
    with two_clusters("scsrc", "sctgt") as pair:
        yield pair


@pytest.fixture
def env(clusters, tmp_path, request):
    src, tgt = clusters
    name = request.node.name.split("[")[0][-20:].lower()
    sdb, tdb = src.createdb(f"s_{name}"), tgt.createdb(f"t_{name}")
    src.psql(SOURCE_SQL, sdb, tuples=False)
    d = Daemon(tmp_path).start()
    yield O2PEnv(d, name, src, sdb, tgt, tdb)
    # runs left at the gate (or failed, kept for a retry) keep their
    # subscriptions, and with them apply workers of the shared target
    # (max_logical_replication_workers): cancel them and wait for their
    # clean-up, so that the next test's run gets one
    for run in requests.get(f"{d.url}/v1/runs").json()["items"]:
        if run["state"] not in ("succeeded", "cancelled"):
            requests.post(f"{d.url}/v1/runs/{run['id']}/cancel")
    wait_until(lambda: tgt.scalar("SELECT count(*) FROM pg_subscription WHERE subdbid ="
                                  " (SELECT oid FROM pg_database"
                                  "  WHERE datname = current_database())", tdb) == "0",
               60, what="the subscriptions of the test's runs to be dropped")
    if d.proc:
        assert d.stop() == 0, d.log()


def slots_left(e):
    """Replication slots of the source database (the clusters are shared)."""
    return e.src.scalar("SELECT count(*) FROM pg_replication_slots"
                        " WHERE database = current_database()", e.sdb)


def step(run, sid):
    return next(s for s in run["steps"] if s["id"] == sid)


class Writer:
    """Changes public.big on the source until stopped: inserts past the
    loaded ids, updates and deletes across the whole key range (so across
    every ctid range), one transaction each."""

    def __init__(self, cluster, db):
        self.conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, dbname=db,
                                     user=cluster.user, password=cluster.password)
        self.conn.autocommit = True
        self.stop = threading.Event()
        self.done = 0
        self.error = None
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        try:
            cur = self.conn.cursor()
            n = 0
            while not self.stop.is_set():
                n += 1
                cur.execute("INSERT INTO public.big (id, grp, payload) VALUES (%s, %s, %s)",
                            (100000 + n, n % 97, f"new {n}"))
                cur.execute("UPDATE public.big SET payload = payload || '+' WHERE id = %s",
                            ((n * 7919) % 30000 + 1,))
                cur.execute("DELETE FROM public.big WHERE id = %s", ((n * 104729) % 30000 + 1,))
                self.done = n
        except Exception as exc:  # reported by the test
            self.error = exc

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        self.conn.close()


def test_snapshot_copy_in_ranges_while_the_source_changes(env):
    e = env
    with Writer(e.src, e.sdb) as w:
        rid = e.start(full_load_method="snapshot", full_load_jobs=3, full_load_split_pages=40)
        run = e.until(rid, ("awaiting_approval", "failed"))
        assert run["state"] == "awaiting_approval", run
        assert w.done > 0 and w.error is None, w.error
    copy = step(run, "full_load")["outputs"]["full_load_copy"]
    assert copy["method"] == "snapshot" and copy["jobs"] == 3
    assert copy["consistent_point"].count("/") == 1
    tables = {t["table"]: t for t in copy["tables"]}
    assert set(tables) == {"big", "parted", "small", "moods"}
    assert all(t["state"] == "done" for t in tables.values()), tables
    assert tables["big"]["chunks"] > 3 and tables["big"]["chunks_done"] == tables["big"]["chunks"]
    assert tables["parted"]["chunks"] == 1  # a partitioned table is copied whole
    # small tables are loaded whole and frozen; built-in types travel in
    # binary, a user-defined type (its array carries the type's OID) as text
    assert tables["small"]["frozen"] and not tables["big"]["frozen"]
    assert tables["small"]["format"] == "binary" and tables["big"]["format"] == "binary"
    assert tables["moods"]["format"] == "text" and tables["moods"]["rows"] == 50
    e.tgt.psql("CREATE EXTENSION IF NOT EXISTS pg_visibility", e.tdb, tuples=False)
    frozen = "SELECT bool_and(all_frozen) FROM pg_visibility_map('public.{}'::regclass)"
    assert e.tgt.scalar(frozen.format("small"), e.tdb) == "t"
    assert e.tgt.scalar(frozen.format("big"), e.tdb) == "f"  # ranges: not frozen
    # the writer's last changes are applied by CDC before the gate is approved
    assert requests.post(f"{e.d.url}/v1/runs/{rid}/steps/cutover_gate/approve").status_code == 200
    run = e.until(rid, ("succeeded", "failed"))
    assert run["state"] == "succeeded", run
    for name, sql in CHECKSUMS.items():
        assert e.src.scalar(sql, e.sdb) == e.tgt.scalar(sql, e.tdb), name
    # the keys dropped for the copy are back, with the secondary index
    keys = e.tgt.scalar("SELECT string_agg(conname || ':' || contype::text, ',' ORDER BY conname)"
                        " FROM pg_constraint WHERE conrelid IN ('public.big'::regclass,"
                        " 'public.small'::regclass)", e.tdb)
    assert keys == "big_pkey:p,small_label_key:u,small_pkey:p", keys
    assert e.tgt.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'big_grp'",
                        e.tdb) == "1"
    assert slots_left(e) == "0"


def test_a_target_table_with_rows_fails_the_full_load_and_keeps_them(env):
    e = env
    # something on the target writes into public.small as soon as the schema
    # copy creates it: the full load must refuse to load into (or empty) it
    e.tgt.psql("""
        CREATE FUNCTION public.seed_small() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                     WHERE object_identity = 'public.small' AND command_tag = 'CREATE TABLE')
          THEN INSERT INTO public.small VALUES ('zz', 'kept'); END IF;
        END $$;
        CREATE EVENT TRIGGER seed_small ON ddl_command_end EXECUTE FUNCTION public.seed_small();
        """, e.tdb, tuples=False)
    rid = e.start(full_load_method="snapshot")
    run = e.until(rid, ("failed", "awaiting_approval"))
    assert run["state"] == "failed" and run["current_step"] == "full_load", run
    err = step(run, "full_load")["last_error"]
    assert "public.small already holds rows" in str(err), err
    assert e.tgt.scalar("SELECT string_agg(code || label, ',') FROM public.small",
                        e.tdb) == "zzkept"
    assert e.tgt.scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'small_pkey'",
                        e.tdb) == "1"
    assert slots_left(e) == "0"


def test_snapshot_copy_is_the_default_and_the_subscription_method_on_request(env):
    e = env
    dflt = requests.get(f"{e.d.url}/v1/plans/oracle-to-postgres").json()
    assert [p for p in dflt["parameters"] if p["name"] == "full_load_method"][0]["default"] \
        == "snapshot", dflt
    rid = e.start(full_load_method="subscription")
    run = e.until(rid, ("awaiting_approval", "failed"))
    assert run["state"] == "awaiting_approval", run
    assert "full_load_copy" not in step(run, "full_load")["outputs"]
    assert run["parameters"]["full_load_method"] == "subscription"
    for name, sql in CHECKSUMS.items():
        assert e.src.scalar(sql, e.sdb) == e.tgt.scalar(sql, e.tdb), name


def test_more_jobs_than_tables(env):
    # twelve of the sixteen copy threads find nothing to do and end at once,
    # some before the last one is started: the copy must still finish
    e = env
    rid = e.start(full_load_method="snapshot", full_load_jobs=16)
    run = e.until(rid, ("awaiting_approval", "failed"), timeout=120)
    assert run["state"] == "awaiting_approval", run
    copy = step(run, "full_load")["outputs"]["full_load_copy"]
    assert copy["jobs"] == 16 and len(copy["tables"]) == 4
    for name, sql in CHECKSUMS.items():
        assert e.src.scalar(sql, e.sdb) == e.tgt.scalar(sql, e.tdb), name


def test_an_unknown_method_is_refused(env):
    before = requests.get(f"{env.url}/v1/runs").json()
    r = requests.post(f"{env.url}/v1/projects/{env.pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": {"source_endpoint_id": env.eps["source"],
                       "target_endpoint_id": env.eps["target"],
                       "full_load_method": "rsync", "full_load_split_pages": -1,
                       "maintenance_work_mem_mb": 0}})
    assert r.status_code in (400, 422), r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert "full_load_method" in r.text and "full_load_split_pages" in r.text, r.text
    assert "maintenance_work_mem_mb" in r.text, r.text
    assert requests.get(f"{env.url}/v1/runs").json() == before


def statement_log_of_run(e, **params):
    """Runs the snapshot copy with params to the cutover gate, the target
    logging every statement; returns the target's log of the run."""
    e.tgt.psql("ALTER SYSTEM SET log_statement = 'all'")
    e.tgt.psql("SELECT pg_reload_conf()")
    try:
        with open(e.tgt.logfile, "rb") as f:
            f.seek(0, 2)
            start = f.tell()
        rid = e.start(full_load_method="snapshot", full_load_jobs=2, restore_jobs=2, **params)
        run = e.until(rid, ("awaiting_approval", "failed"))
        assert run["state"] == "awaiting_approval", run
        with open(e.tgt.logfile, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")
    finally:
        e.tgt.psql("ALTER SYSTEM RESET log_statement")
        e.tgt.psql("SELECT pg_reload_conf()")


def test_keys_and_indexes_are_built_with_the_run_s_maintenance_settings(env):
    """The sessions that build keys (snapshot copy) and indexes and foreign
    keys (restore_constraints) set maintenance_work_mem from the run, and
    restore_constraints' sessions (only they) max_parallel_maintenance_workers
    from restore_index_workers: seen in the target's statement log, with the
    bound values."""
    log = statement_log_of_run(env, maintenance_work_mem_mb=77, restore_index_workers=0)
    sets = log.count("$1 = 'maintenance_work_mem', $2 = '77MB'")
    # two copy sessions, and restore_constraints' first session at least
    assert sets >= 3, log[-3000:]
    assert log.count("$1 = 'maintenance_work_mem', $2 =") == sets
    # restore_constraints' two sessions, not the copy's
    assert log.count("$1 = 'max_parallel_maintenance_workers', $2 = '0'") == 2, log[-3000:]
    assert log.count("'max_parallel_maintenance_workers'") == 2


def test_build_sessions_default_to_postgresql_s_maintenance_work_mem(env):
    """Without maintenance_work_mem_mb the build sessions still set
    maintenance_work_mem, to 64 MB, whatever the target's own setting (here
    raised to 256 MB); without restore_index_workers no session sets
    max_parallel_maintenance_workers."""
    env.tgt.psql("ALTER SYSTEM SET maintenance_work_mem = '256MB'")
    try:
        log = statement_log_of_run(env)
    finally:
        env.tgt.psql("ALTER SYSTEM RESET maintenance_work_mem")
        env.tgt.psql("SELECT pg_reload_conf()")
    sets = log.count("$1 = 'maintenance_work_mem', $2 = '64MB'")
    assert sets >= 3, log[-3000:]
    assert log.count("$1 = 'maintenance_work_mem', $2 =") == sets
    assert "'max_parallel_maintenance_workers'" not in log


WIDE_SQL = r"""
CREATE TABLE public.wide (id int PRIMARY KEY, body text, raw bytea);
INSERT INTO public.wide SELECT g, repeat(md5(g::text), CASE WHEN g % 7 = 0 THEN 9000 ELSE 3 END),
  decode(repeat(md5(g::text), CASE WHEN g % 11 = 0 THEN 5000 ELSE 1 END), 'hex')
  FROM generate_series(1, 400) g;
CREATE TABLE public.wide_moods (id int PRIMARY KEY, mood public.mood, body text);
INSERT INTO public.wide_moods SELECT g, 'calm', repeat('x', CASE WHEN g % 5 = 0 THEN 300000 ELSE 10 END)
  FROM generate_series(1, 60) g;
"""

WIDE_CHECKSUMS = {
    "wide": "SELECT count(*) || ':' || md5(string_agg(id || body || encode(raw, 'hex'), ','"
            " ORDER BY id)) FROM public.wide",
    "wide_moods": "SELECT count(*) || ':' || md5(string_agg(id || mood::text || body, ','"
                  " ORDER BY id)) FROM public.wide_moods",
}


def test_rows_larger_than_a_copy_message_arrive_whole(env):
    # rows travel to the target in CopyData messages of up to 64 KiB: rows of
    # 288 KB (binary) and 300 KB (text, an enum column) between small ones
    # must arrive byte for byte, in both formats
    e = env
    e.src.psql(WIDE_SQL, e.sdb, tuples=False)
    assert e.src.scalar("SELECT max(octet_length(body)) FROM public.wide", e.sdb) == "288000"
    rid = e.start(full_load_method="snapshot", full_load_jobs=2)
    run = e.until(rid, ("awaiting_approval", "failed"), timeout=120)
    assert run["state"] == "awaiting_approval", run
    tables = {t["table"]: t for t in step(run, "full_load")["outputs"]["full_load_copy"]["tables"]}
    assert tables["wide"]["format"] == "binary" and tables["wide"]["rows"] == 400, tables
    assert tables["wide_moods"]["format"] == "text" and tables["wide_moods"]["rows"] == 60
    for name, sql in {**CHECKSUMS, **WIDE_CHECKSUMS}.items():
        assert e.src.scalar(sql, e.sdb) == e.tgt.scalar(sql, e.tdb), name
