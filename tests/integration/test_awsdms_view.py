"""The view-migration plan on aws-dms, end to end against the loopback fake
DMS: chinook's invoice_line on a PostgreSQL source is staged by the DMS task
cutover-<run>-stage (a selection rule for the table and a schema rename rule
to staging_schema; the fake copies the rows between the loopback databases
as DMS's full load would), then the libpq stages link invoice from a second
database, create the view and the final table, load and validate it. The
stage task, the endpoints and the replication instance are gone afterwards.

Nothing here talks to anything but 127.0.0.1.
"""
import json

import requests

from awsdms_run import Fake, aws_env
from daemon import Daemon, wait_until
from test_pglogical import endpoint
from test_pglogical_view import VIEW, chinook  # noqa: F401 - the clusters fixture


def test_view_migration_on_aws_dms(chinook, tmp_path):
    src, tgt = chinook
    n_src = int(src.scalar("SELECT count(*) FROM invoice_line", "legacy"))
    fake = Fake(tmp_path, control={"speed": 20, "catalog": [
        {"schema": "public", "table": "invoice_line", "rows": n_src},
        {"schema": "public", "table": "invoice", "rows": 412}]})
    d = None
    try:
        d = Daemon(tmp_path, args=["--dms-endpoint", fake.url, "--region", "us-east-1"],
                   env=dict(aws_env(tmp_path), CUTOVER_DMS_POLL_SCALE="0.05")).start()
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "chinook"}).json()["id"]
        s = endpoint(url, pid, "legacy", "source", src, "legacy")
        t = endpoint(url, pid, "db1", "target", tgt, "db1")
        rem = endpoint(url, pid, "db2", "target", tgt, "db2")
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "view-migration", "engine": "aws-dms", "parameters": {
                "source_endpoint_id": s, "target_endpoint_id": t, "remote_endpoint_id": rem,
                "source_table": {"schema": "public", "name": "invoice_line"},
                "staging_schema": "staging",
                "remote_table": {"schema": "public", "name": "invoice"},
                "view": dict(VIEW, schema="public"),
                "final_table": {"schema": "public", "name": "invoice_line_final",
                                "key": ["invoice_line_id"]},
                "batch_size": 500}})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        run = wait_until(lambda: (lambda x: x if x["state"] in ("succeeded", "failed")
                                  else None)(requests.get(f"{url}/v1/runs/{rid}").json()),
                         180, what="the view migration")
        assert run["state"] == "succeeded", json.dumps(run, indent=1)
        # the stage task DMS ran: the table and the rename of its schema
        stage = [e["data"] for e in requests.get(
            f"{url}/v1/runs/{rid}/events", params={"type": "table.statistics"}).json()["items"]
            if e["data"]["task"] == "stage"]
        assert stage and [x["TableName"] for x in stage[-1]["tables"]] == ["invoice_line"]
        assert int(tgt.scalar("SELECT count(*) FROM staging.invoice_line", "db1")) == n_src
        report = requests.get(f"{url}/v1/runs/{rid}/artifacts/validation.json").json()
        assert report["match"] is True, report
        assert int(tgt.scalar("SELECT count(*) FROM invoice_line_final", "db1")) == n_src
        # validate deleted the stage task; the clean-up took the endpoints and
        # the instance with it
        creates = fake.stats()["creates"]["ReplicationTaskIdentifier"]
        assert list(creates) == [f"cutover-{rid[4:].lower()}-stage"], creates

        def empty():
            st = fake.control("/_fake/state")
            return not (st["replication_instances"] or st["endpoints"] or
                        st["replication_tasks"])
        wait_until(empty, 30, what="the fake to hold nothing of the run")
    finally:
        if d and d.proc:
            assert d.stop() == 0, d.log()
        fake.stop()
