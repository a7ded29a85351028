"""The view-migration plan on pg-logical with chinook: invoice_line staged
from the source cluster, invoice living in a second database of the target
cluster, the view and final table, load, ongoing sync, validate = match;
then changes on the source flow through staging into the final table."""
import pytest
import requests

from daemon import Daemon, wait_until
from pgcluster import Cluster, load_chinook
from test_pglogical import endpoint


@pytest.fixture(scope="module")
def chinook():
    src = Cluster("chinook-src")
    tgt = Cluster("chinook-tgt")
    src.start()
    tgt.start()
    try:
        src.createdb("legacy")
        load_chinook(src, "legacy")
        tgt.createdb("db1")
        tgt.createdb("db2")
        load_chinook(tgt, "db2")
        yield src, tgt
    finally:
        src.stop()
        tgt.stop()


VIEW = {"schema": "public", "name": "invoice_line_v", "join": "inner",
        "keys": [{"left": "invoice_id", "right": "invoice_id"}],
        "columns": [{"side": "left", "column": "invoice_line_id"},
                    {"side": "left", "column": "invoice_id"},
                    {"side": "left", "column": "track_id"},
                    {"side": "left", "column": "unit_price"},
                    {"side": "left", "column": "quantity"},
                    {"side": "right", "column": "customer_id"},
                    {"side": "right", "column": "invoice_date"},
                    {"side": "right", "column": "total", "alias": "invoice_total"}]}


def test_view_migration_on_pg_logical(chinook, tmp_path):
    src, tgt = chinook
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "chinook"}).json()["id"]
        s = endpoint(url, pid, "legacy", "source", src, "legacy")
        t = endpoint(url, pid, "db1", "target", tgt, "db1")
        rem = endpoint(url, pid, "db2", "target", tgt, "db2")
        params = {"source_endpoint_id": s, "target_endpoint_id": t,
                  "remote_endpoint_id": rem,
                  "source_table": {"schema": "public", "name": "invoice_line"},
                  "staging_schema": "public",
                  "remote_table": {"schema": "public", "name": "invoice"},
                  "view": VIEW,
                  "final_table": {"schema": "public", "name": "invoice_line_final",
                                  "key": ["invoice_line_id"]},
                  "batch_size": 500, "ongoing_sync": True}
        bad = dict(params, staging_schema="staging")
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "view-migration", "engine": "pg-logical", "parameters": bad})
        assert r.status_code == 400
        assert r.json()["errors"][0]["pointer"] == "/parameters/staging_schema"
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "view-migration", "engine": "pg-logical", "parameters": params})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        run = wait_until(lambda: (lambda x: x if x["state"] in ("succeeded", "failed")
                                  else None)(requests.get(f"{url}/v1/runs/{rid}").json()),
                         180, what="the view migration")
        assert run["state"] == "succeeded", run
        report = requests.get(f"{url}/v1/runs/{rid}/artifacts/validation.json").json()
        assert report["match"] is True
        n_src = int(src.scalar("SELECT count(*) FROM invoice_line", "legacy"))
        assert int(tgt.scalar("SELECT count(*) FROM invoice_line_final", "db1")) == n_src
        assert tgt.scalar("SELECT count(*) FROM information_schema.columns WHERE "
                          "table_name = 'invoice_line_final' AND column_name = "
                          "'migration_timestamp'", "db1") == "1"
        # ongoing sync: a change on the source reaches the final table through
        # the staging subscription and the trigger
        src.psql("UPDATE invoice_line SET quantity = quantity + 100"
                 " WHERE invoice_line_id = 7", "legacy")
        wait_until(lambda: tgt.scalar("SELECT quantity FROM invoice_line_final"
                                      " WHERE invoice_line_id = 7", "db1") ==
                   src.scalar("SELECT quantity FROM invoice_line WHERE invoice_line_id = 7",
                              "legacy"), 30, what="the update to reach the final table")
        src.psql("DELETE FROM invoice_line WHERE invoice_line_id = 8", "legacy")
        wait_until(lambda: tgt.scalar("SELECT count(*) FROM invoice_line_final"
                                      " WHERE invoice_line_id = 8", "db1") == "0",
                   30, what="the delete to reach the final table")
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()
