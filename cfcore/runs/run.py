"""A trained run as plain data: its learned arrays, history, config and the data it was trained on.

The web server works from these alone: it never imports TensorFlow, Keras or h5py. A run folder (written by the
trainer with :func:`cfcore.training.save.save_run`) is read here with :func:`load_run`, the learned arrays from its
``embeddings.npz`` (:func:`cfcore.runs.folder.read_run_files`). Only the trainer and the CLI's
``train`` hold a live Keras model, in :attr:`Run.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split, split_from_rows
from cfcore.runs.embeddings import Embeddings
from cfcore.runs.errors import RunError
from cfcore.runs.folder import RunFiles, read_run_files


@dataclass
class Progress:
    """What a progress listener receives.

    ``stage`` is "batch" (within an epoch) or "epoch" (an epoch just ended).
    ``epoch`` counts from 1; ``step`` is batches done in the current epoch.
    """

    stage: str
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    history: list[dict]


@dataclass
class TrainResult:
    """Outcome of a training. ``history`` has one dict per epoch run."""

    config: TrainConfig
    history: list[dict]
    best_epoch: int
    best_val_rmse: float
    train_seconds: float
    stopped_by_user: bool
    stopped_early: bool
    n_users: int
    n_movies: int
    n_train: int
    n_val: int

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    def summary(self) -> dict:
        """The CLI's JSON object."""
        return {
            "model": self.config.model,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "best_val_rmse": self.best_val_rmse,
            "val_rmse": [row["val_rmse"] for row in self.history],
            "train_rmse": [row["train_rmse"] for row in self.history],
            "train_seconds": self.train_seconds,
            "n_users": self.n_users,
            "n_movies": self.n_movies,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "stopped_by_user": self.stopped_by_user,
            "stopped_early": self.stopped_early,
            "config": self.config.to_dict(),
        }


@dataclass
class Run:
    """A trained model's arrays with the data it was trained on.

    Attributes:
        embeddings: The learned tables.
        dataset: The ratings it was trained on (with their movies).
        split: Which ratings were held out.
        result: History and outcome.
        path: The run folder on disk (model.keras, history, ...), or None for a run not saved yet.
        name: Its display name ("Dot + biases #2").
        model: The live Keras model, only where the run was trained in this process (trainer, CLI).
    """

    embeddings: Embeddings
    dataset: Dataset
    split: Split
    result: TrainResult
    path: Path | None = None
    name: str = ""
    model: Any = None

    @property
    def config(self) -> TrainConfig:
        return self.result.config


def load_run(directory: str | Path, files: RunFiles | None = None) -> Run:
    """Load a folder written by :func:`cfcore.training.save.save_run`, every file checked first
    (:mod:`cfcore.runs.folder`).

    Args:
        directory: The run folder.
        files: Its files as :func:`cfcore.runs.folder.read_run_files` already returned them (a run zip checks
            them while extracting); None reads and checks them here.

    Raises:
        RunError: if the folder is missing files, they break the run schema or do not fit together.
    """
    folder = Path(directory)
    try:
        files = files or read_run_files(folder)
    except RunError as err:
        text = str(err)
        raise RunError(text if text.startswith((str(folder), "run directory")) else f"{folder}: {text}") from None
    index_to_user, index_to_movie = files.index_to_user, files.movies["movieId"].to_numpy(dtype=np.int64)
    ratings = pd.DataFrame(
        {
            "userId": index_to_user[files.user],
            "movieId": index_to_movie[files.movie],
            "rating": files.rating,
            "user": files.user,
            "movie": files.movie,
        }
    )
    dataset = Dataset(ratings, files.movies, index_to_user, index_to_movie, source=files.source)
    split = split_from_rows(ratings, files.val_rows, files.config.val_fraction, files.config.seed)
    result = TrainResult(
        config=files.config,
        history=files.history,
        best_epoch=files.best_epoch,
        best_val_rmse=files.best_val_rmse,
        train_seconds=files.train_seconds,
        stopped_by_user=files.stopped_by_user,
        # Runs saved before the fix said "stopped early" when patience ran out in the last epoch.
        stopped_early=files.stopped_early and len(files.history) < files.config.epochs,
        n_users=len(index_to_user),
        n_movies=len(index_to_movie),
        n_train=split.n_train,
        n_val=split.n_val,
    )
    return Run(files.embeddings, dataset, split, result, path=folder, name=files.name)
