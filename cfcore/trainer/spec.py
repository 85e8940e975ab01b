"""What crosses between the web server and the trainer: a job's spec, its progress events and its outcome.

Plain data only (dicts, lists, numbers, one small array of row numbers), so the same messages serve the local
process backend and a Ray cluster. The dataset travels as a reference: a file the trainer reads
(:mod:`cfcore.data.dataset_file`) and the fingerprint that names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cfcore.runs.run import Progress

# A job's states: waiting for a trainer, training, and the three ways it ends (an Outcome's).
QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
FINISHED_STATES = (DONE, STOPPED, FAILED)
DIED_MESSAGE = ("the trainer stopped unexpectedly ({why}); the epochs so far are shown. Press Train to try again: "
                "a fresh trainer starts")


@dataclass
class JobSpec:
    """One training for the trainer: settings, data, held-out rows and where to save the run.

    Attributes:
        job_id: The job's id (the server's).
        config: ``TrainConfig.to_dict()``.
        dataset_file: A file written by :func:`cfcore.data.dataset_file.save_dataset_file`.
        fingerprint: The dataset's fingerprint (the trainer caches datasets by it).
        val_rows: Row numbers of the validation ratings.
        split_seed: The seed the split was made with (recorded with the run).
        out_dir: The run folder to create; it is written under a temporary name and renamed when complete.
        name: The run's display name, saved in ``result.json``.
    """

    job_id: str
    config: dict
    dataset_file: str
    fingerprint: str
    val_rows: np.ndarray = field(repr=False)
    split_seed: int
    out_dir: str
    name: str = ""


@dataclass
class Outcome:
    """How a job ended: ``state`` is "done", "stopped" or "failed"; ``folder`` the saved run folder (None when
    nothing was saved: a failure, or a stop before the first epoch ended); ``error`` says what went wrong."""

    state: str
    folder: str | None = None
    error: str = ""
    time_limited: bool = False


def progress_to_message(progress: Progress) -> dict:
    return {"stage": progress.stage, "epoch": progress.epoch, "epochs": progress.epochs, "step": progress.step,
            "steps_per_epoch": progress.steps_per_epoch, "history": progress.history}


def progress_from_message(message: dict) -> Progress:
    return Progress(**message)
