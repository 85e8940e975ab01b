"""The training manager: a process-wide runner of training jobs with a concurrency cap, a queue, stop, time limits
and owners.

The app keeps one :class:`TrainingManager` per server process. A job belongs to an owner (a workspace), not to
a browser tab: any tab of that workspace finds it again. Each running training has a thread here that waits on the
backend (the trainer process, :mod:`cfcore.trainer.local`), so page reruns and page switches never touch it.
Identical requests share one training (:func:`cfcore.trainer.jobs.training_identity`). No Streamlit and no
TensorFlow here.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cfcore import settings
from cfcore.config import TrainConfig, check_work
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split
from cfcore.runs.run import Run
from cfcore.trainer.backend import TrainFn, TrainingFailed
from cfcore.trainer.caps import CapError, JobCaps
from cfcore.trainer.jobs import AlreadyTrained, Job, JobError, Training, training_identity
from cfcore.trainer.spec import DONE, FAILED, RUNNING, STOPPED

_LOG = logging.getLogger(__name__)

DEFAULT_MAX_TRAININGS = settings.DEFAULT_MAX_TRAININGS

DEFAULT_MAX_QUEUE = 20

# A running job reports "epoch" at least this often, even within a long epoch (a heartbeat for its record).
HEARTBEAT_S = 30.0

# Finished trainings kept for an identical request to reuse at once.
FINISHED_RUNS_KEPT = 16

# Finished jobs nobody collected (a closed tab) are dropped after this long.
FINISHED_JOB_TTL_SECONDS = 3600.0


class TrainingManager:
    """Runs training jobs on background threads, at most ``max_concurrent`` at a time.

    Thread-safe. Jobs past the cap wait in a first-in-first-out queue of at
    most ``max_queue`` entries.

    Args:
        max_concurrent: How many jobs may train at once (>= 1).
        max_queue: How many may wait; :meth:`submit` raises :class:`JobError` beyond that.
        train_fn: Trains one :class:`Training`: called with ``(dataset, config, *, split, listeners, stop_event,
            job)`` (``job`` the training) on its thread, returns its :class:`~cfcore.runs.run.Run` (None when
            stopped before the first epoch ended); :func:`cfcore.trainer.backend.backend_train_fn` makes one for a
            backend. Tests pass fakes.
        on_change: Called with ``(job, event)`` for "started", "epoch" (an epoch ended, or :data:`HEARTBEAT_S`
            passed within one) and "finished", on the
            job's thread; its errors are logged. The app records a workspace's jobs with it.
        capacity: When given, how many jobs may train at once right now (a Ray cluster's CPUs); it replaces
            ``max_concurrent``.
        max_seconds: A running job is stopped after this long (``CFCORE_MAX_TRAIN_SECONDS``); its run so far
            is kept and the job says ``time_limited``.
        join: Whether identical requests share one training (and a just-finished one is reused). Only for a
            ``train_fn`` that is deterministic: the backends' compiled loop is (the joining tests check it).
        caps: The per-workspace (and per-client) cap over every kind of job, shared with the other job runners,
            and who is still there: a queued training none of whose owners has a page open is dropped. None: a
            cap of this manager's own.
    """

    def __init__(
        self,
        max_concurrent: int = DEFAULT_MAX_TRAININGS,
        max_queue: int = DEFAULT_MAX_QUEUE,
        train_fn: TrainFn | None = None,
        on_change: Callable[[Job, str], None] | None = None,
        max_seconds: float = settings.DEFAULT_MAX_TRAIN_SECONDS,
        capacity: Callable[[], int] | None = None,
        join: bool = False,
        caps: JobCaps | None = None,
    ):
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1. Received: max_concurrent={max_concurrent}")
        if max_queue < 0:
            raise ValueError(f"max_queue must be 0 or more. Received: max_queue={max_queue}")
        if train_fn is None:
            raise ValueError("train_fn is required: backend_train_fn(LocalTrainer(...), folder) makes one")
        self._max_concurrent = int(max_concurrent)
        self._capacity = capacity
        self.max_queue = int(max_queue)
        self.max_seconds = float(max_seconds)
        self.join = bool(join)
        self._train_fn = train_fn
        self._on_change = on_change
        # Reentrant: the caps count this manager's jobs (under this lock) while submit holds it.
        self._lock = threading.RLock()
        self.caps = caps or JobCaps()
        self.caps.count_with("training", self._active_owners)
        self._jobs: dict[str, Job] = {}  # requests, by id
        self._queue: list[Job] = []  # trainings waiting
        self._running: set[Job] = set()  # trainings running
        # identity -> a finished training's run, and the owners who have it (owner -> their run's name)
        self._finished: OrderedDict[str, tuple[Run, dict[str, str]]] = OrderedDict()
        self._changed = threading.Condition()  # notified whenever a job starts, ends an epoch or finishes

    @property
    def max_concurrent(self) -> int:
        """How many trainings may run at once (the backend's capacity when it has one)."""
        if self._capacity is not None:
            try:
                return max(1, int(self._capacity()))
            except Exception:  # a backend that cannot say keeps the configured cap
                _LOG.exception("asking the backend for its capacity failed")
        return self._max_concurrent

    # -- submitting and looking up ------------------------------------------------

    def submit(
        self, dataset: Dataset, config: TrainConfig, owner: str, *, split: Split | None = None, name: str = "",
        out_dir: Path | None = None, purpose: str = "", reuse: bool = True,
    ) -> Job:
        """Queue a training for ``owner``; it starts at once when under the cap.

        An identical request (same data, settings and held-out rows) joins the training already running or
        queued for it; with ``reuse``, one that just finished is copied at once (the job is "done", ``reused``).

        Args:
            dataset: The data to train on.
            config: Training settings; validated here, so a bad value fails now, not on the thread.
            owner: The submitting workspace's id.
            split: Optional precomputed split (otherwise made from the config).
            name: A display name for the job.
            out_dir: Where the run folder is saved (see :class:`Job`).
            purpose: See :class:`Job`.
            reuse: Whether a just-finished identical run may be reused.

        Returns:
            The :class:`Job` (state "running", "queued", or "done" when reused).

        Raises:
            ConfigError: for an out-of-bounds setting or a model too large for the server.
            JobError: when the queue is full, or ``owner`` already has a training running and one waiting.
        """
        check_work(config, dataset.n_users, dataset.n_movies)
        identity = ""
        if self.join:
            from cfcore.data.split import split_dataset

            split = split or split_dataset(dataset, config.val_fraction, config.seed)
            identity = training_identity(dataset.fingerprint, config, split.val_rows)
        job = Job(id=uuid.uuid4().hex, owner=str(owner), config=config, dataset=dataset, split=split,
                  name=name or config.model, out_dir=out_dir, purpose=purpose, identity=identity, _manager=self)
        self._drop_abandoned()
        with self._lock:
            self._prune_locked()
            try:
                self.caps.check(str(owner), "training")
            except CapError as err:
                raise JobError(str(err)) from None
            finished = self._finished.get(identity) if identity and reuse else None
            if finished is not None and str(owner) in finished[1]:
                raise AlreadyTrained(finished[1][str(owner)])
            if finished is not None:
                finished[1][str(owner)] = job.name
            training = None if finished else self._training_for_locked(identity)
            if finished is None and training is None:
                if len(self._running) >= self.max_concurrent and len(self._queue) >= self.max_queue:
                    raise JobError(
                        f"the training queue is full ({len(self._queue)} waiting, {len(self._running)} running); "
                        "try again when a run has finished"
                    )
                training = Training(id=uuid.uuid4().hex, config=config, dataset=dataset, split=split, name=job.name,
                                    identity=identity)
                self._queue.append(training)
            elif training is not None:
                job.joined = True
            self._jobs[job.id] = job
            if training is not None:
                job.training = training
                training.watchers.append(job)
                job.state, job.started_at = training.state, training.started_at
                job.history, job.progress = list(training.history), training.progress
                self._start_next_locked()
        if finished is not None:
            self._hand_over(job, finished[0], reused=True)
        return job

    def _active_owners(self) -> list[str]:
        with self._lock:
            return [job.owner for job in self._jobs.values() if job.active]

    def _drop_abandoned(self) -> None:
        """Stop the queued trainings none of whose owners has had a page open lately (closed tabs): they would
        hold the queue for visitors who are there."""
        with self._lock:
            gone = [w for t in self._queue for w in t.watchers
                    if not any(self.caps.present(other.owner) for other in t.watchers)]
        for job in gone:
            _LOG.info("dropping queued training %s: its workspace has no page open", job.id[:8])
            self.stop_job(job)

    def _training_for_locked(self, identity: str) -> Training | None:
        if not identity:
            return None
        return next((t for t in [*self._running, *self._queue] if t.identity == identity and not t.stop_requested),
                    None)

    def get(self, job_id: str | None, owner: str) -> Job | None:
        """The job with this id if ``owner`` submitted it, else None (other owners' jobs are invisible)."""
        with self._lock:
            job = self._jobs.get(job_id or "")
        return job if job is not None and job.owner == owner else None

    def jobs(self, owner: str) -> list[Job]:
        """This owner's jobs, oldest first."""
        with self._lock:
            return [job for job in self._jobs.values() if job.owner == owner]

    def active_jobs(self) -> list[Job]:
        """Every owner's queued and running jobs (for the server's own bookkeeping, never shown to a session)."""
        with self._lock:
            return [job for job in self._jobs.values() if job.active]

    def release(self, job_id: str, owner: str) -> None:
        """Forget a finished job once its owner has taken the run."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.owner == owner and job.finished:
                del self._jobs[job_id]

    def queue_position(self, job: Job) -> int:
        """1-based place of ``job``'s training in the wait queue; 0 when it is not waiting."""
        training = job.training
        with self._lock:
            for position, queued in enumerate(self._queue, start=1):
                if queued is training:
                    return position
        return 0

    def counts(self) -> dict[str, int]:
        """How many trainings are running and waiting, across all owners (for capacity messages)."""
        with self._lock:
            return {"running": len(self._running), "queued": len(self._queue)}

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Block until ``job`` has finished; False on timeout. For tests and scripts."""
        with self._changed:
            return self._changed.wait_for(lambda: job.finished, timeout)

    def wait_for_change(self, jobs: list[Job], timeout: float) -> bool:
        """Block until one of ``jobs`` changes state (starts, finishes) or ends an epoch; False after ``timeout``
        seconds without. A live page waits here, so it shows each new epoch and the result the moment they exist."""
        def seen() -> list[tuple[str, int]]:
            return [(job.state, len(job.history)) for job in jobs]

        before = seen()
        with self._changed:
            return self._changed.wait_for(lambda: seen() != before, timeout)

    # -- internals ------------------------------------------------------------------

    def stop_job(self, job: Job) -> None:
        """What :meth:`Job.stop <cfcore.trainer.jobs.Job.stop>` asks for (see there)."""
        training = job.training
        detached = False
        with self._lock:
            if training is None or job.finished:
                job.stop_event.set()
                return
            job.stop_event.set()
            others = [w for w in training.watchers if w is not job]
            if others:  # the others still want it: this job leaves, the training goes on
                training.watchers.remove(job)
                job.state, job.detached, job.finished_at = STOPPED, True, time.time()
                detached = True
            else:
                training.stop_event.set()
                if training in self._queue:
                    self._queue.remove(training)
                    training.state = job.state = STOPPED
                    training.finished_at = job.finished_at = time.time()
                    detached = True
        if detached:
            self._notify(job, "finished")

    def _start_next_locked(self) -> None:
        while len(self._running) < self.max_concurrent:
            # First in, first out, skipping trainings whose every watcher already has a training running.
            busy = {w.owner for t in self._running for w in t.watchers}
            training = next((t for t in self._queue if any(w.owner not in busy for w in t.watchers)), None)
            if training is None:
                return
            self._queue.remove(training)
            training.state, training.started_at = RUNNING, time.time()
            for watcher in training.watchers:
                watcher.state, watcher.started_at = RUNNING, training.started_at
            self._running.add(training)
            thread = threading.Thread(target=self._work, args=(training,), name=f"cfcore-train-{training.id[:8]}",
                                      daemon=True)
            thread.start()

    def _watchers_of(self, training: Training) -> list[Job]:
        with self._lock:
            return list(training.watchers)

    def _work(self, training: Training) -> None:
        run = None
        error = ""
        timer = threading.Timer(self.max_seconds, self._time_up, args=(training,))
        timer.daemon = True
        timer.start()
        for watcher in self._watchers_of(training):
            self._notify(watcher, "started")
        epochs_seen, last_notice = [0], [time.monotonic()]

        def on_progress(progress) -> None:
            training.record(progress)
            watchers = self._watchers_of(training)
            for watcher in watchers:
                watcher.record(progress)
            if len(progress.history) > epochs_seen[0] or time.monotonic() - last_notice[0] > HEARTBEAT_S:
                epochs_seen[0] = len(progress.history)
                last_notice[0] = time.monotonic()
                for watcher in watchers:
                    self._notify(watcher, "epoch")

        try:
            run = self._train_fn(training.dataset, training.config, split=training.split, listeners=[on_progress],
                                 stop_event=training.stop_event, job=training)
        except TrainingFailed as err:
            error = str(err)
        except Exception as err:  # a failed run must never take the manager or the app down
            _LOG.exception("training %s failed", training.id)
            error = f"{type(err).__name__}: {err}"
        finally:
            timer.cancel()
        if run is not None:
            training.history = [dict(row) for row in run.result.history]
        training.run, training.error = run, error
        complete = run is not None and not error and not training.stop_event.is_set() and \
            not run.result.stopped_by_user
        with self._lock:
            watchers = list(training.watchers)
            self._running.discard(training)
            kept = complete and bool(training.identity)
            if kept:
                self._finished[training.identity] = (run, {w.owner: w.name for w in watchers if not w.detached})
            dropped = [self._finished.popitem(last=False)[1][0]
                       for _ in range(len(self._finished) - FINISHED_RUNS_KEPT)]
            training.state = FAILED if error else DONE if complete else STOPPED
            training.finished_at = time.time()
        for watcher in watchers:
            self._hand_over(watcher, run, error=error, time_limited=training.time_limited)
        # The training's own folder is scratch: every watcher has its copy now.
        for old in dropped + ([] if kept or run is None else [run]):
            _remove_scratch(old)
        self._drop_abandoned()
        with self._lock:
            self._start_next_locked()

    def _hand_over(self, job: Job, run: Run | None, *, error: str = "", time_limited: bool = False,
                   reused: bool = False) -> None:
        """Give ``job`` its own copy of a finished training's run (in its own folder), then mark it finished."""
        path = getattr(run, "path", None)
        if path is not None and job.out_dir is not None and Path(path) != Path(job.out_dir):
            try:
                from cfcore.runs.folder import copy_run_folder

                copy_run_folder(Path(path), Path(job.out_dir))
                run = replace(run, path=Path(job.out_dir), name=job.name)
            except OSError as err:
                error, run = f"could not save the run ({err.strerror or err})", None
        if run is not None:
            job.history = [dict(row) for row in run.result.history]
            job.run = run
        job.error, job.time_limited, job.reused = error, time_limited, reused
        job.joined = job.joined or reused
        self._notify(job, "finished")  # before the state changes: whoever sees it finished sees it recorded
        with self._lock:
            if error:
                job.state = FAILED
            elif job.stop_event.is_set() or run is None or run.result.stopped_by_user or time_limited:
                job.state = STOPPED
            else:
                job.state = DONE
            job.finished_at = time.time()
        self._wake()

    def _notify(self, job: Job, event: str) -> None:
        if self._on_change is not None:
            try:
                self._on_change(job, event)
            except Exception:  # bookkeeping must never break a training
                _LOG.exception("on_change(%s) failed for job %s", event, job.id)
        self._wake()

    def _wake(self) -> None:
        """Wake :meth:`wait` and :meth:`wait_for_change`: a job changed."""
        with self._changed:
            self._changed.notify_all()

    @staticmethod
    def _time_up(training: Training) -> None:
        if not training.finished:
            training.time_limited = True
            training.stop_event.set()

    def _prune_locked(self) -> None:
        now = time.time()
        stale = [
            job_id for job_id, job in self._jobs.items()
            if job.finished and job.finished_at is not None and now - job.finished_at > FINISHED_JOB_TTL_SECONDS
        ]
        for job_id in stale:
            del self._jobs[job_id]


def _remove_scratch(run) -> None:
    import shutil

    path = getattr(run, "path", None)
    if path is not None and Path(path).parent.name == "scratch-runs":
        shutil.rmtree(path, ignore_errors=True)
