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

from awsdms_run import Fake, PlanRun, aws_env
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


def test_view_migration_oracle_source_gate(tmp_path):
    """On aws-dms with an Oracle source the view plan's configure_source
    stores the supplemental logging script for the staged table, waits for
    an operator's approval, and goes on to stage_load once approved."""
    p = PlanRun(tmp_path)
    try:
        p.rid = p._post(f"/v1/projects/{p.pid}/runs", {
            "plan": "view-migration", "engine": "aws-dms", "parameters": {
                "source_endpoint_id": p.src, "target_endpoint_id": p.dst,
                "remote_endpoint_id": p.dst,
                "source_table": {"schema": "HR", "name": "EMPLOYEES"},
                "staging_schema": "staging",
                "remote_table": {"schema": "public", "name": "invoice"},
                "view": dict(VIEW, schema="public"),
                "final_table": {"schema": "public", "name": "employees_final",
                                "key": ["employee_id"]}}})
        run = p.wait_for(lambda x: x["state"] == "awaiting_approval", 60,
                         what="the configure_source gate")
        assert run["current_step"] == "configure_source", json.dumps(run, indent=1)
        r = requests.get(f"{p.url}/v1/runs/{p.rid}/artifacts/"
                         "oracle_view_supplemental_logging.sql", timeout=10)
        assert r.status_code == 200, r.text
        assert ('ALTER TABLE "HR"."EMPLOYEES" ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS;'
                in r.text), r.text
        assert r.text.startswith("-- cutover: ") and "-- Source: ora.internal/ORCL" in r.text
        assert "WHENEVER SQLERROR EXIT SQL.SQLCODE" in r.text
        # nothing of the staging task exists before the approval
        assert not p.fake.control("/_fake/state")["replication_tasks"]
        p.approve("configure_source")
        p.wait_for(lambda x: x["current_step"] != "configure_source" or
                   x["state"] in ("succeeded", "failed"), 60, what="the approval")

        def staged():
            return p.fake.control("/_fake/state")["replication_tasks"] or None
        wait_until(staged, 60, what="the stage task in the fake after the approval")
        steps = {s["id"]: s["state"] for s in p.run()["steps"]}
        assert steps["configure_source"] == "succeeded", steps
    finally:
        p.close()
