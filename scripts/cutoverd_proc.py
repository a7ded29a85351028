"""cutoverd_proc - start cutoverd on a port the kernel picks and learn it.

The demo, the tests and the benchmarks start cutoverd with
``--listen 127.0.0.1:0 --port-file FILE`` and read the port the daemon bound
from FILE, instead of probing for a free port (which races with every other
process on the machine). Only the Python standard library is used.
"""
import os
import subprocess
import time


class StartError(RuntimeError):
    pass


def start(binary, workdir, args=(), port=0, log=None, env=None, timeout=15.0,
          cwd=None):
    """Starts binary listening on 127.0.0.1:port (0: any free port) with
    `args`, stdout and stderr to the open file `log` (or inherited).

    Returns (proc, port) once the daemon wrote its port file; raises
    StartError if it exits first or writes nothing within timeout seconds.
    """
    port_file = os.path.join(str(workdir), "cutoverd.port")
    try:
        os.unlink(port_file)
    except FileNotFoundError:
        pass
    cmd = [binary, "--listen", "127.0.0.1:%d" % port, "--port-file", port_file] + list(args)
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, cwd=cwd or str(workdir))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartError("cutoverd exited with %d before listening" % proc.returncode)
        try:
            with open(port_file) as f:
                text = f.read()
            if text.endswith("\n"):
                return proc, int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    proc.kill()
    proc.wait(5)
    raise StartError("cutoverd wrote no port file within %.0f s" % timeout)
