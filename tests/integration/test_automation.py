"""The API made for automation: GET /v1/runs across projects with filters,
ordering and view=basic; ?name= on the configuration lists; the run's ETag
with If-None-Match (304) and ?wait= long polls; Retry-After on 503; a run's
SSE stream that ends after its final run.state event; error reasons."""
import threading
import time

import pytest
import requests

from runs_util import make_project, start_run, wait_state


@pytest.fixture
def api(rd):
    from contract import ContractSession
    return ContractSession(rd.url)


def finish(url, rid):
    """Approves the cutover gate of a test-engine run and waits for its end."""
    wait_state(url, rid, "awaiting_approval")
    r = requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve")
    assert r.status_code == 200, r.text
    return wait_state(url, rid, {"succeeded", "failed"})


def test_runs_across_projects_with_filters_order_and_basic_view(rd, api):
    url = rd.url
    p1, p2 = make_project(url, "alpha"), make_project(url, "beta")
    a = start_run(url, p1, test={"step_ms": 0})
    b = start_run(url, p2, test={"gate": ["configure_source"]})
    c = start_run(url, p2, test={"fail": {"preflight": 1}}, max_attempts=1)
    assert finish(url, a["id"])["state"] == "succeeded"
    wait_state(url, b["id"], "awaiting_approval")
    wait_state(url, c["id"], "failed")

    every = api.get(url + "/v1/runs").json()["items"]
    assert [r["id"] for r in every] == [a["id"], b["id"], c["id"]]
    newest = api.get(url + "/v1/runs", params={"order_by": "-created_at"}).json()["items"]
    assert [r["id"] for r in newest] == [c["id"], b["id"], a["id"]]

    need_me = api.get(url + "/v1/runs", params={"state": "awaiting_approval"}).json()
    assert [r["id"] for r in need_me["items"]] == [b["id"]]
    two = api.get(url + "/v1/runs", params={"state": "succeeded,failed"}).json()["items"]
    assert {r["id"] for r in two} == {a["id"], c["id"]}
    only_p2 = api.get(url + "/v1/runs", params={"project_id": p2}).json()["items"]
    assert {r["id"] for r in only_p2} == {b["id"], c["id"]}
    assert api.get(url + "/v1/runs", params={"engine": "test", "plan": "oracle-to-postgres"}
                   ).json()["items"][0]["id"] == a["id"]
    assert api.get(url + "/v1/runs", params={"plan": "view-migration"}).json()["items"] == []

    # created_after / created_before split the list at b's creation time
    after_b = api.get(url + "/v1/runs", params={"created_after": b["created_at"]}).json()
    assert [r["id"] for r in after_b["items"]] == [b["id"], c["id"]]
    before_b = api.get(url + "/v1/runs", params={"created_before": b["created_at"]}).json()
    assert [r["id"] for r in before_b["items"]] == [a["id"]]

    # view=basic: no steps, but the state, progress and error reason remain
    basic = api.get(url + "/v1/runs", params={"view": "basic", "state": "failed"}).json()
    run = basic["items"][0]
    assert "steps" not in run and run["state"] == "failed"
    assert run["error_reason"] in ("internal", "transient")
    full = api.get(url + "/v1/runs", params={"state": "failed"}).json()["items"][0]
    assert len(full["steps"]) > 0
    assert full["steps"][0]["last_error_reason"] == run["error_reason"]
    assert "steps" not in api.get(f"{url}/v1/runs/{c['id']}", params={"view": "basic"}).json()

    # pages follow the ordering, newest first
    page = api.get(url + "/v1/runs", params={"order_by": "-created_at", "limit": 2}).json()
    assert [r["id"] for r in page["items"]] == [c["id"], b["id"]]
    rest = api.get(url + "/v1/runs", params={"order_by": "-created_at", "limit": 2,
                                            "page_token": page["next_page_token"]}).json()
    assert [r["id"] for r in rest["items"]] == [a["id"]] and rest["next_page_token"] is None

    # bad filters are refused naming the parameter, nothing else happens
    for params in ({"state": "sleeping"}, {"order_by": "name"},
                   {"created_after": "yesterday"}, {"view": "tiny"},
                   {"engine": "oracle-goldengate"}):
        r = api.get(url + "/v1/runs", params=params)
        assert r.status_code == 400, r.text
        assert [e["parameter"] for e in r.json()["errors"]] == list(params)


