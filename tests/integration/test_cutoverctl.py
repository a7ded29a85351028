"""cutoverctl against the real daemon: `apply` twice changes nothing the
second time; `run start --wait --approve cutover_gate` exits 0 on a
pg-logical run between two throwaway clusters, 1 on a run that fails at
preflight, 4 at a gate it was not told to approve, 3 at --timeout; 69
without a service, 64 on a usage error, 77 when refused; the run's table
statistics and progress after the full load."""
import json
import os
import subprocess

import pytest
import requests

from daemon import ROOT, Daemon
from pgcluster import Cluster

CTL = os.environ.get("CUTOVERCTL", os.path.join(ROOT, "build", "cli", "cutoverctl"))


def ctl(url, *args, env=None, timeout=300):
    e = dict(os.environ, CUTOVER_URL=url)
    for k in ("CUTOVER_TOKEN", "CUTOVER_TOKEN_FILE"):
        e.pop(k, None)
    e.update(env or {})
    p = subprocess.run([CTL, *args], capture_output=True, text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def clusters():
    src, tgt = Cluster("ctlsrc"), Cluster("ctltgt")
    src.start()
    tgt.start()
    try:
        src.createdb("shop")
        src.psql("CREATE TABLE customers (id int PRIMARY KEY, name text);"
                 "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 500) g;"
                 "CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric);"
                 "INSERT INTO orders SELECT g, 1 + g % 500, g * 1.5"
                 " FROM generate_series(1, 2000) g;", db="shop")
        yield src, tgt
    finally:
        src.stop()
        tgt.stop()


def spec(src, tgt, target_db, src_pw_var="SRC_PW"):
    return {
        "project": {"name": "shop", "description": "shop to PostgreSQL 15",
                    "default_engine": "pg-logical"},
        "endpoints": [
            {"name": "legacy", "role": "source", "engine": "postgres", "host": "127.0.0.1",
             "port": src.port, "database": "shop", "username": src.user,
             "password": {"env": src_pw_var}, "sslmode": "disable"},
            {"name": "target", "role": "target", "engine": "postgres", "host": "127.0.0.1",
             "port": tgt.port, "database": target_db, "username": tgt.user,
             "password": {"env": "TGT_PW"}, "sslmode": "disable"},
        ],
        "tasks": [
            {"name": "all", "source_endpoint": "legacy", "target_endpoint": "target",
             "migration_type": "full-load-and-cdc",
             "table_mappings": {"rules": [{"rule-type": "selection", "rule-id": "1",
                                           "rule-name": "all", "rule-action": "include",
                                           "object-locator": {"schema-name": "public",
                                                              "table-name": "%"}}]}},
        ],
    }


def test_apply_run_wait_and_exit_codes_on_pg_logical(clusters, tmp_path):
    src, tgt = clusters
    tgt.createdb("shop_target")
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        f = tmp_path / "shop.json"
        f.write_text(json.dumps(spec(src, tgt, "shop_target")))
        env = {"SRC_PW": src.password, "TGT_PW": tgt.password}
        code, out, err = ctl(url, "apply", "-f", str(f), "-o", "json", env=env)
        assert code == 0, err
        first = json.loads(out)
        assert first["changed"] == 4
        assert [c["action"] for c in first["changes"]] == ["created"] * 4
        # the second time nothing changes
        code, out, err = ctl(url, "apply", "-f", str(f), "-o", "json", env=env)
        assert code == 0, err
        again = json.loads(out)
        assert again["changed"] == 0
        assert {c["action"] for c in again["changes"]} == {"unchanged"}
        assert [c["id"] for c in again["changes"]] == [c["id"] for c in first["changes"]]
        # a changed member is updated in place
        s = spec(src, tgt, "shop_target")
        s["project"]["description"] = "changed"
        f.write_text(json.dumps(s))
        code, out, err = ctl(url, "apply", "-f", str(f), "-o", "json", env=env)
        assert code == 0 and [c["action"] for c in json.loads(out)["changes"]] == \
            ["updated", "unchanged", "unchanged", "unchanged"], out + err
        pid = first["project_id"]
        assert requests.get(f"{url}/v1/projects/{pid}").json()["description"] == "changed"
        # a literal password is refused, nothing is sent
        s["endpoints"][0]["password"] = "literal"
        f.write_text(json.dumps(s))
        code, _, err = ctl(url, "apply", "-f", str(f), env=env)
        assert code == 64 and "never a literal" in err
        eps = {e["name"]: e["id"] for e in
               requests.get(f"{url}/v1/projects/{pid}/endpoints").json()["items"]}
        task = requests.get(f"{url}/v1/projects/{pid}/tasks", params={"name": "all"}
                            ).json()["items"][0]
        # test-connection: libpq connect, server version, no finding here
        tc = requests.post(f"{url}/v1/endpoints/{eps['legacy']}/test-connection", timeout=15)
        assert tc.status_code == 200, tc.text
        tc = tc.json()
        assert tc["status"] == "succeeded" and tc["server_version"].startswith("15"), tc
        assert tc["findings"] == [] and tc["reason"] is None and tc["duration_ms"] < 6000

        # a run that succeeds through the cutover gate: exit 0
        code, out, err = ctl(url, "run", "start", "--project", "shop", "--plan",
                             "oracle-to-postgres", "--param",
                             f"source_endpoint_id={eps['legacy']}", "--param",
                             f"target_endpoint_id={eps['target']}", "--param",
                             f"task_id={task['id']}", "--wait", "--approve", "cutover_gate",
                             "--timeout", "10m", "-o", "json", timeout=700)
        lines = [json.loads(x) for x in out.splitlines()]
        rid = lines[0]["run_id"]
        assert code == 0, err + requests.get(f"{url}/v1/runs/{rid}").text
        assert lines[-1]["type"] == "run.state" and lines[-1]["data"]["to"] == "succeeded"
        assert "approved cutover_gate" in err
        ids = [x["id"] for x in lines[1:]]
        assert ids == sorted(set(ids)), "events in order, none twice"
        assert tgt.scalar("SELECT count(*) FROM orders", db="shop_target") == "2000"

        # the run's table statistics (DMS shape) and progress after the load
        tables = requests.get(f"{url}/v1/runs/{rid}/tables")
        assert tables.status_code == 200
        rows = {t["TableName"]: t for t in tables.json()["items"]}
        assert set(rows) == {"customers", "orders"}
        assert rows["orders"]["TableState"] == "Table completed"
        assert rows["orders"]["FullLoadRows"] == 2000
        assert requests.get(f"{url}/v1/runs/{rid}/tables", headers={
            "If-None-Match": tables.headers["ETag"]}).status_code == 304
        prog = requests.get(f"{url}/v1/runs/{rid}").json()["progress"]
        assert prog["rows_loaded"] == 2500 and prog["tables_loaded"] == 2
        assert prog["full_load_percent"] == 100 and prog["full_load_eta"] is None
        assert prog["cdc_latency_seconds"] is not None
        code, out, _ = ctl(url, "run", "tables", rid, "-o", "json")
        assert code == 0 and len(json.loads(out)["items"]) == 2

        # a run that fails at preflight (the source password is wrong): exit 1
        bad = spec(src, tgt, "shop_target", src_pw_var="WRONG_PW")
        bad["project"]["name"] = "shop-bad"
        f.write_text(json.dumps(bad))
        code, out, err = ctl(url, "apply", "-f", str(f), "-o", "json",
                             env={"WRONG_PW": "not-the-password", "TGT_PW": tgt.password})
        assert code == 0, err
        eps_bad = {c["name"]: c["id"] for c in json.loads(out)["changes"]
                   if c["kind"] == "endpoint"}
        tc = requests.post(f"{url}/v1/endpoints/{eps_bad['legacy']}/test-connection",
                           timeout=15).json()
        assert tc["status"] == "failed" and tc["reason"] == "permission_denied", tc
        assert "not-the-password" not in json.dumps(tc)
        code, out, err = ctl(url, "run", "start", "--project", "shop-bad", "--plan",
                             "oracle-to-postgres", "--param",
                             f"source_endpoint_id={eps_bad['legacy']}", "--param",
                             f"target_endpoint_id={eps_bad['target']}", "--param",
                             "schemas=[\"public\"]", "--param", "max_attempts=1",
                             "--wait", "--approve", "cutover_gate", "--timeout", "5m",
                             "-o", "json", timeout=400)
        assert code == 1, out + err
        rid = json.loads(out.splitlines()[0])["run_id"]
        run = requests.get(f"{url}/v1/runs/{rid}").json()
        assert run["state"] == "failed" and run["current_step"] == "preflight"
        assert run["error_reason"] == "permission_denied", run["error"]
    finally:
        d.stop()


def test_exit_codes_with_the_test_engine(rd, tmp_path):
    url = rd.url
    assert requests.post(url + "/v1/projects", json={"name": "p"}).status_code == 201
    start = ["run", "start", "--project", "p", "--plan", "oracle-to-postgres",
             "--engine", "test"]
    # a gate that is not in --approve: exit 4, the run waits there
    code, out, err = ctl(url, *start, "--param", 'test={"step_ms":5}', "--wait")
    assert code == 4, err
    rid = out.splitlines()[0] if not out.startswith("{") else json.loads(
        out.splitlines()[0])["run_id"]
    assert requests.get(f"{url}/v1/runs/{rid}").json()["state"] == "awaiting_approval"
    # --timeout: exit 3, the run goes on
    code, out, err = ctl(url, *start, "--param", 'test={"step_ms":4000}', "--wait",
                         "--timeout", "2s")
    assert code == 3 and "--timeout reached" in err
    # cancelled while waiting: exit 2
    p = subprocess.Popen([CTL, *start, "--param", 'test={"step_ms":300}', "--wait",
                          "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, CUTOVER_URL=url))
    rid = json.loads(p.stdout.readline())["run_id"]
    assert requests.post(f"{url}/v1/runs/{rid}/cancel").status_code == 200
    assert p.wait(60) == 2
    p.stdout.close()
    p.stderr.close()
    # run get / list / approve / retry / pause / resume / artifacts
    code, out, _ = ctl(url, "run", "list", "--state", "cancelled", "-o", "json")
    assert code == 0 and [r["id"] for r in json.loads(out)["items"]] == [rid]
    code, out, _ = ctl(url, "run", "get", rid, "-o", "json")
    assert code == 0 and json.loads(out)["state"] == "cancelled"
    code, _, err = ctl(url, "run", "approve", rid, "cutover_gate")
    assert code == 1 and "409" in err
    # usage errors, an unreachable service, refused tokens
    assert ctl(url, "run", "start", "--plan", "x")[0] == 64
    assert ctl(url, "frobnicate")[0] == 64
    assert ctl("http://127.0.0.1:9", "run", "list")[0] == 69


def test_refused_token_exits_77(tmp_path):
    import hashlib
    tokens = tmp_path / "tokens"
    digest = hashlib.sha256(b"viewer-token").hexdigest()
    tokens.write_text(f"{digest} viewer ci\n")
    os.chmod(tokens, 0o600)
    d = Daemon(tmp_path, tokens_file=str(tokens)).start()
    try:
        assert ctl(d.url, "run", "list")[0] == 77
        code, out, _ = ctl(d.url, "run", "list", "-o", "json",
                           env={"CUTOVER_TOKEN": "viewer-token"})
        assert code == 0 and json.loads(out)["items"] == []
        assert ctl(d.url, "run", "list", "--token", "wrong")[0] == 77
        tf = tmp_path / "tok"
        tf.write_text("viewer-token\n")
        assert ctl(d.url, "run", "list", env={"CUTOVER_TOKEN_FILE": str(tf)})[0] == 0
        # a viewer may not start runs: refused
        code, _, err = ctl(d.url, "run", "start", "--project", "prj_" + "a" * 26,
                           "--plan", "oracle-to-postgres", env={"CUTOVER_TOKEN_FILE": str(tf)})
        assert code == 77, err
    finally:
        d.stop()
