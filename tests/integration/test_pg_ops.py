"""Integration tests of the pg/ operations (the real C code, through the
pgops-driver program, against real throwaway PostgreSQL 15 clusters).

The driver is found through $PGOPS_DRIVER (meson sets it); without it the
whole module is skipped with a message saying so.
"""

import json
import os
import re
import subprocess

import pytest

from pgcluster import (Cluster, load_chinook, load_dms_sample, load_pagila,  # noqa: F401
                       pg_cluster)

DRIVER = os.environ.get("PGOPS_DRIVER")

pytestmark = pytest.mark.skipif(
    not DRIVER, reason="PGOPS_DRIVER is not set (path of the pgops-driver test program)")

HOSTILE_SCHEMA = 'Schéma "Ünïcode" Mixed'
HOSTILE_TABLE = 'Order"; DROP TABLE x;--'
UNICODE_TABLE = "Ünïcode Table"


def q(ident):
    return '"%s"' % ident.replace('"', '""')


def lit(value):
    return "'%s'" % value.replace("'", "''")


def drive(command, request, expect="ok"):
    """Runs the driver; returns its JSON answer (asserting the status)."""
    proc = subprocess.run([DRIVER, command], input=json.dumps(request), text=True,
                          capture_output=True, timeout=300)
    assert proc.stdout, "driver printed nothing; stderr: %s" % proc.stderr
    # 0 = ok, 2 = operation error; anything else (sanitizer reports) is a bug
    assert proc.returncode in (0, 2), "driver exit %d; stderr: %s" % (
        proc.returncode, proc.stderr[-3000:])
    answer = json.loads(proc.stdout)
    assert (answer["status"] == "ok") == (proc.returncode == 0), answer
    if expect is not None:
        assert answer["status"] == expect, answer
    return answer


def normalise_dump(text):
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("--") or line.startswith("\\restrict") \
                or line.startswith("\\unrestrict"):
            continue
        out.append(line)
    return "\n".join(out)


def data_fingerprint(cluster, db, schemas):
    """{table: (rows, md5 of all row texts)} for every ordinary table."""
    tables = cluster.psql(
        "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname = ANY(ARRAY[%s]) ORDER BY 1"
        % ",".join(lit(s) for s in schemas), db).split("\n")
    fp = {}
    for t in filter(None, tables):
        fp[t] = cluster.scalar(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') "
            "FROM %s x" % t, db)
    return fp


def trigger_states(cluster, db):
    out = cluster.psql(
        "SELECT c.relname || '.' || t.tgname || '=' || t.tgenabled::text FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1", db)
    return [l for l in out.splitlines() if l]


def count(cluster, db, sql):
    return int(cluster.scalar(sql, db))


@pytest.fixture(scope="module")
def cluster(pg_cluster):
    return pg_cluster


@pytest.fixture
def fresh_db(cluster, request):
    names = []

    def make(loader=None):
        name = "db_%s_%d" % (re.sub(r"\W", "_", request.node.name)[:30], len(names))
        cluster.dropdb(name)
        cluster.createdb(name)
        names.append(name)
        if loader:
            loader(cluster, name)
        return name
    yield make
    for n in names:
        cluster.dropdb(n)


# --- prepare_target / restore_constraints / enable_triggers --------------------

