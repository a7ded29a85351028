"""Server-Sent Events: resume with Last-Event-ID without gaps or duplicates,
identical ordering with the JSON endpoint, and many concurrent
subscribers."""
import pytest
import requests

from daemon import Daemon, TEST_BINARY, wait_until
from runs_util import all_events, make_project, start_run, wait_state
from sse import Subscriber


@pytest.fixture
def rd(tmp_path):
    d = Daemon(tmp_path, binary=TEST_BINARY).start()
    yield d
    if d.proc:
        assert d.stop() == 0, d.log()


def finished(evs):
    return any(e["event"] == "run.state" and e["data"]["to"] in ("succeeded", "failed")
               for e in evs)


def test_reconnect_with_last_event_id_sees_the_same_list(rd):
    url = rd.url
    pid = make_project(url)
    run = start_run(url, pid, plan="view-migration", test={"step_ms": 60})
    stream_url = f"{url}/v1/runs/{run['id']}/events"
    a = Subscriber(stream_url, until=finished).start()
    # B reads the first few events, disconnects, and resumes from the last id
    b1 = Subscriber(stream_url, until=lambda evs: len(evs) >= 5).start()
    first = b1.wait(30)
    assert len(first) == 5
    assert b1.status == 200 and b1.content_type == "text/event-stream"
    b2 = Subscriber(stream_url, last_event_id=first[-1]["id"], until=finished).start()
    rest = b2.wait(60)
    full_a = a.wait(60)
    json_list = all_events(url, f"/v1/runs/{run['id']}/events")
    ids = [e["id"] for e in json_list]
    assert [e["id"] for e in full_a] == ids
    assert [e["id"] for e in first + rest] == ids
    assert [e["event"] for e in first + rest] == [e["type"] for e in json_list]
    assert [e["data"] for e in full_a] == [e["data"] for e in json_list]
    # ?after= resumes the same way
    c = Subscriber(f"{stream_url}?after={ids[2]}", until=finished).start()
    assert [e["id"] for e in c.wait(30)] == ids[3:]


def test_two_hundred_subscribers_receive_every_event(rd):
    url = rd.url
    pid = make_project(url)
    subs = [Subscriber(f"{url}/v1/events?project_id={pid}", until=finished).start()
            for _ in range(200)]
    for s in subs:
        assert s.connected.wait(20)
    wait_until(lambda: "cutover_sse_subscribers 200" in requests.get(url + "/metrics").text,
               20, what="200 subscribers registered")
    run = start_run(url, pid, plan="view-migration", test={"step_ms": 20})
    wait_state(url, run["id"], "succeeded", 60)
    expected = [e["id"] for e in all_events(url, "/v1/events", project_id=pid)]
    assert len(expected) > 20
    for s in subs:
        got = [e["id"] for e in s.wait(60)]
        assert got == expected


def test_filters_and_heartbeat_free_idle(rd):
    url = rd.url
    pid = make_project(url)
    only_runs = Subscriber(f"{url}/v1/events?project_id={pid}&type=run.state",
                           until=finished).start()
    run = start_run(url, pid, plan="view-migration", test={})
    wait_state(url, run["id"], "succeeded", 30)
    got = only_runs.wait(30)
    assert {e["event"] for e in got} == {"run.state"}
    assert [e["data"]["to"] for e in got] == ["pending", "running", "succeeded"]
    bad = requests.get(f"{url}/v1/runs/{run['id']}/events",
                       headers={"Accept": "text/event-stream", "Last-Event-ID": "x"})
    assert bad.status_code == 400
    assert requests.get(f"{url}/v1/runs/run_nope/events").status_code == 404


def test_sigterm_closes_open_streams(tmp_path):
    d = Daemon(tmp_path, binary=TEST_BINARY).start()
    subs = [Subscriber(f"{d.url}/v1/events").start() for _ in range(5)]
    for s in subs:
        assert s.connected.wait(10)
    wait_until(lambda: "cutover_sse_subscribers 5" in requests.get(d.url + "/metrics").text,
               10, what="5 subscribers")
    assert d.stop(timeout=8) == 0
    for s in subs:
        s.wait(10)  # the stream ended (end of stream), no exception
