"""Background training jobs: a process-wide manager with a concurrency cap, a queue, stop and owners.

The app keeps one :class:`TrainingManager` per process; each browser session
holds only job ids and its owner id. Training runs on worker threads, so page
reruns and page switches never touch it. No Streamlit here, and TensorFlow is
imported only on the worker thread, when the first job starts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cfcore import settings
from cfcore.config import TrainConfig, check_work
from cfcore.heap import HeapJanitor

if TYPE_CHECKING:  # the real imports would pull in TensorFlow
    from cfcore.data import Dataset, Split
    from cfcore.runs import Progress, Run

_LOG = logging.getLogger(__name__)

DEFAULT_MAX_TRAININGS = settings.DEFAULT_MAX_TRAININGS
DEFAULT_MAX_QUEUE = 20
# Per owner (a browser session today): one training running and one waiting, whatever page asked. A closed tab's
# trainings used to hold every slot while other visitors waited.
MAX_RUNNING_PER_OWNER = 1
MAX_QUEUED_PER_OWNER = 1
# Finished jobs nobody collected (a closed tab) are dropped after this long.
FINISHED_JOB_TTL_SECONDS = 3600.0

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
FINISHED_STATES = (DONE, STOPPED, FAILED)

TrainFn = Callable[..., "Run"]


class JobError(RuntimeError):
    """A job cannot be accepted (the queue is full); the message says why."""


_warm_lock = threading.Lock()
_warm_started = False


def warm_up() -> None:
    """Import the training engine (TensorFlow) on a background thread, once per process.

    The Train page calls this so that pressing Train does not wait seconds for
    the import; other pages never pay for it.
    """
    global _warm_started
    with _warm_lock:
        if _warm_started:
            return
        _warm_started = True

    def _import() -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up notes out of server logs
        try:
            import cfcore.training  # noqa: F401
        except Exception:  # the first job will report the real error
            _LOG.exception("warming up the training engine failed")

    threading.Thread(target=_import, name="cfcore-warm-up", daemon=True).start()


@dataclass(eq=False)
class Job:
    """One training request and what it has produced so far.

    Attributes:
        id: Unique job id.
        owner: Id of the session that submitted it; only that owner can see it.
        state: "queued", "running", "done", "stopped" or "failed".
        progress: The latest :class:`~cfcore.training.Progress`, or None before the first batch.
        history: Epoch rows so far (dicts with epoch, train_rmse, val_rmse, ...).
        run: The trained :class:`~cfcore.training.Run` once finished (also after a stop).
        error: What went wrong, for a failed job; "" otherwise.
        time_limited: Whether the time limit stopped it (state "stopped", the run so far is kept).
    """

    id: str
    owner: str
    config: TrainConfig
    dataset: Any = field(repr=False)
    split: Any = field(default=None, repr=False)
    name: str = ""
    state: str = QUEUED
    progress: Progress | None = field(default=None, repr=False)
    history: list[dict] = field(default_factory=list, repr=False)
    run: Run | None = field(default=None, repr=False)
    error: str = ""
    time_limited: bool = False
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    _stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    _manager: TrainingManager | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def stop_requested(self) -> bool:
        return self._stop_event.is_set()

    @property
    def elapsed(self) -> float:
        """Seconds spent running (0 while queued)."""
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at

    def queue_position(self) -> int:
        """1 for the next job to start, 2 for the one after, ...; 0 when not queued."""
        if self._manager is None:
            return 0
        return self._manager.queue_position(self)

    def stop(self) -> None:
        """Ask the job to end: a queued job never starts; a running one stops after its current batch group."""
        self._stop_event.set()
        if self._manager is not None:
            self._manager._cancel_if_queued(self)

    def _on_progress(self, progress: Progress) -> None:
        # Runs on the training thread; swapping references is atomic, so readers never see half an update.
        self.history = list(progress.history)
        self.progress = progress


def _default_train(dataset: Dataset, config: TrainConfig, *, split: Split | None, listeners, stop_event) -> Run:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cfcore.training import train  # lazy: TensorFlow loads on the worker thread, not the page's

    return train(dataset, config, split=split, listeners=listeners, stop_event=stop_event)


class TrainingManager:
    """Runs training jobs on background threads, at most ``max_concurrent`` at a time.

    Thread-safe. Jobs past the cap wait in a first-in-first-out queue of at
    most ``max_queue`` entries.

    Args:
        max_concurrent: How many jobs may train at once (>= 1).
        max_queue: How many may wait; :meth:`submit` raises :class:`JobError` beyond that.
        train_fn: The training function (``cfcore.training.train``'s signature); replaceable in tests.
        janitor: Told when a job ends or a run is let go while no other job trains or waits, so freed
            memory goes back to the OS soon.
        max_seconds: A running job is stopped after this long (``CFCORE_MAX_TRAIN_SECONDS``); its run so far
            is kept and the job says ``time_limited``.
    """

    def __init__(
        self,
        max_concurrent: int = DEFAULT_MAX_TRAININGS,
        max_queue: int = DEFAULT_MAX_QUEUE,
        train_fn: TrainFn | None = None,
        janitor: HeapJanitor | None = None,
        max_seconds: float = settings.DEFAULT_MAX_TRAIN_SECONDS,
    ):
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1. Received: max_concurrent={max_concurrent}")
        if max_queue < 0:
            raise ValueError(f"max_queue must be 0 or more. Received: max_queue={max_queue}")
        self.max_concurrent = int(max_concurrent)
        self.max_queue = int(max_queue)
        self.max_seconds = float(max_seconds)
        self._train_fn = train_fn or _default_train
        self._janitor = janitor
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: list[Job] = []
        self._running: set[str] = set()

    # -- submitting and looking up ------------------------------------------------

    def submit(
        self, dataset: Dataset, config: TrainConfig, owner: str, *, split: Split | None = None, name: str = ""
    ) -> Job:
        """Queue a training job; it starts at once when under the cap.

        Args:
            dataset: The data to train on.
            config: Training settings; validated here, so a bad value fails now, not on the thread.
            owner: The submitting session's id.
            split: Optional precomputed split (otherwise made from the config).
            name: A display name for the job.

        Returns:
            The :class:`Job` (state "running" or "queued").

        Raises:
            ConfigError: for an out-of-bounds setting or a model too large for the server.
            JobError: when the queue is full, or ``owner`` already has a training running and one waiting.
        """
        check_work(config, dataset.n_users, dataset.n_movies)
        job = Job(id=uuid.uuid4().hex, owner=str(owner), config=config, dataset=dataset, split=split,
                  name=name or config.model, _manager=self)
        with self._lock:
            self._prune_locked()
            mine = [other for other in self._jobs.values() if other.owner == str(owner) and other.active]
            running = sum(other.state == RUNNING for other in mine)
            if running >= MAX_RUNNING_PER_OWNER and len(mine) - running >= MAX_QUEUED_PER_OWNER:
                raise JobError(
                    "you already have a training running and one waiting; stop one or let it finish first"
                )
            if len(self._running) >= self.max_concurrent and len(self._queue) >= self.max_queue:
                raise JobError(
                    f"the training queue is full ({len(self._queue)} waiting, {len(self._running)} running); "
                    "try again when a run has finished"
                )
            self._jobs[job.id] = job
            self._queue.append(job)
            self._start_next_locked()
        return job

    def get(self, job_id: str | None, owner: str) -> Job | None:
        """The job with this id if ``owner`` submitted it, else None (other sessions' jobs are invisible)."""
        with self._lock:
            job = self._jobs.get(job_id or "")
        return job if job is not None and job.owner == owner else None

    def jobs(self, owner: str) -> list[Job]:
        """This owner's jobs, oldest first."""
        with self._lock:
            return [job for job in self._jobs.values() if job.owner == owner]

    def release(self, job_id: str, owner: str) -> None:
        """Forget a finished job once its owner has taken the run (frees the memory it holds)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.owner == owner and job.finished:
                del self._jobs[job_id]
        self._poke_janitor_when_idle()

    def queue_position(self, job: Job) -> int:
        """1-based place of ``job`` in the wait queue; 0 when it is not waiting."""
        with self._lock:
            for position, queued in enumerate(self._queue, start=1):
                if queued is job:
                    return position
        return 0

    def counts(self) -> dict[str, int]:
        """How many jobs are running and waiting, across all owners (for capacity messages)."""
        with self._lock:
            return {"running": len(self._running), "queued": len(self._queue)}

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Block until ``job`` has finished; False on timeout. For tests and scripts."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not job.finished:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- internals ------------------------------------------------------------------

    def _cancel_if_queued(self, job: Job) -> None:
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job.state = STOPPED
                job.finished_at = time.time()

    def _start_next_locked(self) -> None:
        while len(self._running) < self.max_concurrent:
            # First in, first out, skipping owners who already have a training running.
            busy = {self._jobs[job_id].owner for job_id in self._running}
            job = next((queued for queued in self._queue if queued.owner not in busy), None)
            if job is None:
                return
            self._queue.remove(job)
            job.state = RUNNING
            job.started_at = time.time()
            self._running.add(job.id)
            thread = threading.Thread(target=self._work, args=(job,), name=f"cfcore-train-{job.id[:8]}", daemon=True)
            thread.start()

    def _work(self, job: Job) -> None:
        run = None
        error = ""
        timer = threading.Timer(self.max_seconds, self._time_up, args=(job,))
        timer.daemon = True
        timer.start()
        try:
            run = self._train_fn(
                job.dataset, job.config, split=job.split, listeners=[job._on_progress], stop_event=job._stop_event
            )
        except Exception as err:  # a failed run must never take the manager or the app down
            _LOG.exception("training job %s failed", job.id)
            error = f"{type(err).__name__}: {err}"
        finally:
            timer.cancel()
        with self._lock:
            if run is not None:
                job.history = [dict(row) for row in run.result.history]
                job.run = run
            job.error = error
            if error:
                job.state = FAILED
            elif job._stop_event.is_set() or getattr(run.result, "stopped_by_user", False):
                job.state = STOPPED
            else:
                job.state = DONE
            job.finished_at = time.time()
            self._running.discard(job.id)
            self._start_next_locked()
        self._poke_janitor_when_idle()  # the job's graphs and temporaries are garbage now

    @staticmethod
    def _time_up(job: Job) -> None:
        if not job.finished:
            job.time_limited = True
            job._stop_event.set()

    def busy(self) -> bool:
        """Whether any job is training or waiting to."""
        with self._lock:
            return bool(self._running or self._queue)

    def _poke_janitor_when_idle(self) -> None:
        # Not while others train: a pass holds the GIL for a while and every page would wait for it.
        if self._janitor is not None and not self.busy():
            self._janitor.poke()

    def _prune_locked(self) -> None:
        now = time.time()
        stale = [
            job_id for job_id, job in self._jobs.items()
            if job.finished and job.finished_at is not None and now - job.finished_at > FINISHED_JOB_TTL_SECONDS
        ]
        for job_id in stale:
            del self._jobs[job_id]