def round_trip(cluster, db, schemas, expect_fks, expect_indexes, expect_triggers):
    conn = cluster.conn_spec(db)
    before_dump = normalise_dump(cluster.pg_dump_schema(db))
    before_data = data_fingerprint(cluster, db, schemas)
    before_trg = trigger_states(cluster, db)

    first = drive("prepare_target", {"conn": conn, "scope": {"schemas": schemas}})["result"]
    cap = first["capture"]
    assert len(cap["foreign_keys"]) == expect_fks
    assert len(cap["indexes"]) == expect_indexes
    assert len(cap["triggers"]) == expect_triggers
    assert "IF NOT EXISTS" in first["script"]
    # everything dropped / disabled
    ns = ",".join(lit(s) for s in schemas)
    assert count(cluster, db, "SELECT count(*) FROM pg_constraint k JOIN pg_namespace n "
                 "ON n.oid = k.connamespace WHERE contype = 'f' AND n.nspname IN (%s)" % ns) == 0
    assert all(s.endswith("=D") for s in trigger_states(cluster, db))
    # a second prepare keeps the original capture (trigger states included)
    second = drive("prepare_target", {"conn": conn, "scope": {"schemas": schemas},
                                      "previous": cap})["result"]
    assert second["capture"] == cap
    assert all(t["enabled"] != "D" or "=D" in "".join(before_trg) for t in cap["triggers"])

    res = drive("restore_constraints", {"conn": conn, "capture": cap})["result"]
    assert res["report"]["failed"] == 0
    assert res["report"]["total"] == expect_fks + expect_indexes
    assert len(res["progress"]) == res["report"]["total"]
    assert res["progress"][-1]["done"] == res["progress"][-1]["total"]
    # restore is re-runnable
    again = drive("restore_constraints", {"conn": conn, "capture": cap})["result"]
    assert again["report"]["present"] == again["report"]["total"]

    trg = drive("enable_triggers", {"conn": conn, "capture": cap})["result"]["report"]
    assert trg["failed"] == 0
    assert trigger_states(cluster, db) == before_trg
    assert normalise_dump(cluster.pg_dump_schema(db)) == before_dump
    assert data_fingerprint(cluster, db, schemas) == before_data
    return cap


def test_pagila_prepare_restore_round_trip(cluster, fresh_db):
    db = fresh_db(load_pagila)
    cap = round_trip(cluster, db, ["public"], expect_fks=36, expect_indexes=31,
                     expect_triggers=15)
    names = {i["name"] for i in cap["indexes"]}
    assert "film_fulltext_idx" in names                      # GIN kept in capture
    assert "idx_unq_rental_rental_date_inventory_id_customer_id" not in names  # unique stays
    fk = [f for f in cap["foreign_keys"] if f["name"] == "rental_customer_id_fkey"][0]
    assert "ON UPDATE CASCADE ON DELETE RESTRICT" in fk["definition"]


def test_dms_sample_prepare_restore_round_trip(cluster, fresh_db):
    db = fresh_db(load_dms_sample)
    cap = round_trip(cluster, db, ["dms_sample"], expect_fks=15, expect_indexes=8,
                     expect_triggers=0)
    # the FKs were created NOT VALID and must come back NOT VALID
    assert all(not f["validated"] for f in cap["foreign_keys"])
    assert count(cluster, db, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                 "AND NOT convalidated") == 15


def test_restore_script_is_rerunnable(cluster, fresh_db):
    db = fresh_db(load_pagila)
    before = normalise_dump(cluster.pg_dump_schema(db))
    out = drive("prepare_target", {"conn": cluster.conn_spec(db),
                                   "scope": {"schemas": ["public"]}})["result"]
    for _ in range(2):
        cluster.psql(out["script"], db, tuples=False)
    assert normalise_dump(cluster.pg_dump_schema(db)) == before


def test_trigger_states_restored_exactly(cluster, fresh_db):
    db = fresh_db(load_pagila)
    cluster.psql("ALTER TABLE actor DISABLE TRIGGER last_updated;"
                 "ALTER TABLE film ENABLE REPLICA TRIGGER film_fulltext_trigger;"
                 "ALTER TABLE address ENABLE ALWAYS TRIGGER last_updated;", db, tuples=False)
    before = trigger_states(cluster, db)
    assert "actor.last_updated=D" in before and "film.film_fulltext_trigger=R" in before
    conn = cluster.conn_spec(db)
    cap = drive("prepare_target", {"conn": conn, "scope": {"schemas": ["public"],
                                                            "tables": ["actor", "film", "address"]}}
                )["result"]["capture"]
    assert {t["table"] for t in cap["triggers"]} == {"actor", "film", "address"}
    assert all(s.endswith("=D") for s in trigger_states(cluster, db)
               if s.split(".")[0] in ("actor", "film", "address"))
    drive("restore_constraints", {"conn": conn, "capture": cap})
    drive("enable_triggers", {"conn": conn, "capture": cap})
    assert trigger_states(cluster, db) == before


