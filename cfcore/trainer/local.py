"""The local backend: one trainer process, started by the server itself, that runs every training.

The web server never imports TensorFlow: :class:`LocalTrainer` starts ``cfcore.trainer.worker`` in a fresh
interpreter (none of the server's threads or sockets are copied), sends it job specs and reads progress and
outcomes back over one ``multiprocessing.connection`` pipe. If the process dies (killed, out of
memory, a native crash) every training it held ends with a readable message within a fraction of a second, and
the next training starts a fresh process. With nothing to do for ``idle_seconds`` it is shut down, so its
memory (TensorFlow is most of a gigabyte) goes back to the system.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Listener

from cfcore.child import PACKAGE_ROOT
from cfcore.runs.run import Progress
from cfcore.trainer.spec import DIED_MESSAGE, FAILED, JobSpec, Outcome, progress_from_message

_LOG = logging.getLogger(__name__)
# How often a waiting job checks for a stop request.
_POLL_S = 0.05
# How long a new trainer may take to connect back (it connects before importing TensorFlow).
_CONNECT_TIMEOUT_S = 60.0


class _Process:
    """One trainer process and the thread that reads its pipe.

    Started as ``python -m cfcore.trainer.worker``: a fresh interpreter, like multiprocessing's *spawn*, but
    without spawn's re-import of the parent's ``__main__``: inside Streamlit that is the page script itself, and
    the child ran the page again (which started a trainer of its own and failed; tests/unit/trainer/test_local.py).
    The pipe is a ``multiprocessing.connection`` over a Unix socket, authenticated with a random key handed over
    on the child's stdin.
    """

    def __init__(self, on_message: Callable[[tuple], None], on_exit: Callable[[_Process], None]):
        authkey = secrets.token_bytes(32)
        self._listener = Listener(family="AF_UNIX", authkey=authkey)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cfcore.trainer.worker", self._listener.address], stdin=subprocess.PIPE, env=env,
            cwd=str(PACKAGE_ROOT),
        )
        self.process.stdin.write(authkey.hex().encode() + b"\n")
        self.process.stdin.close()
        self.conn = None
        self.connected, self.ready = threading.Event(), threading.Event()
        self._send_lock = threading.Lock()
        self._on_message, self._on_exit = on_message, on_exit
        threading.Thread(target=self._read, name="cfcore-trainer-reader", daemon=True).start()
        threading.Thread(target=self._watch, name="cfcore-trainer-watch", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: tuple) -> bool:
        if not self.connected.wait(_CONNECT_TIMEOUT_S) or self.conn is None:
            return False
        with self._send_lock:
            try:
                self.conn.send(message)
                return True
            except (OSError, ValueError):
                return False

    def _watch(self) -> None:
        self.process.wait()
        self._listener.close()  # a child that died before connecting: unblock accept()

    def _read(self) -> None:
        try:
            self.conn = self._listener.accept()
        except (OSError, EOFError, multiprocessing.AuthenticationError):
            self.conn = None
        self.connected.set()
        while self.conn is not None:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "ready":
                self.ready.set()
            else:
                self._on_message(message)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # the pipe broke but the process lives on: it cannot be reached
            self.process.kill()
            self.process.wait()
        self._on_exit(self)

    @property
    def exit_reason(self) -> str:
        code = self.process.poll()
        if code is None:
            return "it stopped answering"
        if code < 0:
            return f"killed by signal {-code}"
        return f"exit code {code}"

    def stop(self) -> None:
        self.send(("shutdown",))
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class LocalTrainer:
    """Runs job specs in a trainer process the server starts on demand (thread-safe).

    Args:
        idle_seconds: Shut the process down after this long with no training running (``CFCORE_TRAINER_IDLE_SECONDS``).
    """

    def __init__(self, idle_seconds: float = 300.0):
        self.idle_seconds = float(idle_seconds)
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self._waiting: dict[str, tuple[queue.SimpleQueue, _Process]] = {}  # job id -> its inbox, its process
        self._idle_timer: threading.Timer | None = None
        self.processes_started = 0

    # -- the process --------------------------------------------------------------

    def warm(self) -> None:
        """Start the trainer now (it imports TensorFlow and traces its training code) unless it runs already."""
        with self._lock:
            self._ensure_process_locked()
            if not self._waiting:
                self._arm_idle_locked()

    @property
    def pid(self) -> int | None:
        """The trainer process's id, or None when none runs."""
        process = self._process
        return process.pid if process is not None else None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the trainer has warmed up (for scripts and tests)."""
        process = self._process
        return process is not None and process.ready.wait(timeout)

    def shutdown(self) -> None:
        """Stop the trainer process now (trainings in it fail)."""
        with self._lock:
            process, self._process = self._process, None
            self._cancel_idle_locked()
        if process is not None:
            process.stop()

    def _ensure_process_locked(self) -> _Process:
        if self._process is None or not self._process.is_alive():
            self._process = _Process(self._dispatch, self._exited)
            self.processes_started += 1
        return self._process

    def _dispatch(self, message: tuple) -> None:
        waiting = self._waiting.get(message[1])
        if waiting is not None:
            waiting[0].put(message)

    def _exited(self, process: _Process) -> None:
        with self._lock:
            if self._process is process:
                self._process = None
            # Only the jobs sent to this process: one that idled out can end after the next one has started.
            boxes = [box for box, owner in self._waiting.values() if owner is process]
        for box in boxes:
            box.put(("died", process.exit_reason))

    def _arm_idle_locked(self) -> None:
        self._cancel_idle_locked()
        self._idle_timer = threading.Timer(self.idle_seconds, self._idle_out)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def _cancel_idle_locked(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_out(self) -> None:
        with self._lock:
            if self._waiting or self._process is None:
                return
            process, self._process = self._process, None
            self._idle_timer = None
        _LOG.info("trainer idle for %.0f s: stopping it", self.idle_seconds)
        process.stop()

    # -- jobs -----------------------------------------------------------------------

    def run(self, spec: JobSpec, on_progress: Callable[[Progress], None], stop_event: threading.Event) -> Outcome:
        """Run ``spec`` in the trainer and wait for it; progress goes to ``on_progress`` on this thread.

        Setting ``stop_event`` stops the training after its current batch group. Never raises: a dead trainer
        is a failed :class:`Outcome` whose message says so.
        """
        box: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            self._cancel_idle_locked()
            process = self._ensure_process_locked()
            self._waiting[spec.job_id] = (box, process)
        try:
            if not process.send(("train", spec)):
                return Outcome(FAILED, error=DIED_MESSAGE.format(why=process.exit_reason))
            stop_sent = False
            while True:
                if stop_event.is_set() and not stop_sent:
                    stop_sent = process.send(("stop", spec.job_id))
                try:
                    message = box.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if message[0] == "progress":
                    on_progress(progress_from_message(message[2]))
                elif message[0] == "outcome":
                    return message[2]
                elif message[0] == "died":
                    return Outcome(FAILED, error=DIED_MESSAGE.format(why=message[1]))
        finally:
            with self._lock:
                self._waiting.pop(spec.job_id, None)
                if not self._waiting and self._process is not None:
                    self._arm_idle_locked()

