"""One keyed background runner for the server's computations other than training: t-SNE maps
(:mod:`cfcore.analysis.projection`) and the one-hot measurement (:mod:`cfcore.analysis.onehot`).

A request names its result by a key: the job computed or under way for that key is returned, else a new one
starts on a thread (which runs a child process through :func:`cfcore.child.run_module`), counted under the
requesting workspace's cap on jobs of every kind (:class:`cfcore.trainer.caps.JobCaps`, shared with the
trainings). At most ``max_running`` run at once; the last ``keep`` finished ones are remembered. Thread-safe;
a request never waits for a computation.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from cfcore.trainer.caps import JobCaps
from cfcore.trainer.spec import DONE, FAILED, QUEUED, RUNNING

WAITING = "waiting"  # not started and not kept: another job of this kind runs (``when_busy="refuse"``)


class TooManyJobs(RuntimeError):
    """As many jobs of this kind are unfinished as a request allows; ``unfinished`` says how many."""

    def __init__(self, unfinished: int):
        super().__init__(f"{unfinished} jobs are unfinished")
        self.unfinished = unfinished


@dataclass
class BackgroundJob:
    """One computation under way or done.

    Attributes:
        key: What it computes (equal keys, equal results).
        owner: The workspace that asked for it.
        state: "queued", "running", "done" or "failed" (or "waiting": see :data:`WAITING`).
        fraction: Progress from 0 to 1; ``stage`` says what it is doing, in words.
        result: What the work returned, once done; ``error`` why it failed.
        started, seconds: When it started running (``time.time()``) and how long it ran.
    """

    key: Hashable
    owner: str = ""
    state: str = QUEUED
    fraction: float = 0.0
    stage: str = ""
    result: Any = field(default=None, repr=False)
    error: str = ""
    started: float = 0.0
    seconds: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED)


class BackgroundJobs:
    """Keyed jobs of one ``kind`` ("map", "measurement"), each computed by ``work(job, data)`` on a thread.

    Args:
        kind: The kind the workspace caps count these jobs as.
        work: Computes a job's result from the request's ``data``; may update ``job.fraction`` and ``job.stage``;
            an exception fails the job with its message.
        caps: The server's caps (one object shared by every kind of job).
        max_running: How many run at once; the others wait in order ("queued").
        keep: Finished jobs remembered, the oldest let go first.
        when_busy: "queue" (a new job waits for a free slot) or "refuse" (while one runs, a request for another
            key gets a job in state :data:`WAITING` that is not kept: ask again later).
        retry_failed: Whether a request for a key whose job failed starts it again (else :meth:`forget` it).
        before_start: Called with a job as it leaves the queue; an exception fails it without running it.
    """

    def __init__(self, kind: str, work: Callable[[BackgroundJob, Any], Any], caps: JobCaps | None = None, *,
                 max_running: int = 1, keep: int = 16, when_busy: str = "queue", retry_failed: bool = False,
                 before_start: Callable[[BackgroundJob], None] | None = None, first_stage: str = ""):
        if when_busy not in ("queue", "refuse"):
            raise ValueError(f"when_busy must be 'queue' or 'refuse'. Received: {when_busy!r}")
        self.kind, self.work, self.keep = kind, work, int(keep)
        self.when_busy, self.retry_failed, self.before_start = when_busy, bool(retry_failed), before_start
        self.first_stage = first_stage
        self.caps = caps or JobCaps()
        self.caps.count_with(kind, self.active_owners)
        # Held by each running job (a test holds one to keep the others queued).
        self.slots = threading.Semaphore(max_running)
        self._jobs: OrderedDict[Hashable, BackgroundJob] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, key: Hashable) -> BackgroundJob | None:
        """The job for ``key`` if one is remembered (a failed one only when failures are not retried)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or (self.retry_failed and job.state == FAILED):
                return None
            self._jobs.move_to_end(key)
            return job

    def unfinished(self) -> int:
        with self._lock:
            return sum(not job.finished for job in self._jobs.values())

    def start(self, key: Hashable, owner: str, data: Any = None, busy_stage: str = "",
              max_unfinished: int | None = None) -> BackgroundJob:
        """A new job for ``key`` on behalf of ``owner``, started (or queued) now.

        Raises:
            cfcore.trainer.caps.CapError: when ``owner`` has as many jobs under way as it may.
            TooManyJobs: when ``max_unfinished`` jobs of every owner are unfinished already (counted and added
                under one lock, so requests at once cannot pass it).
        """
        if self.when_busy == "refuse" and self.unfinished():
            return BackgroundJob(key, owner, state=WAITING, stage=busy_stage)
        self.caps.check(owner, self.kind)
        with self._lock:
            waiting = sum(not job.finished for job in self._jobs.values())
            if max_unfinished is not None and waiting >= max_unfinished:
                raise TooManyJobs(waiting)
            job = BackgroundJob(key, owner, stage=self.first_stage)
            self._jobs[key] = job
            self._jobs.move_to_end(key)
            finished = [name for name, other in self._jobs.items() if other.finished]  # oldest first
            for name in finished[:max(0, len(self._jobs) - self.keep)]:
                self._jobs.pop(name)
        threading.Thread(target=self._run, args=(job, data), name=f"cfcore-{self.kind}", daemon=True).start()
        return job

    def get(self, key: Hashable) -> BackgroundJob | None:
        """The job with this key, if it is still remembered."""
        with self._lock:
            return self._jobs.get(key)

    def forget(self, key: Hashable) -> None:
        """Drop a finished job (a failed one, to try again)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.finished:
                self._jobs.pop(key)

    def active_owners(self) -> list[str]:
        """The owner of every job not finished (what the caps count)."""
        with self._lock:
            return [job.owner for job in self._jobs.values() if not job.finished]

    def _run(self, job: BackgroundJob, data: Any) -> None:
        with self.slots:
            job.state, job.started = RUNNING, time.time()
            try:
                if self.before_start is not None:
                    self.before_start(job)
                job.result = self.work(job, data)
                job.state, job.fraction, job.stage = DONE, 1.0, "done"
            except Exception as err:  # the page shows any failure as a message, with a retry
                job.error = str(err) or type(err).__name__
                job.state, job.stage = FAILED, "failed"
            finally:
                job.seconds = time.time() - job.started