def test_restore_concurrently_rebuilds_invalid_and_reports_failures(cluster, fresh_db):
    db = fresh_db(load_pagila)
    conn = cluster.conn_spec(db)
    cap = drive("prepare_target", {"conn": conn, "scope": {"schemas": ["public"]}})["result"]["capture"]
    # an INVALID leftover of an interrupted CREATE INDEX CONCURRENTLY
    cluster.psql("CREATE INDEX idx_last_name ON customer (last_name);"
                 "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_last_name'::regclass;"
                 # data the FK will not accept
                 "INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id) "
                 "VALUES (now(), 1, 99999, 1);", db, tuples=False)
    ans = drive("restore_constraints", {"conn": conn, "capture": cap, "concurrently": True},
                expect="remote")
    rep = ans["result"]["report"]
    assert rep["failed"] == 1 and rep["created"] == rep["total"] - 1
    failed = [o for o in rep["objects"] if o["action"] == "failed"]
    assert failed[0]["name"] == "rental_customer_id_fkey" and failed[0]["sqlstate"] == "23503"
    assert "rental_customer_id_fkey" in ans["message"] and ans["sqlstate"] == "23503"
    assert cluster.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                          "'idx_last_name'::regclass", db) == "t"
    # the FK is back, NOT VALID; fixing the data and re-running validates it
    cluster.psql("DELETE FROM rental WHERE customer_id = 99999", db)
    rep = drive("restore_constraints", {"conn": conn, "capture": cap})["result"]["report"]
    assert [o["action"] for o in rep["objects"] if o["name"] == "rental_customer_id_fkey"] == ["validated"]
    assert count(cluster, db, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                 "AND NOT convalidated") == 0


def test_partitioned_parent_index_fk_and_cloned_triggers(cluster, fresh_db):
    db = fresh_db()
    cluster.psql("""
        CREATE SCHEMA "Part s";
        CREATE TABLE "Part s".ref (id int PRIMARY KEY);
        INSERT INTO "Part s".ref SELECT generate_series(1, 10);
        CREATE TABLE "Part s"."Meas" (id int, ref_id int, at date NOT NULL, v text)
            PARTITION BY RANGE (at);
        CREATE TABLE "Part s"."Meas 2024" PARTITION OF "Part s"."Meas"
            FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE "Part s"."Meas 2025" PARTITION OF "Part s"."Meas"
            FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE INDEX "Meas v" ON "Part s"."Meas" (v);
        ALTER TABLE "Part s"."Meas" ADD CONSTRAINT meas_ref FOREIGN KEY (ref_id)
            REFERENCES "Part s".ref (id);
        CREATE FUNCTION "Part s".t() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
        CREATE TRIGGER tr BEFORE INSERT ON "Part s"."Meas" FOR EACH ROW EXECUTE FUNCTION "Part s".t();
        ALTER TABLE "Part s"."Meas 2025" DISABLE TRIGGER tr;
        INSERT INTO "Part s"."Meas" SELECT g, 1 + g % 10, date '2024-06-01' + g, 'v' || g
            FROM generate_series(1, 400) g;
    """, db, tuples=False)
    cap = round_trip(cluster, db, ["Part s"], expect_fks=1, expect_indexes=3, expect_triggers=3)
    assert [i["name"] for i in cap["indexes"] if i["partitioned"]] == ["Meas v"]
    assert sorted(t["enabled"] for t in cap["triggers"]) == ["D", "O", "O"]


# --- reset_sequences ---------------------------------------------------------------

def nextval(cluster, db, seq):
    return int(cluster.scalar("SELECT nextval(%s)" % lit(seq), db))


