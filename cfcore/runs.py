"""A trained run as plain data: its learned arrays, history, config and the data it was trained on.

The web server works from these alone: it never imports TensorFlow, Keras or h5py. A run folder (written by the
trainer with :func:`cfcore.training.save_run`) is read here with :func:`load_run`, the learned arrays from its
``embeddings.npz`` (:func:`cfcore.runfiles.read_run_files`). Only the trainer and the CLI's
``train`` hold a live Keras model, in :attr:`Run.model`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split, split_from_rows
from cfcore.embeddings import Embeddings
from cfcore.runfiles import RUN_FILES, RunError, RunFiles, read_run_files


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
        name: Its display name ("dot_with_bias #2").
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
    """Load a folder written by :func:`cfcore.training.save_run`, every file checked first (:mod:`cfcore.runfiles`).

    Args:
        directory: The run folder.
        files: Its files as :func:`cfcore.runfiles.read_run_files` already returned them (a run zip checks
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


def copy_run_folder(source: str | Path, target: str | Path) -> Path:
    """Copy a run folder to ``target`` under a temporary name, then rename it: never a half copy."""
    import os
    import shutil

    target = Path(target)
    temporary = target.with_name(f"{target.name}.tmp-copy")
    shutil.rmtree(temporary, ignore_errors=True)
    shutil.copytree(source, temporary)
    os.replace(temporary, target)
    return target


def content_hash(directory: str | Path) -> str:
    """SHA-256 over a run folder's files (names and bytes): the same run loaded twice has the same hash."""
    digest = hashlib.sha256()
    for name in RUN_FILES:
        data = (Path(directory) / name).read_bytes()
        digest.update(name.encode() + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


class RunCache:
    """Runs loaded from their folders, shared by the sessions of one server process.

    At most ``max_runs`` are kept, and one unused for ``idle_seconds`` is let go (a daemon thread looks once a
    minute), so memory goes back after a class leaves. Runs on the same data share one :class:`Dataset` object.
    Keyed by the folder's path: only a session that knows the workspace's id can name its folders.
    """

    def __init__(self, max_runs: int = 64, idle_seconds: float = 300.0):
        import threading
        import weakref
        from collections import OrderedDict

        self.max_runs, self.idle_seconds = int(max_runs), float(idle_seconds)
        self._lock = threading.Lock()
        self._runs: OrderedDict[tuple, tuple[Run, float]] = OrderedDict()
        self._datasets: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="cfcore-run-cache", daemon=True)
        self._sweeper.start()

    def get(self, folder: str | Path) -> Run:
        """The run in ``folder`` (loaded once; again when its files change).

        Raises:
            RunError: for a folder that is not a complete, valid run.
        """
        import time

        folder = Path(folder)
        try:
            key = (str(folder), (folder / "result.json").stat().st_mtime_ns)
        except OSError:
            raise RunError(f"{folder.name}: the run folder is gone or incomplete") from None
        with self._lock:
            if key in self._runs:
                run = self._runs[key][0]
                self._runs[key] = (run, time.monotonic())
                self._runs.move_to_end(key)
                return run
        run = load_run(folder)
        with self._lock:
            share = (run.dataset.fingerprint, run.dataset.source)
            shared = self._datasets.get(share)
            if shared is not None and len(shared.ratings) == len(run.dataset.ratings):
                run.dataset = shared
            else:
                self._datasets[share] = run.dataset
            self._runs[key] = (run, time.monotonic())
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
        return run

    def put(self, folder: str | Path, run: Run) -> None:
        """Keep ``run``, already loaded, as the run in ``folder`` (the manager hands over finished runs)."""
        import time

        folder = Path(folder)
        try:
            key = (str(folder), (folder / "result.json").stat().st_mtime_ns)
        except OSError:
            return
        with self._lock:
            share = (run.dataset.fingerprint, run.dataset.source)
            shared = self._datasets.get(share)
            if shared is not None:
                run = replace(run, dataset=shared)
            else:
                self._datasets[share] = run.dataset
            self._runs[key] = (run, time.monotonic())
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)

    def share(self, dataset: Dataset) -> Dataset:
        """The one :class:`Dataset` object this cache knows for ``dataset``'s data (``dataset`` itself, kept
        from now on, when it knows none): a session's chosen dataset and its runs then hold one copy."""
        with self._lock:
            share = (dataset.fingerprint, dataset.source)
            shared = self._datasets.get(share)
            if shared is not None and len(shared.ratings) == len(dataset.ratings):
                return shared
            self._datasets[share] = dataset
            return dataset

    def forget(self, folder: str | Path) -> None:
        with self._lock:
            for key in [key for key in self._runs if key[0] == str(folder)]:
                del self._runs[key]

    def sweep(self) -> None:
        import time

        now = time.monotonic()
        with self._lock:
            for key in [key for key, (_, used) in self._runs.items() if now - used > self.idle_seconds]:
                del self._runs[key]

    def __len__(self) -> int:
        return len(self._runs)

    def _sweep_forever(self) -> None:
        import time

        while True:
            time.sleep(min(60.0, self.idle_seconds))
            self.sweep()
