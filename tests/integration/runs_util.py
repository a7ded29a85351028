"""Helpers for tests that drive runs over the API."""
import contextlib

import requests

from daemon import wait_until
from pgcluster import Cluster


def make_project(url, name="runs"):
    r = requests.post(url + "/v1/projects", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def start_run(url, project, plan="oracle-to-postgres", test=None, **params):
    params = dict(params)
    params["test"] = test or {}
    r = requests.post(f"{url}/v1/projects/{project}/runs",
                      json={"plan": plan, "engine": "test", "parameters": params})
    assert r.status_code == 201, r.text
    return r.json()


def pg_endpoints(url, pid, cluster, db, names=("legacy", "target")):
    """Creates a postgres source and target endpoint on cluster's database db
    (as the cluster's superuser); returns their ids."""
    ids = []
    for name, role in zip(names, ("source", "target")):
        r = requests.post(f"{url}/v1/projects/{pid}/endpoints", json={
            "name": name, "role": role, "engine": "postgres", "host": "127.0.0.1",
            "port": cluster.port, "database": db, "username": cluster.user,
            "password": cluster.password, "sslmode": "disable"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def get_run(url, run_id):
    r = requests.get(f"{url}/v1/runs/{run_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_state(url, run_id, states, timeout=30):
    if isinstance(states, str):
        states = {states}
    return wait_until(lambda: (lambda r: r if r["state"] in states else None)(
        get_run(url, run_id)), timeout, what=f"run {run_id} in {states}")


def all_events(url, path="/v1/events", **params):
    """Pages through a JSON event endpoint; returns every event."""
    out, after = [], 0
    while True:
        r = requests.get(url + path, params=dict(params, after=after, limit=1000))
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["items"]
        if not body["items"]:
            return out
        after = body["next_after"]


def step_order(events):
    """Step ids in the order they first started running (or were skipped)."""
    seen = []
    for e in events:
        if e["type"] == "step.state" and e["data"]["to"] in ("running", "skipped",
                                                              "awaiting_approval"):
            if e["data"]["step"] not in seen:
                seen.append(e["data"]["step"])
    return seen


@contextlib.contextmanager
def two_clusters(source_name, target_name, **target_settings):
    """A started source and target cluster (the target with the server
    settings target_settings), stopped afterwards (for module fixtures)."""
    src, tgt = Cluster(source_name), Cluster(target_name, **target_settings)
    src.start()
    tgt.start()
    try:
        yield src, tgt
    finally:
        src.stop()
        tgt.stop()


class O2PEnv:
    """A daemon's project with a postgres source (src, sdb) and target
    (tgt, tdb) endpoint, to start oracle-to-postgres runs on pg-logical."""

    def __init__(self, daemon, name, src, sdb, tgt, tdb):
        self.d, self.url = daemon, daemon.url
        self.src, self.sdb, self.tgt, self.tdb = src, sdb, tgt, tdb
        self.pid = make_project(self.url, name)
        self.eps = {}
        for role, cl, db in (("source", src, sdb), ("target", tgt, tdb)):
            r = requests.post(f"{self.url}/v1/projects/{self.pid}/endpoints", json={
                "name": role, "role": role, "engine": "postgres", "host": "127.0.0.1",
                "port": cl.port, "database": db, "username": cl.user,
                "password": cl.password, "sslmode": "disable"})
            assert r.status_code == 201, r.text
            self.eps[role] = r.json()["id"]

    def start(self, **params):
        r = requests.post(f"{self.url}/v1/projects/{self.pid}/runs", json={
            "plan": "oracle-to-postgres", "engine": "pg-logical",
            "parameters": dict({"source_endpoint_id": self.eps["source"],
                                "target_endpoint_id": self.eps["target"]}, **params)})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def run(self, rid):
        return requests.get(f"{self.url}/v1/runs/{rid}").json()

    def until(self, rid, states, timeout=180):
        return wait_until(lambda: (lambda x: x if x["state"] in states else None)(self.run(rid)),
                          timeout, interval=0.2, what=f"run state in {states}")
