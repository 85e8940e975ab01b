"""A training job: one learner's request (:class:`Job`) and the computation identical requests share
(:class:`Training`), and what makes two trainings identical. The manager that runs them is
:mod:`cfcore.trainer.manager`. No Streamlit and no TensorFlow here.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cfcore.config import TrainConfig
from cfcore.runs.run import Progress, Run
from cfcore.trainer.spec import FINISHED_STATES, QUEUED, RUNNING


class JobError(RuntimeError):
    """A job cannot be accepted (the queue is full); the message says why."""


class AlreadyTrained(JobError):
    """The same owner asked again for a training that just finished for them (same data, settings and held-out
    ratings): ``name`` is the run they got, which a second copy would only duplicate."""

    def __init__(self, name: str):
        super().__init__(f"this exact training (same data, settings and seed) just finished here: it is {name}")
        self.name = name


@dataclass(eq=False, kw_only=True)
class TrainingState:
    """What a training is and has produced so far, kept the same way by the shared :class:`Training` and by each
    :class:`Job` watching it."""

    id: str
    config: TrainConfig
    dataset: Any = field(repr=False)
    split: Any = field(default=None, repr=False)
    name: str = ""
    identity: str = ""
    state: str = QUEUED
    progress: Progress | None = field(default=None, repr=False)
    history: list[dict] = field(default_factory=list, repr=False)
    run: Run | None = field(default=None, repr=False)
    error: str = ""
    time_limited: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    def record(self, progress: Progress) -> None:
        """Keep ``progress`` as the latest. Runs on the training's thread; swapping references is atomic, so a
        reader never sees half an update."""
        self.history = list(progress.history)
        self.progress = progress


@dataclass(eq=False)
class Job(TrainingState):
    """One training request and what it has produced so far.

    Attributes:
        id: Unique job id.
        owner: Id of the session that submitted it; only that owner can see it.
        state: "queued", "running", "done", "stopped" or "failed".
        progress: The latest :class:`~cfcore.runs.run.Progress`, or None before the first batch.
        history: Epoch rows so far (dicts with epoch, train_rmse, val_rmse, ...).
        run: The trained :class:`~cfcore.runs.run.Run` once finished (also after a stop).
        error: What went wrong, for a failed job; "" otherwise.
        time_limited: Whether the time limit stopped it (state "stopped", the run so far is kept).
        out_dir: Where the trainer saves the run folder (None: a scratch folder).
        purpose: What the submitting page asked it for ("train", "compare-layers", ...), to find it again.
        identity: What determines the result (:func:`training_identity`); identical requests share one training.
        joined: Whether it joined a training another request had started (or reused one just finished).
        reused: Whether its run is a copy of an identical training that had just finished.
        detached: Whether its owner stopped watching a training others still wait for (state "stopped", no run).

    A job is what one owner asked for. The computation is a :class:`Training` (no owner sees it) that every
    identical request watches: its progress is copied to each, and each gets its own copy of the run.
    """

    owner: str
    out_dir: Path | None = None
    purpose: str = ""
    joined: bool = False
    reused: bool = False
    detached: bool = False
    submitted_at: float = field(default_factory=time.time)
    _manager: Any = field(default=None, repr=False)  # the cfcore.trainer.manager.TrainingManager running it
    training: Training | None = field(default=None, repr=False)  # the computation this request watches

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

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
        """Ask the job to end: a queued job never starts; a running one stops after its current batch group. When
        others watch the same training, only this job leaves it (``detached``); the training goes on for them."""
        if self._manager is not None:
            self._manager.stop_job(self)
        else:
            self.stop_event.set()


@dataclass(eq=False)
class Training(TrainingState):
    """The computation identical requests share: one trainer run on one thread, watched by ``watchers`` (the
    :class:`Job` of each owner who asked for it). Internal to the manager.

    Attributes:
        id: Unique id (the trainer's job id; a scratch run folder is named by it).
        state: "queued", "running", "done", "stopped" or "failed".
        progress, history: The latest :class:`~cfcore.runs.run.Progress` and the epoch rows so far.
        run, error, time_limited: How it ended (see :class:`Job`).
    """

    watchers: list[Job] = field(default_factory=list, repr=False)


def training_identity(fingerprint: str, config: TrainConfig, val_rows) -> str:
    """What determines a training's result: the data's content, every setting (the seed too) and the held-out
    rows. The compiled training loop gives identical histories and weights for an identical identity
    (the joining tests check it), so identical requests can share one training."""
    digest = hashlib.sha256(fingerprint.encode())
    digest.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    digest.update(np.ascontiguousarray(np.asarray(val_rows, dtype=np.int64)).tobytes())
    return digest.hexdigest()
