"""The durable plan runner through the API, with the test engine: plans to
completion, gates, pause/resume/cancel, retries with backoff, illegal
transitions, artifacts, metrics."""
import pytest
import requests

from daemon import Daemon, TEST_BINARY, wait_until
from runs_util import (all_events, get_run, make_project, start_run, step_order,
                       wait_state)
from sse import Subscriber


@pytest.fixture
def rd(tmp_path):
    d = Daemon(tmp_path, binary=TEST_BINARY).start()
    yield d
    if d.proc:
        assert d.stop() == 0, d.log()


def plan_steps(url, plan):
    return [s["id"] for s in requests.get(f"{url}/v1/plans/{plan}").json()["steps"]]


@pytest.mark.parametrize("plan", ["oracle-to-postgres", "view-migration"])
def test_plan_runs_to_success_with_steps_in_order(rd, plan):
    url = rd.url
    pid = make_project(url)
    sub = Subscriber(f"{url}/v1/events?project_id={pid}",
                     until=lambda evs: any(e["event"] == "run.state" and
                                           e["data"]["to"] == "succeeded" for e in evs))
    sub.start()
    assert sub.connected.wait(5)
    run = start_run(url, pid, plan=plan, test={"step_ms": 10})
    assert run["state"] == "pending" and run["plan"] == plan
    if plan == "oracle-to-postgres":
        wait_state(url, run["id"], "awaiting_approval")
        r = requests.post(f"{url}/v1/runs/{run['id']}/steps/cutover_gate/approve")
        assert r.status_code == 200, r.text
    final = wait_state(url, run["id"], {"succeeded", "failed"})
    assert final["state"] == "succeeded", final
    assert final["progress_percent"] == 100
    expected = plan_steps(url, plan)
    events = all_events(url, f"/v1/runs/{run['id']}/events")
    assert step_order(events) == expected
    # every non-optional step succeeded exactly once; optional ones skipped
    for s in final["steps"]:
        assert s["state"] in ("succeeded", "skipped")
    skipped = {s["id"] for s in final["steps"] if s["state"] == "skipped"}
    # review_schema only runs when converted_schema_sql is given
    assert skipped == ({"review_schema", "rollback_task"} if plan == "oracle-to-postgres"
                       else {"ongoing_sync"})
    streamed = sub.wait(30)
    # the stream has the project's events: the run's and the project's audit
    project_events = all_events(url, "/v1/events", project_id=pid)
    assert [e["id"] for e in streamed] == [e["id"] for e in project_events]
    assert [e["event"] for e in streamed] == [e["type"] for e in project_events]
    assert [e["id"] for e in events] == \
        [e["id"] for e in project_events if e["run_id"] == run["id"]]


def test_optional_step_runs_when_asked(rd):
    pid = make_project(rd.url)
    run = start_run(rd.url, pid, plan="view-migration", ongoing_sync=True)
    final = wait_state(rd.url, run["id"], {"succeeded", "failed"})
    assert {s["id"]: s["state"] for s in final["steps"]}["ongoing_sync"] == "succeeded"