def test_reset_sequences_past_explicit_ids(cluster, fresh_db):
    db = fresh_db(load_pagila)
    cluster.psql("INSERT INTO actor (actor_id, first_name, last_name) VALUES (50000, 'A', 'B');"
                 "CREATE TABLE ident (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);"
                 "INSERT INTO ident (id, v) VALUES (7000, 'x');"
                 "CREATE TABLE ser (id serial PRIMARY KEY);"
                 "INSERT INTO ser VALUES (123);", db, tuples=False)
    conn = cluster.conn_spec(db)
    rep = drive("reset_sequences", {"conn": conn, "scope": {"schemas": ["public"]},
                                    "gap": 1000})["result"]["report"]
    by = {s["name"]: s for s in rep["sequences"]}
    assert by["actor_actor_id_seq"]["action"] == "set"
    assert nextval(cluster, db, "actor_actor_id_seq") == 51000
    assert nextval(cluster, db, "ident_id_seq") == 8000          # identity column
    assert nextval(cluster, db, "ser_id_seq") == 1123             # OWNED BY (serial)
    # never backwards, and a source value wins when larger
    src = {"public": {"actor_actor_id_seq": 90000, "ser_id_seq": "5"}}
    rep = drive("reset_sequences", {"conn": conn, "scope": {"schemas": ["public"]},
                                    "source_last_values": src})["result"]["report"]
    by = {s["name"]: s for s in rep["sequences"]}
    assert by["actor_actor_id_seq"]["next_value"] == "91000"
    assert by["ser_id_seq"]["action"] == "unchanged"
    assert nextval(cluster, db, "actor_actor_id_seq") == 91000


def test_read_source_sequences_and_dms_sample(cluster, fresh_db):
    src = fresh_db(load_dms_sample)
    dst = fresh_db(load_dms_sample)
    cluster.psql("SELECT setval('dms_sample.player_seq', 777777)", src)
    lv = drive("read_sequences", {"conn": cluster.conn_spec(src),
                                  "scope": {"schemas": ["dms_sample"]}})["result"]["last_values"]
    assert lv["dms_sample"]["player_seq"] == 777777
    rep = drive("reset_sequences", {"conn": cluster.conn_spec(dst),
                                    "scope": {"schemas": ["dms_sample"]}, "gap": 10,
                                    "source_last_values": lv})["result"]["report"]
    by = {s["name"]: s for s in rep["sequences"]}
    # free-standing sequences used by DEFAULT nextval() on double precision ids
    assert by["player_seq"]["next_value"] == "777787"
    assert nextval(cluster, dst, "dms_sample.player_seq") == 777787
    top = count(cluster, dst, "SELECT max(id)::bigint FROM dms_sample.sporting_event_ticket")
    assert nextval(cluster, dst, "dms_sample.sporting_event_ticket_seq") == top + 10


# --- convert_schema ------------------------------------------------------------------

def test_apply_script_reports_failing_statement(cluster, fresh_db):
    db = fresh_db()
    conn = cluster.conn_spec(db)
    script = ("-- converted schema\n"
              "CREATE TABLE ok_one (id int);\n"
              "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n"
              "CREATE TABLE bad (id int,\n"
              "   name txet);\n"
              "CREATE TABLE never (id int);\n")
    ans = drive("apply_script", {"conn": conn, "script": script}, expect="remote")
    err = ans["result"]["report"]["error"]
    assert ans["sqlstate"] == "42704"
    assert err["index"] == 3 and err["line"] == 5
    assert script[err["position"] - 1:].startswith("txet")
    assert "statement 3 (line 5" in ans["message"]
    assert count(cluster, db, "SELECT count(*) FROM pg_class WHERE relname = 'ok_one'") == 0
    # a runtime error without a position still names the statement
    ans = drive("apply_script", {"conn": conn, "script": "CREATE TABLE a (i int);\n"
                                 "BEGIN;\nCREATE TABLE a (i int);"}, expect="remote")
    assert ans["sqlstate"] == "42P07"
    assert ans["result"]["report"]["error"]["index"] == 3
    ok = drive("apply_script", {"conn": conn, "script": script.replace("txet", "text")})
    assert ok["result"]["report"]["executed"] == 4


