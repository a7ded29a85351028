"""The dashboard at /ui/ in a real browser (Debian's chromium, headless,
driven through the DevTools protocol by browser.py): a run's steps change
on the page while it runs, the readiness checks are shown next to the
approve button, a stale readiness ETag is refused (412) and approving from
the page moves the run on; a viewer sees no action buttons.

Runs use the test engine (cutoverd-test) with a real PostgreSQL source
endpoint, whose client sessions the readiness counts. Screenshots go to
tmp_path, and also to $CUTOVER_SCREENSHOTS when set (docs/dashboard.png
comes from there).
"""
import hashlib
import os
import shutil

import psycopg2
import pytest
import requests

import browser
from daemon import TEST_BINARY, Daemon, wait_until
from pgcluster import pg_cluster, pg_database  # noqa: F401
from runs_util import make_project, pg_endpoints, start_run, wait_state

pytestmark = pytest.mark.skipif(not browser.available(),
                                reason="chromium is not installed (scripts/setup-debian.sh)")

TOKENS = {"viewer": "tok-dash-viewer", "operator": "tok-dash-operator"}
# slow enough to watch: each step takes step_ms, the full load and the CDC
# wait publish statistics every interval_ms
# the test engine pauses at convert_schema (a gate of its own) so that the
# test sees the page follow the run from a known point; the full load and
# the CDC wait publish statistics for a while
SLOW = {"step_ms": 100, "gate": ["convert_schema"],
        "stats": {"tables": ["public.actor", "public.film", "public.customer",
                             "public.rental", "public.payment"],
                  "calls": 30, "interval_ms": 500}}


def save(b, tmp_path, name):
    path = b.screenshot(str(tmp_path / name))
    out = os.environ.get("CUTOVER_SCREENSHOTS")
    if out:
        os.makedirs(out, exist_ok=True)
        shutil.copy(path, os.path.join(out, name))
    return path


def step_state(b, step):
    return b.eval(f"(document.querySelector('[data-step={step}]') || {{}}).dataset?.state")


def confirm(b):
    b.wait("document.getElementById('confirm').open", what="the confirmation dialog")
    b.click("#confirm-ok")


def test_run_live_readiness_and_approve(tdaemon, tmp_path, pg_cluster, pg_database):  # noqa: F811
    url = tdaemon.url
    pid = make_project(url, "pagila")
    src, tgt = pg_endpoints(url, pid, pg_cluster, pg_database)
    with browser.Browser(str(tmp_path)) as b:
        # the page is open (the runs list) before the run starts
        b.goto(f"{url}/ui/")
        b.wait("document.querySelector('#inbox')", what="the runs list")
        b.eval("window.__sameDocument = true")
        run = start_run(url, pid, test=SLOW, source_endpoint_id=src, target_endpoint_id=tgt)
        rid = run["id"]
        b.eval(f"location.hash = '#/run/{rid}'")
        b.wait("document.querySelector('#steps li')", what="the steps timeline")
        # the page follows the run through its event stream: steps change
        # state on the page without a reload
        b.wait("document.querySelector('[data-step=convert_schema][data-state=awaiting_approval]')",
               what="convert_schema waiting for approval")
        assert step_state(b, "preflight") == "succeeded"
        assert step_state(b, "full_load") == "pending"
        r = requests.post(f"{url}/v1/runs/{rid}/steps/convert_schema/approve")
        assert r.status_code == 200, r.text
        b.wait("document.querySelector('[data-step=convert_schema][data-state=succeeded]')",
               what="convert_schema shown succeeded")
        b.wait("document.querySelector('[data-step=full_load][data-state=running],"
               "[data-step=full_load][data-state=waiting]')", what="full_load shown running")
        b.wait("document.querySelectorAll('#tables tbody tr').length === 5",
               what="the per-table statistics")
        b.wait("document.querySelector('[data-step=await_cdc_sync][data-state=running],"
               "[data-step=await_cdc_sync][data-state=waiting]')",
               what="await_cdc_sync shown running")
        b.wait("document.querySelector('#chart .uplot')", what="the CDC latency chart")
        b.wait("[...document.querySelectorAll('#events tbody tr')].filter("
               "r => r.children[2].textContent === 'engine.status').length >= 8",
               what="CDC latency samples in the event tail")
        assert requests.get(f"{url}/v1/runs/{rid}").json()["current_step"] == "await_cdc_sync"
        save(b, tmp_path, "dashboard.png")  # a run in progress
        assert b.eval("window.__sameDocument === true"), "the page reloaded"

        # at the gate: the readiness checks next to the approve button
        b.wait("document.querySelector('[data-step=cutover_gate][data-state=awaiting_approval]')",
               what="the cutover gate")
        b.wait("document.querySelector('#approve-cutover')", what="the approve button")
        assert b.text("#ready-verdict") == "ready"
        checks = b.eval("[...document.querySelectorAll('#readiness tbody tr')]"
                        ".map(r => [r.dataset.check, r.dataset.status])")
        assert dict(checks) == {
            "cdc_latency": "pass", "cdc_latency_trend": "pass", "pending_changes": "pass",
            "tables_loaded": "pass", "validation": "not_applicable",
            "constraints_restored": "pass", "source_sessions": "pass"}, checks
        assert b.eval("document.querySelectorAll('#artifacts a[download]').length") == 1
        shown_etag = b.eval("document.querySelector('#approve-cutover').dataset.etag")
        assert shown_etag == requests.get(f"{url}/v1/runs/{rid}/readiness").headers["ETag"]
        save(b, tmp_path, "dashboard-readiness.png")

        # a client connects to the source after the operator looked: the
        # approval carries the ETag shown, the daemon answers 412, the page
        # says so and shows the new checks; nothing moved
        conn = psycopg2.connect(pg_cluster.dsn(pg_database))
        try:
            b.click("#approve-cutover")
            confirm(b)
            b.wait("(document.getElementById('readiness-msg') || {}).textContent"
                   "?.includes('changed since you looked')", what="the 412 message")
            b.wait("document.querySelector('[data-check=source_sessions][data-status=fail]')",
                   what="the sessions check failing")
            assert b.text("#ready-verdict") == "not ready"
            assert requests.get(f"{url}/v1/runs/{rid}").json()["state"] == "awaiting_approval"
            save(b, tmp_path, "dashboard-stale.png")
        finally:
            conn.close()

        # the client is gone: check again, approve, and the run moves on
        b.click("#recheck")
        b.wait("document.querySelector('[data-check=source_sessions][data-status=pass]')",
               what="the sessions check passing again")
        b.click("#approve-cutover")
        confirm(b)
        b.wait("document.querySelector('[data-step=cutover_gate][data-state=succeeded]')",
               what="the gate approved")
        wait_state(url, rid, "succeeded")
        b.wait("document.querySelector('h1 [data-state=succeeded]')", what="the run succeeded")
        gate = [s for s in requests.get(f"{url}/v1/runs/{rid}").json()["steps"]
                if s["id"] == "cutover_gate"][0]
        assert gate["approved_by"] == "anonymous"

        # the runs list and a project's resources (no password anywhere)
        b.goto(f"{url}/ui/#/runs?state=succeeded")
        b.wait(f"document.querySelector('#runs [data-run={rid}]')", what="the run listed")
        b.goto(f"{url}/ui/#/project/{pid}")
        b.wait("document.querySelectorAll('#endpoints tbody tr').length === 2",
               what="the endpoints")
        page = b.eval("document.body.innerText")
        assert pg_cluster.password not in page and "set" in page
        assert not [c for c in b.console if c.startswith("exception")], b.console


