"""Starting and stopping the real cutoverd for integration tests.

Daemon(tmpdir).start() runs the binary named by $CUTOVERD (default
build/cutoverd) on loopback port 0 with a SQLite file in tmpdir, reads the
port it bound from its --port-file (scripts/cutoverd_proc.py), waits for
/readyz with a deadline, and keeps its stderr (JSON log lines) in a file so tests can
search it. A restart asks for the same port again, as a service would.
"""
import os
import signal
import sys
import socket
import subprocess
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "scripts"))
import cutoverd_proc  # noqa: E402

ROOT = os.environ.get(
    "CUTOVER_SOURCE_ROOT",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BINARY = os.environ.get("CUTOVERD", os.path.join(ROOT, "build", "cutoverd"))
# cutoverd linked with the test replication engine (tests/engine/test_engine.c)
TEST_BINARY = os.environ.get("CUTOVERD_TEST",
                             os.path.join(ROOT, "build", "tests", "cutoverd-test"))


def free_port():
    """A loopback port with nothing listening a moment ago (for addresses
    that must not answer; daemons are started on port 0 instead)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate() until it returns a truthy value or timeout passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (requests.ConnectionError, requests.Timeout) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: {last!r}")


class Daemon:
    def __init__(self, workdir, db=None, tokens_file=None, args=(), env=None,
                 binary=None):
        self.binary = binary or BINARY
        self.workdir = str(workdir)
        self.db = db or os.path.join(self.workdir, "cutover.db")
        self.tokens_file = tokens_file
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.workdir, "cutoverd.log")
        self.log_file = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=15.0):
        # the first start binds port 0; a restart keeps its address
        args = ["--db", self.db, "--log-level", "debug"] + self.args
        if self.tokens_file:
            args += ["--tokens-file", self.tokens_file]
        self.log_file = open(self.log_path, "ab")
        try:
            self.proc, self.port = cutoverd_proc.start(
                self.binary, self.workdir, args, port=self.port or 0, log=self.log_file,
                env=self.env, timeout=timeout)
        except cutoverd_proc.StartError as e:
            raise AssertionError(f"{e}: {self.log()}")

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"cutoverd exited with {self.proc.returncode}: {self.log()}")
            return requests.get(self.url + "/readyz", timeout=1).status_code == 200
        wait_until(ready, timeout, what="cutoverd /readyz")
        return self

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        code = self.proc.returncode
        self.proc = None
        self.log_file.close()
        return code

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        if self.log_file:
            self.log_file.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
