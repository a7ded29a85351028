"""Debian's chromium in headless mode, driven through the DevTools protocol
(python3-websocket), for the dashboard's tests.

    with Browser(tmpdir) as b:
        b.goto(url + "/ui/")
        b.wait("document.querySelector('#runs') !== null", what="the runs table")
        b.click("#approve-cutover")
        b.screenshot("/tmp/x.png")

Chromium runs with its own throwaway profile, no network but what the page
asks for (the tests only give it loopback URLs), --no-sandbox when root
(Debian's chromium refuses to start as root otherwise). Every wait polls a
JavaScript expression with a deadline.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import requests
import websocket

from daemon import free_port, wait_until

CHROMIUM = os.environ.get("CUTOVER_CHROMIUM", "/usr/bin/chromium")


def available():
    return shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, workdir=None, width=1360, height=1000):
        self.workdir = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
        self.width, self.height = width, height
        self.proc = None
        self.ws = None
        self.next_id = 0
        self.console = []      # console messages and page errors, for failure reports
        # a failed wait saves a screenshot here
        self.failure_shot = os.path.join(workdir or tempfile.gettempdir(), "failed-wait.png")

    # ----------------------------------------------------------- process
    def start(self):
        port = free_port()
        args = [CHROMIUM, "--headless=new", f"--remote-debugging-port={port}",
                "--remote-debugging-address=127.0.0.1", f"--user-data-dir={self.workdir}",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu",
                "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--metrics-recording-only",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
                f"--window-size={self.width},{self.height}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.log = open(os.path.join(self.workdir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)

        def page_target():
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}")
            r = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=1)
            pages = [t for t in r.json() if t.get("type") == "page"]
            return pages[0] if pages else None
        target = wait_until(page_target, timeout=30, interval=0.1, what="chromium's DevTools")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=self.width,
                  height=self.height, deviceScaleFactor=1, mobile=False)
        return self

    def stop(self):
        if self.ws:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - the browser may be gone already
                pass
            self.ws = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            self.log.close()
        self.proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---------------------------------------------------------- protocol
    def send(self, method, **params):
        """Sends one command and returns its result (events meanwhile are
        kept as console lines when they are console output or errors)."""
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg):
        m = msg.get("method")
        p = msg.get("params", {})
        if m == "Runtime.consoleAPICalled":
            self.console.append(p.get("type", "") + ": " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.console.append("exception: " + str(d.get("exception", {}).get(
                "description", d.get("text"))))

    def eval(self, expr, await_promise=True):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=await_promise)
        if "exceptionDetails" in r:
            raise BrowserError(f"{expr}: {r['exceptionDetails'].get('exception', {}).get('description', r['exceptionDetails'])}")
        return r.get("result", {}).get("value")

    # ------------------------------------------------------------- pages
    def goto(self, url):
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", what=f"{url} to load")

    def wait(self, expr, timeout=60, what=None):
        """Polls the JavaScript expression until it is truthy (in JavaScript:
        an element counts, unlike its empty JSON form)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.eval(f"!!({expr})")
            except BrowserError as e:
                last = e
            else:
                if last:
                    return last
            time.sleep(0.05)
        if self.failure_shot:
            try:
                self.screenshot(self.failure_shot)
            except BrowserError:
                pass
        raise BrowserError(f"timed out after {timeout}s waiting for {what or expr}: "
                           f"last {last!r}; console: {self.console[-10:]}")

    def click(self, selector):
        found = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                          " if (!e) return false; e.click(); return true; })()")
        if not found:
            raise BrowserError(f"nothing to click at {selector}")

    def fill(self, selector, value):
        self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                  f" e.value = {json.dumps(value)}; }})()")

    def text(self, selector):
        return self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                         " return e ? e.textContent : null; })()")

    def screenshot(self, path):
        r = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path
