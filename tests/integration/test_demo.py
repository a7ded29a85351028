"""The README's first command, non-interactively: the demo must finish with
exit status 0 and its validations green (asserted by the demo itself and
checked here in its output)."""
import os
import shutil
import subprocess
import sys
import tempfile

from daemon import ROOT


def test_demo_end_to_end():
    env = dict(os.environ, NO_COLOR="1")
    # a directory the postgres user can reach (pytest's tmp_path is 0700)
    base = tempfile.mkdtemp(prefix="cutover-demo-test-")
    os.chmod(base, 0o755)
    demo_dir = os.path.join(base, "demo")
    try:
        proc = subprocess.run(
            ["/usr/bin/python3", os.path.join(ROOT, "scripts", "demo.py"), "--non-interactive",
             "--dir", demo_dir],
            capture_output=True, text=True, timeout=900, env=env)
    finally:
        leftover = os.path.exists(demo_dir)
        shutil.rmtree(base, ignore_errors=True)
    out = proc.stdout
    sys.stdout.write(out[-3000:])
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    assert "validation: all 15 tables match" in out
    assert "view migration validation: match" in out
    assert "source quiesced after" in out
    assert "demo: succeeded" in out
    assert "\x1b[" not in out  # no colours in non-interactive mode
    assert not leftover  # the demo removed everything it made
