"""One computation in a child process, ``python -m cfcore.<module> ...``: what the web server does for work it
must not do itself (t-SNE on every core, TensorFlow), reading the child's lines as they come.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cfcore import settings

# Where ``-m cfcore...`` resolves, whatever folder the server was started from.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def exit_with_parent() -> None:
    """In a child :func:`run_module` started, end this process the moment its parent (the web server) ends, even
    killed with SIGKILL: the parent's end of the standard input pipe closes, and reading it returns. Does nothing
    in a process started otherwise (by hand, from a terminal)."""
    if os.environ.get(settings.CHILD_PARENT_PIPE_ENV_VAR) != "1":
        return

    def wait_for_parent() -> None:
        # The raw descriptor, not sys.stdin: a daemon thread blocked in a buffered read aborts the interpreter's
        # shutdown when the work ends normally.
        while os.read(0, 4096):
            pass
        os._exit(3)  # the work is nobody's any more: no cleanup, the parent's sweep removes its folder

    threading.Thread(target=wait_for_parent, name="cfcore-exit-with-parent", daemon=True).start()


@dataclass
class ChildRun:
    """How a child ended: its exit code (negative: killed by that signal), whether its time ran out, and the last
    lines of its standard output and of its standard error."""

    returncode: int
    timed_out: bool
    lines: list[str]
    errors: list[str]

    def reason(self, what: str) -> str:
        """Why it failed, in one line: its own ``error: ...`` line, else its last error output, else its end."""
        said = next((line for line in reversed(self.lines) if line.startswith("error:")), "")
        if said:
            return said.removeprefix("error: ")
        ending = "ran out of time" if self.timed_out else f"ended with code {self.returncode}"
        return f"{what} {ending}" + (f": {self.errors[-1]}" if self.errors else "")


def run_module(module: str, args: list[str], timeout_s: float, on_line: Callable[[str], None] = lambda line: None,
               threads: int = 1, keep: int = 5) -> ChildRun:
    """Run ``python -m module args`` from the package's root with ``threads`` OpenMP threads (the trainer needs the
    other core), calling ``on_line`` with each line of its output as it comes; kill it after ``timeout_s``. The
    child should call :func:`exit_with_parent` first, so it ends with this process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "2",
           settings.CHILD_PARENT_PIPE_ENV_VAR: "1"}
    lines: collections.deque[str] = collections.deque(maxlen=keep)
    errors: collections.deque[str] = collections.deque(maxlen=keep)
    # The child's standard input stays open, unwritten, for as long as this process lives (exit_with_parent).
    with subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=PACKAGE_ROOT) as child:
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            child.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        drain = threading.Thread(target=lambda: errors.extend(line.strip() for line in child.stderr), daemon=True)
        drain.start()
        try:
            for line in child.stdout:
                lines.append(line.strip())
                on_line(line)
        finally:
            timer.cancel()
        drain.join(timeout=5)
    return ChildRun(child.returncode, expired.is_set(), list(lines), list(errors))


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists on this machine (someone else's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
