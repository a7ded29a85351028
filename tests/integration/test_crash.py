"""Crash test: kill -9 the daemon at several points of a workload (chosen
from event ids), restart it on the same SQLite file, and check that every
run finishes, every step's side effect happened exactly once, and the event
ids have no gaps or duplicates."""
import collections

import requests

from daemon import Daemon, TEST_BINARY, wait_until
from runs_util import all_events, get_run, make_project, start_run


def latest_event_id(url):
    items = requests.get(url + "/v1/events", params={"after": 0, "limit": 1000}).json()
    ids = [e["id"] for e in items["items"]]
    after = items["next_after"]
    while items["items"]:
        items = requests.get(url + "/v1/events", params={"after": after,
                                                          "limit": 1000}).json()
        after = items["next_after"]
    return after if ids or after else 0


def test_kill_9_at_several_points_resumes_every_run(tmp_path):
    effects = tmp_path / "effects.log"
    effects.write_text("")
    d = Daemon(tmp_path, binary=TEST_BINARY).start()
    pid = make_project(d.url)
    test = {"step_ms": 120, "effects_file": str(effects), "retry": {"load_final": 1}}
    runs = [start_run(d.url, pid, plan="view-migration", test=test, retry_base_ms=50,
                      retry_cap_ms=100)["id"] for _ in range(3)]
    runs.append(start_run(d.url, pid, plan="oracle-to-postgres", test=test,
                          rollback_task=True)["id"])
    kill_points = [8, 25, 45, 70, 95, 120]
    kills = 0
    try:
        for point in kill_points:
            reached = wait_until(lambda: latest_event_id(d.url) >= point or
                                 all(get_run(d.url, r)["state"] in
                                     ("succeeded", "awaiting_approval") for r in runs),
                                 60, interval=0.005, what=f"event {point}")
            assert reached
            if latest_event_id(d.url) < point:
                break
            d.kill9()
            kills += 1
            d.start()
        assert kills >= 5, f"only {kills} kills happened before the runs finished"
        o2p = runs[-1]
        wait_until(lambda: get_run(d.url, o2p)["state"] == "awaiting_approval", 60,
                   what="the cutover gate")
        r = requests.post(f"{d.url}/v1/runs/{o2p}/steps/cutover_gate/approve")
        assert r.status_code == 200, r.text
        for rid in runs:
            wait_until(lambda: get_run(d.url, rid)["state"] in ("succeeded", "failed"),
                       90, what=f"run {rid} to finish")
            run = get_run(d.url, rid)
            assert run["state"] == "succeeded", run
        # every step that ran had its side effect exactly once
        lines = [tuple(line.split()) for line in effects.read_text().splitlines()]
        counts = collections.Counter(lines)
        assert all(n == 1 for n in counts.values()), \
            {k: n for k, n in counts.items() if n != 1}
        for rid in runs:
            run = get_run(d.url, rid)
            done = {s["id"] for s in run["steps"] if s["state"] == "succeeded" and
                    s["id"] != "cutover_gate"}
            assert {step for (r2, step) in counts if r2 == rid} == done
        # the event log has no gaps and no duplicates
        ids = [e["id"] for e in all_events(d.url)]
        assert ids == list(range(1, len(ids) + 1))
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()
