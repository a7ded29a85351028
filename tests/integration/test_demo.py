"""The README's first command, non-interactively: the demo must finish with
exit status 0 and its validations green (asserted by the demo itself and
checked here in its output)."""
import os
import subprocess
import sys

from daemon import ROOT, free_port


def test_demo_end_to_end(tmp_path):
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.run(
        ["/usr/bin/python3", os.path.join(ROOT, "scripts", "demo.py"), "--non-interactive",
         "--port", str(free_port()), "--dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=900, env=env)
    out = proc.stdout
    sys.stdout.write(out[-3000:])
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    assert "validation: all 15 tables match" in out
    assert "view migration validation: match" in out
    assert "source quiesced after" in out
    assert "demo: succeeded" in out
    assert "\x1b[" not in out  # no colours in non-interactive mode
    assert not (tmp_path / "demo").exists()  # everything cleaned up
