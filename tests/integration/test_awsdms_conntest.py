"""POST /v1/endpoints/{id}/test-connection through AWS DMS (the loopback fake):
an Oracle endpoint of a project with a replication instance in DMS is
tested with TestConnection + DescribeConnections on that instance. The
route polls for a few seconds; a test still running answers 202 with
"status": "testing" and the next POST reads the same test. The endpoint
made for the test is gone once a result was read.

Nothing here talks to anything but 127.0.0.1.
"""
import requests

from awsdms_run import Fake, aws_env, fake_instance
from contract import ContractSession
from daemon import Daemon, wait_until


def test_connection_through_dms(tmp_path):
    # speed 20: a connection test of 200 virtual seconds takes about 10 s, well
    # past the 3 s the route polls
    fake = Fake(tmp_path, control={"speed": 20, "timings": {"connection_test": 200}})
    d = None
    try:
        fake_instance(fake, "ri-conntest")
        d = Daemon(tmp_path, args=["--dms-endpoint", fake.url, "--region", "us-east-1"],
                   env=dict(aws_env(tmp_path), CUTOVER_DMS_POLL_SCALE="0.05")).start()
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "ct"}).json()["id"]
        ep = requests.post(f"{url}/v1/projects/{pid}/endpoints", json={
            "name": "oracle", "role": "source", "engine": "oracle", "host": "ora.internal",
            "port": 1521, "database": "ORCL", "username": "dms_user",
            "password": "oracle-s3cret-pw", "sslmode": "disable"}).json()["id"]
        test = f"{url}/v1/endpoints/{ep}/test-connection"
        api = ContractSession(url)  # every answer checked against openapi.yaml
        # no replication instance in the project: still 422
        r = api.post(test, timeout=30)
        assert r.status_code == 422, r.text
        inst = requests.post(f"{url}/v1/projects/{pid}/replication-instances",
                             json={"name": "ri-conntest"}).json()["id"]
        # a bad instance id names the field and tests nothing
        r = api.post(test, json={"replication_instance_id": "ri_nope"}, timeout=30)
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["pointer"] == "/replication_instance_id"
        assert not fake.control("/_fake/state")["endpoints"]

        r = api.post(test, json={"replication_instance_id": inst}, timeout=30)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "testing" and body["dms_status"] == "testing", body
        assert body["duration_ms"] < 5000, body  # the bounded poll of the route
        assert "oracle-s3cret-pw" not in r.text
        ident = fake.control("/_fake/state")["endpoints"]
        assert len(ident) == 1, ident

        def result():
            x = api.post(test, timeout=30)
            assert x.status_code in (200, 202), x.text
            return x.json() if x.status_code == 200 else None
        done = wait_until(result, 60, what="the DMS connection test to finish")
        assert done["status"] == "succeeded" and done["dms_status"] == "successful", done
        assert done["message"] is None and done["engine"] == "oracle"
        # one TestConnection started it; the polls read it
        started = [q for q in fake.control("/_fake/requests")["requests"]
                   if q["operation"] == "TestConnection" and q["status"] == 200]
        assert len(started) == 1, started
        wait_until(lambda: not fake.control("/_fake/state")["endpoints"], 30,
                   what="the test endpoint to be deleted")

        # a failing test: DMS's message comes back as a failed result
        fake.control("/_fake/config", {"timings": {"connection_test": 1}})
        fake.control("/_fake/connection-failure",
                     {"endpoint": f"cutover-{ep.split('_', 1)[1].lower()}-test",
                      "message": "ORA-12541: TNS:no listener"})
        failed = wait_until(result, 60, what="the failing connection test")
        assert failed["status"] == "failed" and "ORA-12541" in failed["message"], failed
        assert failed["reason"], failed
        assert "oracle-s3cret-pw" not in d.log()
    finally:
        if d and d.proc:
            assert d.stop() == 0, d.log()
        fake.stop()
