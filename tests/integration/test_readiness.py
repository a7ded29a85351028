"""GET /v1/runs/{id}/readiness and the readiness ETag on approving
cutover_gate, with the test engine (its "stats" option publishes table
statistics and CDC latency) and a real PostgreSQL source whose sessions are
counted live."""

import psycopg2

from contract import ContractSession
from pgcluster import pg_cluster, pg_database  # noqa: F401
from runs_util import make_project, pg_endpoints, start_run, wait_state

STATS = {"tables": ["public.actor", "public.film"], "calls": 3, "interval_ms": 20}


def by_id(body):
    return {c["id"]: c for c in body["checks"]}


def test_readiness_checks_and_stale_etag(tdaemon, pg_cluster, pg_database):  # noqa: F811
    api = ContractSession(tdaemon.url)
    pid = make_project(tdaemon.url)
    src, tgt = pg_endpoints(tdaemon.url, pid, pg_cluster, pg_database)
    run = start_run(tdaemon.url, pid, test={"stats": STATS}, source_endpoint_id=src,
                    target_endpoint_id=tgt)
    wait_state(tdaemon.url, run["id"], "awaiting_approval")

    r = api.get(f"/v1/runs/{run['id']}/readiness")
    assert r.status_code == 200, r.text
    body, checks = r.json(), by_id(r.json())
    assert r.headers["ETag"] == f'"{body["etag"]}"'
    assert body["current_step"] == "cutover_gate" and body["ready"] is True
    assert checks["cdc_latency"]["figure"] == 0 and checks["cdc_latency"]["pass"] is True
    assert checks["cdc_latency_trend"]["figure"] == -2  # 2 s -> 0 s over 3 samples
    assert checks["pending_changes"]["figure"] == 0
    assert (checks["tables_loaded"]["figure"], checks["tables_loaded"]["threshold"]) == (2, 2)
    assert checks["constraints_restored"]["pass"] is True
    assert checks["validation"]["status"] == "not_applicable"
    assert checks["source_sessions"]["figure"] == 0, checks["source_sessions"]
    stale = r.headers["ETag"]

    # a client connects to the source: the sessions check fails, the ETag changes
    conn = psycopg2.connect(pg_cluster.dsn(pg_database))
    try:
        r2 = api.get(f"/v1/runs/{run['id']}/readiness")
        c2 = by_id(r2.json())["source_sessions"]
        assert (c2["figure"], c2["pass"], c2["status"]) == (1, False, "fail"), c2
        assert r2.json()["ready"] is False and r2.headers["ETag"] != stale

        a = api.post(f"/v1/runs/{run['id']}/steps/cutover_gate/approve",
                     headers={"If-Match": stale})
        assert a.status_code == 412, a.text
        assert a.json()["errors"][0]["header"] == "If-Match"
        assert api.get(f"/v1/runs/{run['id']}").json()["state"] == "awaiting_approval"

        a = api.post(f"/v1/runs/{run['id']}/steps/cutover_gate/approve",
                     headers={"If-Match": r2.headers["ETag"]})
        assert a.status_code == 200, a.text
    finally:
        conn.close()
    wait_state(tdaemon.url, run["id"], "succeeded")
    done = api.get(f"/v1/runs/{run['id']}/readiness").json()
    # a finished run is not measured live any more
    assert by_id(done)["source_sessions"]["status"] == "not_applicable"


def test_readiness_without_source_or_statistics(tdaemon):
    api = ContractSession(tdaemon.url)
    pid = make_project(tdaemon.url)
    run = start_run(tdaemon.url, pid)
    wait_state(tdaemon.url, run["id"], "awaiting_approval")
    body = api.get(f"/v1/runs/{run['id']}/readiness").json()
    checks = by_id(body)
    assert checks["cdc_latency"]["status"] == "unknown"
    assert checks["tables_loaded"]["status"] == "unknown"
    assert checks["source_sessions"]["status"] == "not_applicable"
    assert body["ready"] is False
    assert api.get("/v1/runs/run_aaaaaaaaaaaaaaaaaaaaaaaaaa/readiness").status_code == 404
    # the ETag is stable while nothing changes; approving with it works
    again = api.get(f"/v1/runs/{run['id']}/readiness")
    assert again.json()["etag"] == body["etag"]
    a = api.post(f"/v1/runs/{run['id']}/steps/cutover_gate/approve",
                 headers={"If-Match": again.headers["ETag"]})
    assert a.status_code == 200, a.text


def test_readiness_shows_continuous_validation(tdaemon):
    api = ContractSession(tdaemon.url)
    pid = make_project(tdaemon.url)
    stats = dict(STATS, validation_mismatches=2)
    run = start_run(tdaemon.url, pid, test={"stats": stats})
    wait_state(tdaemon.url, run["id"], "awaiting_approval")
    check = by_id(api.get(f"/v1/runs/{run['id']}/readiness").json())["validation"]
    assert (check["figure"], check["threshold"], check["pass"]) == (2, 0, False), check
    assert "300 rows validated, 2 mismatches, 0 chunks" in check["detail"]