def test_gate_waits_for_approval_and_records_approver(rd):
    pid = make_project(rd.url)
    run = start_run(rd.url, pid, test={"gate": ["configure_source"]})
    r = wait_state(rd.url, run["id"], "awaiting_approval")
    steps = {s["id"]: s for s in r["steps"]}
    assert steps["configure_source"]["state"] == "awaiting_approval"
    assert steps["configure_target"]["state"] == "pending"
    assert r["current_step"] == "configure_source"
    # approving another step is refused with the current state
    bad = requests.post(f"{rd.url}/v1/runs/{run['id']}/steps/convert_schema/approve")
    assert bad.status_code == 409
    assert bad.json()["state"] == "awaiting_approval"
    assert bad.json()["step_state"] == "pending"
    # pausing at the gate and resuming returns to the gate
    r = requests.post(f"{rd.url}/v1/runs/{run['id']}/pause")
    assert r.status_code == 200 and r.json()["state"] == "paused"
    r = requests.post(f"{rd.url}/v1/runs/{run['id']}/steps/configure_source/approve")
    assert r.status_code == 409 and r.json()["state"] == "paused"
    r = requests.post(f"{rd.url}/v1/runs/{run['id']}/resume")
    assert r.status_code == 200 and r.json()["state"] == "awaiting_approval"
    ok = requests.post(f"{rd.url}/v1/runs/{run['id']}/steps/configure_source/approve")
    assert ok.status_code == 200
    r = wait_state(rd.url, run["id"], "awaiting_approval")
    assert r["current_step"] == "cutover_gate"
    steps = {s["id"]: s for s in r["steps"]}
    assert steps["configure_source"]["approved_by"] == "anonymous"
    assert steps["configure_source"]["state"] == "succeeded"
    unknown = requests.post(f"{rd.url}/v1/runs/{run['id']}/steps/nope/approve")
    assert unknown.status_code == 404


