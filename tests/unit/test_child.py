"""cfcore.child: a computation's child process ends with its server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.support.paths import REPO
from tests.support.waiting import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie has ended; only its parent's wait is missing
        return fh.read().split(") ")[-1][0] != "Z"


def test_a_child_ends_when_its_server_is_killed(tmp_path):
    """A computation's child process (a t-SNE map, a measurement) must not run on orphaned."""
    (tmp_path / "sleeper.py").write_text(
        "import os, time\nfrom cfcore.child import exit_with_parent\nexit_with_parent()\n"
        "print(os.getpid(), flush=True)\ntime.sleep(600)\n")
    script = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        f"os.environ['PYTHONPATH'] = {str(tmp_path)!r} + os.pathsep + {str(REPO)!r}\n"
        "from cfcore.child import run_module\n"
        "run_module('sleeper', [], 600, on_line=lambda line: print(line, end='', flush=True))\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    child_pid = int(server.stdout.readline())
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    assert wait_for(lambda: not _alive(child_pid), timeout=10), "the child ran on after its server was killed"
