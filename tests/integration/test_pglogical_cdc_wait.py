"""pg-logical await_cdc_sync when no subscriber is connected to the slot: the
lag is unknown, not zero, so the step keeps waiting and says what for,
instead of letting the run reach the cutover gate with changes behind.

The target here has max_worker_processes = 1, which the logical replication
launcher takes: the subscription exists and is enabled, but its apply
worker never gets a slot to start in, so none connects to the slot, while a
writer keeps changing the source. (max_logical_replication_workers = 0
would stop the run at preflight.)"""
import threading

import psycopg2
import pytest
import requests

from daemon import Daemon, wait_until
from runs_util import O2PEnv, two_clusters

SCHEMA = """
CREATE TABLE public.ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
INSERT INTO public.ticks (at) SELECT now() FROM generate_series(1, 100);
"""
ENDED = ("awaiting_approval", "failed", "succeeded", "cancelled")


@pytest.fixture(scope="module")
def clusters():
    with two_clusters("cdcwait-src", "cdcwait-tgt", max_worker_processes=1) as (s, t):
        s.createdb("app")
        s.psql(SCHEMA, "app", tuples=False)
        t.createdb("app")
        yield s, t


class Writer(threading.Thread):
    """Inserts a row into the source every 20 ms until stopped."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.dsn = cluster.dsn("app")
        self.halt = threading.Event()

    def run(self):
        c = psycopg2.connect(self.dsn)
        c.autocommit = True
        while not self.halt.wait(0.02):
            c.cursor().execute("INSERT INTO public.ticks DEFAULT VALUES")
        c.close()


def engine_statuses(e, rid):
    return len(requests.get(f"{e.url}/v1/runs/{rid}/events",
                            params={"type": "engine.status"}).json()["items"])


def test_await_cdc_sync_waits_while_no_subscriber_is_connected(clusters, tmp_path):
    src, tgt = clusters
    writer = Writer(src)
    writer.start()
    d = Daemon(tmp_path).start()
    try:
        e = O2PEnv(d, "cdcwait", src, "app", tgt, "app")
        rid = e.start(schemas=["public"], validate_tables=False)
        # the wait is named; the run does not get past await_cdc_sync
        waiting = wait_until(lambda: (lambda x: x if x.get("waiting_for") or x["state"] in ENDED
                                      else None)(e.run(rid)), 120, what="await_cdc_sync to wait")
        assert waiting["current_step"] == "await_cdc_sync", waiting
        what = waiting["waiting_for"]
        assert "to catch up with the source" in what["what"], what
        assert "bytes behind; no subscriber is connected" in what["detail"], what
        step = next(x for x in waiting["steps"] if x["id"] == "await_cdc_sync")
        assert step["outputs"]["cdc"]["CDCLatencyTarget"] is None, step["outputs"]
        assert step["outputs"]["cdc"]["BytesBehind"] > 0, step["outputs"]
        # several polls later it still waits
        polls = engine_statuses(e, rid)
        wait_until(lambda: engine_statuses(e, rid) >= polls + 3, 30, what="three more CDC polls")
        later = e.run(rid)
        assert later["current_step"] == "await_cdc_sync", later
        assert later["state"] not in ENDED, later
        # the readiness view, measured live on the source, agrees
        checks = {c["id"]: c for c in
                  requests.get(f"{e.url}/v1/runs/{rid}/readiness").json()["checks"]}
        assert checks["cdc_latency"]["status"] == "unknown", checks["cdc_latency"]
        assert "no subscriber connected" in checks["cdc_latency"]["detail"]
        assert checks["pending_changes"]["figure"] > 0, checks["pending_changes"]

        r = requests.post(f"{e.url}/v1/runs/{rid}/cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
        wait_until(lambda: int(src.scalar("SELECT count(*) FROM pg_replication_slots", "app"))
                   == 0 and int(tgt.scalar("SELECT count(*) FROM pg_subscription", "app")) == 0,
                   60, what="the clean-up of the cancelled run")
    finally:
        writer.halt.set()
        writer.join(10)
        if d.proc:
            assert d.stop() == 0, d.log()