def test_copy_schema_with_pg_dump(cluster, fresh_db):
    src = fresh_db(load_pagila)
    dst = fresh_db()
    rep = drive("copy_schema", {"conn": cluster.conn_spec(dst), "source": cluster.conn_spec(src),
                                "schemas": ["public"]})["result"]["report"]
    assert rep["script_bytes"] > 10000 and rep["dump_bytes"] > 1000 and rep["entries"] > 50
    assert normalise_dump(cluster.pg_dump_schema(dst)) == normalise_dump(cluster.pg_dump_schema(src))
    # a failure on the target names the statement of schema.sql and its line,
    # and leaves nothing applied (psql --single-transaction)
    again = fresh_db()
    cluster.psql("CREATE TABLE public.payment (x int)", again, tuples=False)
    ans = drive("copy_schema", {"conn": cluster.conn_spec(again), "source": cluster.conn_spec(src),
                                "schemas": ["public"]}, expect="remote")
    err = ans["result"]["report"]["error"]
    assert ans["sqlstate"] == "42P07" and err["sqlstate"] == "42P07"
    assert err["statement"].startswith("CREATE TABLE public.payment") and err["line"] > 1
    assert "schema.sql line %d" % err["line"] in ans["message"]
    assert count(cluster, again, "SELECT count(*) FROM pg_class WHERE relname = 'actor'") == 0
    # bad credentials are classified, and the password never shows up
    bad = dict(cluster.conn_spec(src), password="wrong-secret")
    ans = drive("copy_schema", {"conn": cluster.conn_spec(dst), "source": bad,
                                "schemas": ["public"]}, expect="remote")
    assert ans["sqlstate"] == "28P01" and "wrong-secret" not in json.dumps(ans)


# --- view migration --------------------------------------------------------------------

def view_setup(cluster, fresh_db, schema="staging", table="invoice_line",
               remote_schema="public", remote_table="invoice", final="invoice_line_final",
               local_schema="remote"):
    db1 = fresh_db(load_chinook)
    db2 = fresh_db(load_chinook)
    cluster.psql("CREATE SCHEMA %s; CREATE TABLE %s.%s AS SELECT * FROM public.invoice_line;"
                 "ALTER TABLE %s.%s ADD PRIMARY KEY (invoice_line_id);"
                 % (q(schema), q(schema), q(table), q(schema), q(table)), db1, tuples=False)
    if remote_schema != "public" or remote_table != "invoice":
        cluster.psql("CREATE SCHEMA IF NOT EXISTS %s; ALTER TABLE public.invoice SET SCHEMA %s;"
                     "ALTER TABLE %s.invoice RENAME TO %s;"
                     % (q(remote_schema), q(remote_schema), q(remote_schema), q(remote_table)),
                     db2, tuples=False)
    conn = cluster.conn_spec(db1)
    link = {"server": "db2 link", "host": "127.0.0.1", "port": cluster.port, "dbname": db2,
            "user": cluster.user, "password": cluster.password,
            "remote_schema": remote_schema, "tables": [remote_table],
            "local_schema": local_schema}
    view = {"view": {"schema": schema, "name": "invoice view"},
            "left": {"schema": schema, "name": table},
            "right": {"schema": local_schema, "name": remote_table},
            "join": "inner", "keys": [{"left": "invoice_id", "right": "invoice_id"}],
            "columns": [{"side": "left", "column": "invoice_line_id", "alias": "Line Id"},
                        {"side": "left", "column": "invoice_id"},
                        {"side": "left", "column": "track_id"},
                        {"side": "left", "column": "unit_price"},
                        {"side": "left", "column": "quantity"},
                        {"side": "right", "column": "customer_id"},
                        {"side": "right", "column": "invoice_date"},
                        {"side": "right", "column": "billing_country", "alias": "Country ü"},
                        {"side": "right", "column": "total"}]}
    fin = {"table": {"schema": schema, "name": final},
           "view": {"schema": schema, "name": "invoice view"}, "key": ["Line Id"]}
    return db1, db2, conn, link, view, fin