def token_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("".join(f"{hashlib.sha256(t.encode()).hexdigest()} {role} {role}-person\n"
                            for role, t in TOKENS.items()))
    return str(path)


def test_sign_in_roles_and_actions(tmp_path):
    d = Daemon(tmp_path, binary=TEST_BINARY, tokens_file=token_file(tmp_path)).start()
    try:
        url = d.url
        op = {"Authorization": f"Bearer {TOKENS['operator']}"}
        p = requests.post(url + "/v1/projects", json={"name": "signed"}, headers=op)
        pid = p.json()["id"]
        r = requests.post(f"{url}/v1/projects/{pid}/runs", headers=op, json={
            "plan": "oracle-to-postgres", "engine": "test", "parameters": {"test": {}}})
        rid = r.json()["id"]

        def read_run():
            return requests.get(f"{url}/v1/runs/{rid}", headers=op).json()
        wait_until(lambda: read_run()["state"] == "awaiting_approval", 30, what="the gate")
        with browser.Browser(str(tmp_path)) as b:
            b.goto(f"{url}/ui/#/run/{rid}")
            b.wait("document.querySelector('#signin')", what="the sign-in form")
            b.fill("#token", "wrong")
            b.eval("document.querySelector('#signin').requestSubmit()")
            b.wait("document.querySelector('#signin .notice.error')", what="a refused token")
            b.fill("#token", TOKENS["viewer"])
            b.eval("document.querySelector('#signin').requestSubmit()")
            b.wait("document.querySelector('#readiness tbody tr')", what="the readiness, as viewer")
            assert b.text("#who") == "viewer-person · viewer"
            # the session cookie is HttpOnly: the page cannot read it
            assert "cutover_session" not in b.eval("document.cookie")
            assert b.eval("document.querySelectorAll('#actions button').length") == 0
            assert b.eval("document.querySelector('#approve-cutover')") is None
            save(b, tmp_path, "dashboard-viewer.png")

            # sign out, sign in as operator: the actions appear
            b.click("#signout")
            b.wait("document.querySelector('#signin')", what="the sign-in form again")
            b.fill("#token", TOKENS["operator"])
            b.eval("document.querySelector('#signin').requestSubmit()")
            b.wait("document.querySelector('#approve-cutover')", what="the approve button")
            labels = b.eval("[...document.querySelectorAll('#actions button')]"
                            ".map(x => x.dataset.action)")
            assert labels == ["Pause", "Cancel"], labels
            # an action asks first; cancelling the dialog changes nothing
            b.click("[data-action=Pause]")
            b.wait("document.getElementById('confirm').open", what="the confirmation")
            b.click("#confirm-cancel")
            b.wait("!document.getElementById('confirm').open", what="the dialog closed")
            assert read_run()["state"] == "awaiting_approval"
            # the dialog's close event is dispatched after it closes: one that
            # arrives once the next question is open does not answer it
            b.click("[data-action=Pause]")
            b.wait("document.getElementById('confirm').open", what="the confirmation")
            b.eval("document.querySelector('#confirm-cancel').click();"
                   " document.querySelector('#approve-cutover').click()")
            assert b.text("#confirm-title") == "Approve the cutover"
            # approving from the page works through the cookie and CSRF header
            confirm(b)
            wait_until(lambda: read_run()["state"] == "succeeded", 30, what="the run to finish")
            gate = [s for s in read_run()["steps"] if s["id"] == "cutover_gate"][0]
            assert gate["approved_by"] == "operator-person"
    finally:
        assert d.stop() == 0, d.log()