def test_name_filter_on_configuration_lists(rd, api):
    url = rd.url
    p = make_project(url, "named")
    make_project(url, "other")
    got = api.get(url + "/v1/projects", params={"name": "named"}).json()["items"]
    assert [x["id"] for x in got] == [p]
    assert api.get(url + "/v1/projects", params={"name": "nope"}).json()["items"] == []
    for name in ("src", "tgt"):
        r = api.post(f"{url}/v1/projects/{p}/endpoints", json={
            "name": name, "role": "source" if name == "src" else "target",
            "engine": "postgres", "host": "127.0.0.1", "port": 5432, "database": "d",
            "username": "u", "password": "pw"})
        assert r.status_code == 201, r.text
    eps = api.get(f"{url}/v1/projects/{p}/endpoints", params={"name": "tgt"}).json()["items"]
    assert [e["name"] for e in eps] == ["tgt"]
    for path in ("replication-instances", "tasks"):
        assert api.get(f"{url}/v1/projects/{p}/{path}", params={"name": "x"}
                       ).json()["items"] == []
    assert api.get(url + "/v1/projects", params={"name": ""}).status_code == 400


def test_etag_304_and_wait(rd, api):
    url = rd.url
    p = make_project(url)
    run = start_run(url, p, test={"gate": ["configure_source"]})
    rid = run["id"]
    wait_state(url, rid, "awaiting_approval")
    r = api.get(f"{url}/v1/runs/{rid}")
    etag = r.headers["ETag"]
    r2 = api.get(f"{url}/v1/runs/{rid}", headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b"" and r2.headers["ETag"] == etag

    # ?wait with an unchanged run: 304 after about the time asked for
    t0 = time.monotonic()
    r3 = api.get(f"{url}/v1/runs/{rid}", params={"wait": 2},
                 headers={"If-None-Match": etag}, timeout=10)
    took = time.monotonic() - t0
    assert r3.status_code == 304
    assert 1.5 <= took <= 4.5, took

    # ?wait answers as soon as the run changes: approve from another thread
    done = {}

    def poll():
        t = time.monotonic()
        done["r"] = requests.get(f"{url}/v1/runs/{rid}", params={"wait": 30},
                                 headers={"If-None-Match": etag}, timeout=40)
        done["s"] = time.monotonic() - t
    th = threading.Thread(target=poll)
    th.start()
    # the poll is parked (holds no HTTP thread): other requests are served
    for _ in range(10):
        assert requests.get(url + "/healthz", timeout=2).status_code == 200
    time.sleep(0.3)  # not synchronisation: gives the poll time to park first
    assert api.post(f"{url}/v1/runs/{rid}/steps/configure_source/approve").status_code == 200
    th.join(40)
    assert done["r"].status_code == 200, done["r"].text
    assert done["r"].headers["ETag"] != etag
    assert done["s"] < 20
    # without If-None-Match any event of the run ends the wait; a final run
    # is answered at once
    finish(url, rid)
    t0 = time.monotonic()
    assert api.get(f"{url}/v1/runs/{rid}", params={"wait": 30}).status_code == 200
    assert time.monotonic() - t0 < 5
    r = api.get(f"{url}/v1/runs/{rid}", params={"wait": 61})
    assert r.status_code == 400 and r.json()["errors"][0]["parameter"] == "wait"


def test_parked_polls_do_not_hold_http_threads(rd):
    url = rd.url
    p = make_project(url)
    rid = start_run(url, p, test={"gate": ["configure_source"]})["id"]
    wait_state(url, rid, "awaiting_approval")
    etag = requests.get(f"{url}/v1/runs/{rid}").headers["ETag"]
    out = []

    def poll():
        out.append(requests.get(f"{url}/v1/runs/{rid}", params={"wait": 4},
                                headers={"If-None-Match": etag}, timeout=15).status_code)
    threads = [threading.Thread(target=poll) for _ in range(12)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # not synchronisation: lets the 12 polls park
    t0 = time.monotonic()
    assert requests.get(url + "/healthz", timeout=3).status_code == 200
    assert time.monotonic() - t0 < 1.0
    for t in threads:
        t.join(20)
    assert out == [304] * 12


def test_run_stream_ends_after_final_state(rd):
    url = rd.url
    p = make_project(url)
    rid = start_run(url, p, test={"step_ms": 20})["id"]
    finisher = threading.Thread(target=finish, args=(url, rid), daemon=True)
    finisher.start()
    t0 = time.monotonic()
    with requests.get(f"{url}/v1/runs/{rid}/events",
                      headers={"Accept": "text/event-stream"}, stream=True,
                      timeout=60) as r:
        body = b"".join(r.iter_content(None)).decode()
    assert time.monotonic() - t0 < 60
    finisher.join(30)
    frames = [f for f in body.split("\n\n") if f.startswith("id: ")]
    last = frames[-1]
    assert "event: run.state" in last and '"to":"succeeded"' in last
    # an already final run: the stream replays and ends; after the last id
    # it ends at once
    last_id = last.split("\n")[0][4:]
    with requests.get(f"{url}/v1/runs/{rid}/events", headers={
            "Accept": "text/event-stream", "Last-Event-ID": last_id},
            stream=True, timeout=10) as r:
        rest = b"".join(r.iter_content(None)).decode()
    assert "id: " not in rest and ": connected" in rest
