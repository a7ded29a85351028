"""pg-logical under kill -9 and cancel: the run completes after the daemon
is killed during the full load and during CDC, with exactly one
publication, slot and subscription per task at any time; a cancelled run
leaves nothing behind on either server."""
import requests

from daemon import Daemon, wait_until
from test_pglogical import clusters, endpoint  # noqa: F401 - module fixture


def count_objects(src, tgt, db):
    return (int(src.scalar("SELECT count(*) FROM pg_publication", "pagila")),
            # the task's own slot (table sync workers add temporary pg_*_sync_* slots)
            int(src.scalar("SELECT count(*) FROM pg_replication_slots"
                           " WHERE slot_name LIKE 'cutover\\_%'")),
            int(tgt.scalar("SELECT count(*) FROM pg_subscription", db)))


def start(url, pid, s, t):
    r = requests.post(f"{url}/v1/projects/{pid}/runs", json={
        "plan": "oracle-to-postgres", "engine": "pg-logical",
        "parameters": {"source_endpoint_id": s, "target_endpoint_id": t,
                       "schemas": ["public"]}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_kill_9_during_full_load_and_cdc(clusters, tmp_path):  # noqa: F811
    src, tgt = clusters
    tgt.createdb("crash")
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "crash"}).json()["id"]
        s = endpoint(url, pid, "legacy", "source", src, "pagila")
        t = endpoint(url, pid, "target", "target", tgt, "crash")
        rid = start(url, pid, s, t)

        def run():
            return requests.get(f"{url}/v1/runs/{rid}").json()
        seen = []
        for step in ("full_load", "await_cdc_sync"):
            wait_until(lambda: run()["current_step"] == step or run()["state"] != "running",
                       120, interval=0.005, what=step)
            seen.append(count_objects(src, tgt, "crash"))
            d.kill9()
            seen.append(count_objects(src, tgt, "crash"))
            d.start()
        final = wait_until(lambda: (lambda x: x if x["state"] in ("awaiting_approval", "failed")
                                    else None)(run()), 180, what="the cutover gate")
        assert final["state"] == "awaiting_approval", final
        seen.append(count_objects(src, tgt, "crash"))
        assert all(p <= 1 and sl <= 1 and su <= 1 for p, sl, su in seen), seen
        assert seen[-1] == (1, 1, 1)
        requests.post(f"{url}/v1/runs/{rid}/steps/cutover_gate/approve")
        final = wait_until(lambda: (lambda x: x if x["state"] in ("succeeded", "failed")
                                    else None)(run()), 180, what="the run to finish")
        assert final["state"] == "succeeded", final
        assert count_objects(src, tgt, "crash") == (0, 0, 0)
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()


def test_cancel_leaves_nothing_behind(clusters, tmp_path):  # noqa: F811
    src, tgt = clusters
    tgt.createdb("cancel")
    d = Daemon(tmp_path).start()
    try:
        url = d.url
        pid = requests.post(url + "/v1/projects", json={"name": "cancel"}).json()["id"]
        s = endpoint(url, pid, "legacy", "source", src, "pagila")
        t = endpoint(url, pid, "target", "target", tgt, "cancel")
        rid = start(url, pid, s, t)
        wait_until(lambda: requests.get(f"{url}/v1/runs/{rid}").json()["current_step"]
                   in ("await_cdc_sync", "cutover_gate"), 120, what="CDC")
        assert count_objects(src, tgt, "cancel") == (1, 1, 1)
        r = requests.post(f"{url}/v1/runs/{rid}/cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        wait_until(lambda: count_objects(src, tgt, "cancel") == (0, 0, 0), 60,
                   what="the clean-up of the cancelled run")
        ev = requests.get(f"{url}/v1/runs/{rid}/events", params={"type": "run.cleanup"})
        wait_until(lambda: requests.get(f"{url}/v1/runs/{rid}/events",
                                        params={"type": "run.cleanup"}).json()["items"],
                   30, what="the run.cleanup event")
        assert ev.status_code == 200
    finally:
        if d.proc:
            assert d.stop() == 0, d.log()
