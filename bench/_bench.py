"""Helpers shared by the benchmark scripts in bench/: building the release
daemon, starting it on a port it picks (scripts/cutoverd_proc.py), polling with a deadline, CPU accounting from /proc, waiting for
a quiet machine, reading /metrics, percentiles. Debian python3 only."""
import math
import os
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import cutoverd_proc  # noqa: E402,F401  (scripts/cutoverd_proc.py, re-exported)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def build(build_dir, target="cutoverd"):
    """Sets up build_dir as a release build if needed and builds target
    (ninja's name, e.g. "cutoverd" or "tests/cutoverd-test"); returns its
    path."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["meson", "setup", build_dir, ROOT, "-Dbuildtype=release"],
                       check=True, stdout=sys.stderr, timeout=600)
    subprocess.run(["ninja", "-C", build_dir, target], check=True, stdout=sys.stderr,
                   timeout=1800)
    return os.path.join(build_dir, target)


def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a truthy value (returned) or timeout
    seconds pass (RuntimeError naming what)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except requests.RequestException as e:
            last = e
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}: {last!r}")


def cpu_ticks(pid):
    """utime + stime of pid in clock ticks (/proc/<pid>/stat fields 14, 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks():
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals[:8]) - idle, sum(vals[:8])


def wait_quiet(max_secs, busy_pct=15.0):
    """Waits (at most max_secs) for a 2 s window in which the machine is less
    than busy_pct busy; returns the last busy percentage seen."""
    deadline = time.monotonic() + max_secs
    while True:
        b0, t0 = machine_ticks()
        time.sleep(2.0)
        b1, t1 = machine_ticks()
        busy = 100.0 * (b1 - b0) / max(1, t1 - t0)
        if busy < busy_pct or time.monotonic() >= deadline:
            return round(busy, 1)


def metric(url, name, default=None):
    """Value of the unlabelled Prometheus sample name at url/metrics."""
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return default


def pct(values, p):
    """Nearest-rank percentile p (0-100) of values (NaN when empty)."""
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, max(0, math.ceil(p / 100.0 * len(v)) - 1))]