def run_view_migration(cluster, fresh_db, **names):
    db1, db2, conn, link, view, fin = view_setup(cluster, fresh_db, **names)
    rep = drive("link_remote", {"conn": conn, "link": link})["result"]["report"]
    assert rep["imported"] == [link["tables"][0]] and "password" not in json.dumps(rep)
    rep = drive("link_remote", {"conn": conn, "link": link})["result"]["report"]  # idempotent
    assert rep["present"] == [link["tables"][0]] and not rep["server_created"]
    drive("create_view", {"conn": conn, "view": view})
    drive("create_view", {"conn": conn, "view": view})
    rep = drive("create_final_table", {"conn": conn, "final": fin})["result"]["report"]
    assert rep["created"]
    assert drive("create_final_table", {"conn": conn, "final": fin})["result"]["report"]["created"] is False
    load = drive("load_final", {"conn": conn, "final": fin, "batch_rows": 500})["result"]
    assert load["report"]["total"] == 2240 and load["report"]["written"] == 2240
    assert load["report"]["batches"] == 5
    assert load["progress"][-1]["done"] == 2240
    again = drive("load_final", {"conn": conn, "final": fin, "batch_rows": 700})["result"]
    assert again["report"]["written"] == 0          # re-runnable, no duplicates
    val = drive("validate", {"conn": conn, "final": fin})["result"]["report"]
    assert val["match"], val
    assert val["view"]["count"] == val["final"]["count"] == 2240
    assert "migration_timestamp" not in val["columns"]
    return db1, db2, conn, link, view, fin


