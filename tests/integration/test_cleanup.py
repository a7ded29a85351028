"""A cancelled run's clean-up when its endpoint cannot be reached (issue 17
F1): it backs off, gives up after max_attempts with a run.cleanup event
that lists what may be left behind and how to remove it, stays given up
across a restart, and runs again when asked through the API."""
import json
import os

import pytest
import requests

from daemon import Daemon, wait_until
from pgcluster import PG_BINDIR, Cluster
from test_pglogical import endpoint


@pytest.fixture(scope="module")
def cluster():
    c = Cluster("cleanup")
    c.start()
    c.createdb("cl")
    try:
        yield c
    finally:
        c.stop()


def cleanup_lines(d):
    return [line for line in d.log().splitlines() if "clean-up of" in line]


def run_removal(cluster, db, item):
    """Runs a left-behind item's removal script the way an operator would:
    psql -v NAME=VALUE for each of its psql_variables, the script on stdin."""
    argv = [os.path.join(PG_BINDIR, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db]
    for k, v in item["psql_variables"].items():
        argv += ["-v", f"{k}={v}"]
    cluster._run(argv, input=item["remove"], env=cluster.env())


def cleanup_events(url, rid):
    r = requests.get(f"{url}/v1/runs/{rid}/events", params={"type": "run.cleanup"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_unreachable_cleanup_gives_up_and_can_be_retried(cluster, tmp_path):
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "cl"}).json()["id"]
        s = endpoint(url, pid, "src", "source", cluster, "cl")
        t = endpoint(url, pid, "tgt", "target", cluster, "cl")
        r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": {"source_endpoint_id": s, "target_endpoint_id": t,
                           "schemas": ["public"], "max_attempts": 3,
                           "retry_base_ms": 50, "retry_cap_ms": 200}})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert r.json()["cleanup"] == {"state": "none", "attempts": 0, "last_error": None,
                                       "next_attempt_at": None}
        # not cancelled: nothing to clean up
        r = requests.post(f"{url}/v1/runs/{rid}/cleanup")
        assert r.status_code == 409, r.text
        assert r.headers["Content-Type"].startswith("application/problem+json")

        cluster.stop(cleanup=False)  # the endpoint is now unreachable
        r = requests.post(f"{url}/v1/runs/{rid}/cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text

        gave_up = wait_until(lambda: [e for e in cleanup_events(url, rid)
                                      if e["data"]["result"] == "gave_up"],
                             30, what="the clean-up to give up")[0]["data"]
        assert gave_up["attempts"] == 3
        assert "connect" in gave_up["error"], gave_up
        items = {(i["kind"], i["name"]): i for i in gave_up["left_behind"]}
        suffix = rid.split("_", 1)[1]
        # every task role, since none could be looked at
        for role in ("main", "stage", "rollback"):
            name = f"cutover_{suffix}_{role}"
            assert {k for k, n in items if n == name} == \
                {"subscription", "replication_slot", "publication"}, gave_up
        main = f"cutover_{suffix}_main"
        # the removal is a psql script: the name is a psql variable, quoted
        # by psql, never spliced into the SQL
        slot = items[("replication_slot", main)]
        assert slot["remove"] == "SELECT pg_drop_replication_slot(:'name');"
        assert slot["psql_variables"] == {"name": main}
        assert all(main not in items[(k, main)]["remove"] for k in
                   ("subscription", "replication_slot", "publication"))
        assert items[("publication", main)]["endpoint_id"] == s
        assert items[("subscription", main)]["endpoint_id"] == t
        assert items[("subscription", f"cutover_{suffix}_rollback")]["endpoint_id"] == s
        assert "DROP SUBSCRIPTION" in items[("subscription", main)]["remove"]
        retrying = [e for e in cleanup_events(url, rid) if e["data"]["result"] == "retrying"]
        assert [e["data"]["attempt"] for e in retrying] == [1, 2]
        # bounded: one warning per failed attempt (the old loop logged
        # thousands a second)
        assert len(cleanup_lines(d)) <= 4, cleanup_lines(d)[:10]
        run = requests.get(f"{url}/v1/runs/{rid}").json()
        assert run["cleanup"]["state"] == "gave_up"
        assert run["cleanup"]["attempts"] == 3
        assert "connect" in run["cleanup"]["last_error"]

        # a restart does not start it again
        assert d.stop() == 0
        before = len(cleanup_lines(d))
        d.start()
        # an observation window: nothing may happen in it
        with pytest.raises(AssertionError):
            wait_until(lambda: len(cleanup_lines(d)) > before, 1.5, what="no clean-up")
        assert requests.get(f"{url}/v1/runs/{rid}").json()["cleanup"]["state"] == "gave_up"

        # the server comes back (on a new port); the operator asks again
        cluster.start()
        for ep in (s, t):
            cur = requests.get(f"{url}/v1/endpoints/{ep}")
            # a new port needs the password again (it is bound to host and port)
            r = requests.patch(f"{url}/v1/endpoints/{ep}",
                               json={"port": cluster.port, "password": cluster.password},
                               headers={"If-Match": cur.headers["ETag"]})
            assert r.status_code == 200, r.text
        # the scripts do what they say when run as given (psql -v name=...)
        cluster.psql(f"CREATE PUBLICATION {main};"
                     f" SELECT pg_create_logical_replication_slot('{main}', 'pgoutput');", "cl")
        for kind in ("publication", "replication_slot"):
            run_removal(cluster, "cl", items[(kind, main)])
        assert cluster.scalar("SELECT count(*) FROM pg_publication", "cl") == "0"
        assert cluster.scalar("SELECT count(*) FROM pg_replication_slots") == "0"
        r = requests.post(f"{url}/v1/runs/{rid}/cleanup")
        assert r.status_code == 200, r.text
        assert r.json()["cleanup"]["attempts"] == 0
        assert r.json()["cleanup"]["state"] in ("pending", "done")
        wait_until(lambda: [e for e in cleanup_events(url, rid)
                            if e["data"]["result"] == "done"], 30, what="the clean-up")
        run = requests.get(f"{url}/v1/runs/{rid}").json()
        assert run["cleanup"] == {"state": "done", "attempts": 0, "last_error": None,
                                  "next_attempt_at": None}, json.dumps(run["cleanup"])
        assert int(cluster.scalar("SELECT count(*) FROM pg_replication_slots")) == 0
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()