def test_pause_resume_cancel(rd):
    url = rd.url
    pid = make_project(url)
    run = start_run(url, pid, test={"step_ms": 300})
    rid = run["id"]
    r = requests.post(f"{url}/v1/runs/{rid}/pause")
    assert r.status_code == 200 and r.json()["state"] == "paused"
    paused_at = get_run(url, rid)
    # a paused run does not advance: its current step stays put while a
    # later run of the same daemon completes a whole step
    other = start_run(url, pid, test={"step_ms": 350}, max_attempts=1)
    wait_until(lambda: get_run(url, other["id"])["steps"][0]["state"] == "succeeded",
               10, what="the other run's first step")
    assert get_run(url, rid)["current_step"] == paused_at["current_step"]
    assert get_run(url, rid)["state"] == "paused"
    again = requests.post(f"{url}/v1/runs/{rid}/pause")
    assert again.status_code == 409 and again.json()["state"] == "paused"
    r = requests.post(f"{url}/v1/runs/{rid}/resume")
    assert r.status_code == 200 and r.json()["state"] == "running"
    r = requests.post(f"{url}/v1/runs/{rid}/resume")
    assert r.status_code == 409 and r.json()["state"] == "running"
    wait_until(lambda: get_run(url, rid)["current_step"] != paused_at["current_step"],
               10, what="progress after resume")
    r = requests.post(f"{url}/v1/runs/{rid}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    r = requests.post(f"{url}/v1/runs/{rid}/resume")
    assert r.status_code == 409 and r.json()["state"] == "cancelled"
    assert requests.post(f"{url}/v1/runs/{rid}/cancel").status_code == 409
    requests.post(f"{url}/v1/runs/{other['id']}/cancel")
    events = all_events(url, f"/v1/runs/{rid}/events", type="run.state")
    assert [e["data"]["to"] for e in events] == ["pending", "running", "paused", "running",
                                                 "cancelled"] or \
        [e["data"]["to"] for e in events] == ["pending", "paused", "running", "cancelled"]


def test_failing_step_retries_with_backoff_then_fails_and_retry_completes(rd):
    url = rd.url
    pid = make_project(url)
    run = start_run(url, pid, plan="view-migration", max_attempts=3, retry_base_ms=100,
                    retry_cap_ms=400, test={"retry": {"create_view": 4}})
    rid = run["id"]
    failed = wait_state(url, rid, {"failed", "succeeded"})
    assert failed["state"] == "failed"
    step = {s["id"]: s for s in failed["steps"]}["create_view"]
    assert step["state"] == "failed" and step["attempts"] == 3
    assert "transient failure on command" in step["last_error"]
    assert "create_view" in failed["error"]
    retries = all_events(url, f"/v1/runs/{rid}/events", type="step.retry")
    assert [e["data"]["attempt"] for e in retries] == [1, 2]
    delays = [e["data"]["retry_in_ms"] for e in retries]
    # equal jitter: attempt n waits between base*2^(n-1)/2 and base*2^(n-1), capped
    assert 50 <= delays[0] <= 100 and 100 <= delays[1] <= 200, delays
    times = [e["created_at"] for e in all_events(url, f"/v1/runs/{rid}/events")
             if e["type"] in ("step.retry", "step.state") and
             e["data"].get("step") == "create_view"]
    assert len(times) >= 3
    # illegal: retrying a step that did not fail
    bad = requests.post(f"{url}/v1/runs/{rid}/steps/validate/retry")
    assert bad.status_code == 409 and bad.json()["state"] == "failed"
    ok = requests.post(f"{url}/v1/runs/{rid}/steps/create_view/retry")
    assert ok.status_code == 200 and ok.json()["state"] == "running"
    final = wait_state(url, rid, {"failed", "succeeded"})
    assert final["state"] == "succeeded", final
    metrics = requests.get(url + "/metrics").text
    # four RETRY verdicts: three in the first series (the last one fails the
    # step), one after the operator's retry
    assert "cutover_step_retries_total 4" in metrics
    assert 'cutover_runs{state="succeeded"} 1' in metrics


def test_terminal_failure_fails_the_run_at_once(rd):
    pid = make_project(rd.url)
    run = start_run(rd.url, pid, test={"fail": {"convert_schema": 1}})
    r = wait_state(rd.url, run["id"], {"failed", "succeeded"})
    assert r["state"] == "failed"
    step = {s["id"]: s for s in r["steps"]}["convert_schema"]
    assert step["attempts"] == 1 and "fails on command" in step["last_error"]


def test_step_without_a_verdict_fails_the_run_naming_it(rd):
    pid = make_project(rd.url)
    run = start_run(rd.url, pid, test={"no_verdict": "convert_schema"})
    r = wait_state(rd.url, run["id"], {"failed", "succeeded"})
    assert r["state"] == "failed"
    steps = {s["id"]: s for s in r["steps"]}
    assert steps["configure_target"]["state"] == "succeeded"
    assert steps["convert_schema"]["state"] == "failed"
    assert "step convert_schema returned without a verdict" in steps["convert_schema"]["last_error"]
    assert steps["create_replication_instance"]["state"] == "pending"


def test_run_validation_and_artifacts(rd):
    url = rd.url
    pid = make_project(url)
    r = requests.post(f"{url}/v1/projects/{pid}/runs", json={"plan": "nope"})
    assert r.status_code == 400 and r.json()["errors"][0]["pointer"] == "/plan"
    r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": {"sequence_gap": "x", "bogus": 1, "test": {}}})
    ptrs = {e["pointer"] for e in r.json()["errors"]}
    assert r.status_code == 400
    assert {"/parameters/sequence_gap", "/parameters/bogus", "/parameters/test",
            "/parameters/source_endpoint_id", "/parameters/target_endpoint_id"} <= ptrs
    assert requests.get(f"{url}/v1/projects/{pid}/runs").json()["items"] == []
    run = start_run(url, pid, test={})
    wait_state(url, run["id"], "awaiting_approval")
    arts = requests.get(f"{url}/v1/runs/{run['id']}/artifacts").json()["items"]
    assert [a["name"] for a in arts] == ["prepare_target.sql"]
    a = requests.get(f"{url}/v1/runs/{run['id']}/artifacts/prepare_target.sql")
    assert a.status_code == 200 and a.headers["Content-Type"].startswith("text/plain")
    assert "SELECT 1;" in a.text
    assert requests.get(f"{url}/v1/runs/{run['id']}/artifacts/none").status_code == 404
    runs = requests.get(f"{url}/v1/projects/{pid}/runs").json()["items"]
    assert [x["id"] for x in runs] == [run["id"]]
    # a project with runs cannot be deleted
    assert requests.delete(f"{url}/v1/projects/{pid}").status_code == 409