def test_view_migration_end_to_end(cluster, fresh_db):
    db1, db2, conn, link, view, fin = run_view_migration(cluster, fresh_db)
    st = "staging.invoice_line"
    final = 'staging.invoice_line_final'
    drive("ongoing_sync", {"conn": conn, "view": view, "final": fin, "enable": True})
    cluster.psql("INSERT INTO %s VALUES (90001, 5, 10, 0.99, 3);"
                 "UPDATE %s SET quantity = quantity + 1 WHERE invoice_line_id = 10;"
                 "UPDATE %s SET invoice_id = 7 WHERE invoice_line_id = 11;"
                 "UPDATE %s SET invoice_line_id = 90002 WHERE invoice_line_id = 12;"
                 "DELETE FROM %s WHERE invoice_line_id = 13;" % ((st,) * 5), db1, tuples=False)
    val = drive("validate", {"conn": conn, "final": fin})["result"]["report"]
    assert val["match"], val
    assert count(cluster, db1, 'SELECT count(*) FROM %s WHERE "Line Id" IN (90001, 90002)' % final) == 2
    # the right-hand side changes: the trigger cannot see it, validate does
    cluster.psql("UPDATE invoice SET billing_country = 'Nowhere' WHERE invoice_id = 5", db2)
    val = drive("validate", {"conn": conn, "final": fin})["result"]["report"]
    assert not val["match"] and val["different"]["count"] > 0
    drive("load_final", {"conn": conn, "final": fin, "update_existing": True, "prune": True})
    val = drive("validate", {"conn": conn, "final": fin})["result"]["report"]
    assert val["match"], val
    # a row deleted by hand from the final table is a mismatch naming the key
    cluster.psql('DELETE FROM %s WHERE "Line Id" = 42' % final, db1)
    ans = drive("validate", {"conn": conn, "final": fin, "max_keys": 5})
    val = ans["result"]["report"]
    assert ans["status"] == "ok" and val["match"] is False
    assert val["missing_in_final"] == {"count": 1, "keys": [{"Line Id": "42"}]}
    assert val["view"]["checksum"] != val["final"]["checksum"]
    drive("ongoing_sync", {"conn": conn, "view": view, "final": fin, "enable": False})
    assert count(cluster, db1, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'cutover_sync_%'") == 0


def test_view_migration_hostile_identifiers(cluster, fresh_db):
    db1, db2, conn, link, view, fin = run_view_migration(
        cluster, fresh_db, schema=HOSTILE_SCHEMA, table=HOSTILE_TABLE,
        remote_schema="Remote Sch€ma", remote_table=UNICODE_TABLE,
        final='Final "Tåble"; --', local_schema="lo cal")
    drive("ongoing_sync", {"conn": conn, "view": view, "final": fin})
    cluster.psql("DELETE FROM %s.%s WHERE invoice_line_id < 5" % (q(HOSTILE_SCHEMA), q(HOSTILE_TABLE)),
                 db1)
    assert drive("validate", {"conn": conn, "final": fin})["result"]["report"]["match"]


# --- hostile identifiers through capture / sequences / schema ---------------------------

HOSTILE_DDL = '''
CREATE SCHEMA {s};
CREATE TABLE {s}.{parent} ("Id" serial PRIMARY KEY, "Näme" text UNIQUE);
CREATE TABLE {s}.{t} ("ID" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "parent Id" int REFERENCES {s}.{parent} ("Id") ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    "Weird;Col" text);
CREATE INDEX {idx} ON {s}.{t} ("parent Id", "Weird;Col");
CREATE INDEX "lower idx" ON {s}.{parent} (lower("Näme")) WHERE "Id" > 0;
COMMENT ON INDEX {s}.{idx} IS 'it''s an index';
CREATE FUNCTION {s}."trg fn"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER "Trig $cutover$ ""x""" BEFORE INSERT ON {s}.{t} FOR EACH ROW EXECUTE FUNCTION {s}."trg fn"();
CREATE TRIGGER "second" BEFORE UPDATE ON {s}.{t} FOR EACH ROW EXECUTE FUNCTION {s}."trg fn"();
ALTER TABLE {s}.{t} DISABLE TRIGGER "second";
INSERT INTO {s}.{parent} ("Näme") SELECT 'n' || g FROM generate_series(1, 50) g;
INSERT INTO {s}.{t} ("parent Id", "Weird;Col") SELECT 1 + g % 50, 'w' || g FROM generate_series(1, 200) g;
'''.format(s=q(HOSTILE_SCHEMA), t=q(HOSTILE_TABLE), parent=q(UNICODE_TABLE),
           idx=q('Idx "x"; DROP SCHEMA public;--'))


def test_hostile_identifiers_capture_sequences_schema(cluster, fresh_db):
    db = fresh_db()
    conn = cluster.conn_spec(db)
    # convert_schema applies the hostile DDL (its $$ body and quotes included)
    drive("apply_script", {"conn": conn, "script": HOSTILE_DDL})
    cap = round_trip(cluster, db, [HOSTILE_SCHEMA], expect_fks=1, expect_indexes=2,
                     expect_triggers=2)
    assert {t["name"] for t in cap["triggers"]} == {'Trig $cutover$ "x"', "second"}
    assert [t["enabled"] for t in cap["triggers"] if t["name"] == "second"] == ["D"]
    # the script builds its DO blocks with a tag the names do not contain
    drive("prepare_target", {"conn": conn, "scope": {"schemas": [HOSTILE_SCHEMA]}})
    script = drive("capture_script", {"conn": conn, "capture": cap})["result"]["script"]
    cluster.psql(script, db, tuples=False)
    cluster.psql(script, db, tuples=False)
    assert len(trigger_states(cluster, db)) == 2
    # sequences: serial and identity columns in the hostile schema
    cluster.psql('INSERT INTO %s.%s ("Id", "Näme") VALUES (5000, \'z\')'
                 % (q(HOSTILE_SCHEMA), q(UNICODE_TABLE)), db)
    rep = drive("reset_sequences", {"conn": conn, "scope": {"schemas": [HOSTILE_SCHEMA]},
                                    "gap": 10})["result"]["report"]
    assert {s["action"] for s in rep["sequences"]} == {"set"}
    nv = cluster.scalar("SELECT nextval(pg_get_serial_sequence(%s, 'Id'))"
                        % lit("%s.%s" % (q(HOSTILE_SCHEMA), q(UNICODE_TABLE))), db)
    assert int(nv) == 5010
    # copy the hostile schema to another database with pg_dump
    dst = fresh_db()
    drive("copy_schema", {"conn": cluster.conn_spec(dst), "source": conn,
                          "schemas": [HOSTILE_SCHEMA]})
    assert normalise_dump(cluster.pg_dump_schema(dst, [HOSTILE_SCHEMA])) == \
        normalise_dump(cluster.pg_dump_schema(db, [HOSTILE_SCHEMA]))


# --- errors --------------------------------------------------------------------------------

def test_permission_error_has_sqlstate(cluster, fresh_db):
    db = fresh_db(load_pagila)
    cluster.psql("DROP ROLE IF EXISTS limited; CREATE ROLE limited LOGIN PASSWORD 'limited-pw'")
    lim = cluster.conn_spec(db, user="limited", password="limited-pw")
    ans = drive("exec", {"conn": lim, "sql": "SELECT count(*) FROM actor"}, expect="remote")
    assert ans["sqlstate"] == "42501" and "permission denied" in ans["message"]
    ans = drive("prepare_target", {"conn": lim, "scope": {"schemas": ["public"]}},
                expect="remote")
    assert ans["sqlstate"] == "42501" and "must be owner" in ans["message"]
    # nothing was dropped: the drop runs in one transaction
    assert count(cluster, db, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'") == 36


def test_connection_failures_are_classified(cluster):
    ans = drive("connect", {"conn": dict(cluster.conn_spec(), password="nope")}, expect="remote")
    assert ans["sqlstate"] == "28P01"
    ans = drive("connect", {"conn": dict(cluster.conn_spec(), dbname="no such db")},
                expect="remote")
    assert ans["sqlstate"] == "3D000"
    ans = drive("connect", {"conn": dict(cluster.conn_spec(), port=1, connect_timeout=2)},
                expect="transient")
    assert ans["sqlstate"].startswith("08")
    ans = drive("exec", {"conn": cluster.conn_spec(), "sql": "SELECT $1::int", "params": ["x"]},
                expect="remote")
    assert ans["sqlstate"] == "22P02"
    ans = drive("exec", {"conn": cluster.conn_spec(),
                         "sql": "SELECT pg_terminate_backend(pg_backend_pid())"},
                expect="transient")
    assert ans["sqlstate"] in ("57P01", "08006")


# --- chunk fingerprints (continuous validation) ----------------------------------

def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def test_chunk_lsn_is_above_an_asynchronous_commit_the_read_sees(cluster, fresh_db):
    """The validation compares a differing chunk again only once the
    subscriber confirmed the LSN read with it, so that LSN must lie above the
    commit record of every row the read saw, also of a row committed with
    synchronous_commit = off whose commit is still in the WAL buffers (the
    write position, pg_current_wal_lsn(), is below it then)."""
    db = fresh_db()
    cluster.psql("CREATE TABLE t (id integer PRIMARY KEY, v text)", db)
    table = {"schema": "public", "name": "t", "keys": ["id"], "types": ["integer"]}
    # the WAL writer writes asynchronous commits every 10 s instead of 200 ms
    cluster.psql("ALTER SYSTEM SET wal_writer_delay = '10s'")
    cluster.psql("SELECT pg_reload_conf()")
    try:
        for i in range(5):
            out = cluster.psql(f"SET synchronous_commit = off;"
                               f" INSERT INTO t VALUES ({i}, 'async');"
                               f" SELECT pg_current_wal_lsn(), pg_current_wal_insert_lsn();", db)
            written, inserted = (lsn(x) for x in out.strip().split("|"))
            fp = drive("chunk_range", {"conn": cluster.conn_spec(db), "table": table,
                                       "lo": None, "hi": None})["result"]
            if written < inserted:
                break  # the commit was still in the WAL buffers
        assert written < inserted, "every commit was written before it could be read"
        assert fp["rows"] == i + 1
        assert lsn(fp["lsn"]) >= inserted, (fp, out)
    finally:
        cluster.psql("ALTER SYSTEM RESET wal_writer_delay")
        cluster.psql("SELECT pg_reload_conf()")
