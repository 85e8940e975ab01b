"""Training engine: a validated config, ``train()`` with progress and stop, and run directories."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from cfcore.config import BOUNDS, PRESETS, ConfigError, TrainConfig, preset
from cfcore.data import Dataset, Split, split_dataset
from cfcore.models import build_model, load_model


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
    """Outcome of :func:`train`. ``history`` has one dict per epoch run."""

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
    """A trained model with the data it was trained on."""

    model: keras.Model
    dataset: Dataset
    split: Split
    result: TrainResult
    path: Path | None = None
    name: str = ""

    @property
    def config(self) -> TrainConfig:
        return self.result.config


class _Monitor(keras.callbacks.Callback):
    """Records history, reports progress, early-stops, honours stop requests, keeps best weights."""

    def __init__(self, config, steps_per_epoch, listeners, stop_event):
        super().__init__()
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.listeners = listeners
        self.stop_event = stop_event
        self.history: list[dict] = []
        self.best_val_rmse = math.inf
        self.best_epoch = 0
        self.best_weights = None
        self.wait = 0
        self.stopped_by_user = False
        self.stopped_early = False
        self.epoch_start = 0.0
        self.epoch = 0
        self.steps_done = 0

    def _notify(self, stage: str) -> None:
        progress = Progress(
            stage, self.epoch + 1, self.config.epochs, self.steps_done, self.steps_per_epoch,
            [dict(row) for row in self.history],
        )
        for listener in self.listeners:
            listener(progress)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.steps_done = 0
        self.epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps_done = min(batch + 1, self.steps_per_epoch)
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped_by_user = True
            self.model.stop_training = True
        self._notify("batch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", math.nan)),
            "val_loss": float(logs.get("val_loss", math.nan)),
            "train_rmse": float(logs.get("rmse", math.nan)),
            "val_rmse": float(logs.get("val_rmse", math.nan)),
            "seconds": time.perf_counter() - self.epoch_start,
            "complete": self.steps_done >= self.steps_per_epoch,
        }
        self.history.append(row)
        # Judge epochs by validation RMSE, not val_loss: with l2 > 0 the loss includes the penalty.
        if row["val_rmse"] < self.best_val_rmse:
            self.best_val_rmse = row["val_rmse"]
            self.best_epoch = epoch + 1
            self.best_weights = self.model.get_weights()
            self.wait = 0
        else:
            self.wait += 1
            if self.config.patience and self.wait >= self.config.patience:
                self.stopped_early = True
                self.model.stop_training = True
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped_by_user = True
            self.model.stop_training = True
        self._notify("epoch")


def _steps_per_execution(config: TrainConfig, steps_per_epoch: int) -> int:
    if config.steps_per_execution:
        return config.steps_per_execution
    # About 20 progress reports per epoch, and never fewer than 1 batch per call.
    return max(1, min(64, steps_per_epoch // 20))


def _make_dataset(x, y, batch_size, seed=None, shuffle=False):
    ds = tf.data.Dataset.from_tensor_slices((x, y.reshape(-1, 1)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train(
    dataset: Dataset,
    config: TrainConfig | None = None,
    *,
    split: Split | None = None,
    listeners: list[Callable[[Progress], None]] | None = None,
    stop_event: threading.Event | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> Run:
    """Train one model on a dataset.

    Args:
        dataset: The indexed ratings.
        config: Settings; defaults to the article's.
        split: A precomputed split; made from ``config.val_fraction`` and
            ``config.seed`` when omitted.
        listeners: Called with a :class:`Progress` between batch groups and at
            each epoch end, on the training thread.
        stop_event: When set, training ends after the current batch group; the
            history so far is kept.
        strategy: Optional ``tf.distribute.Strategy`` to build and train under.

    Returns:
        A :class:`Run` whose model holds the weights of the best epoch.
    """
    config = (config or TrainConfig()).validate()
    split = split or split_dataset(dataset, config.val_fraction, config.seed)
    steps_per_epoch = math.ceil(split.n_train / config.batch_size)
    spe = _steps_per_execution(config, steps_per_epoch)
    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        model = build_model(
            config.model, dataset.n_users, dataset.n_movies, config.embedding_dim, seed=config.seed,
            min_rating=dataset.min_rating, max_rating=dataset.max_rating,
            user_dropout=config.user_dropout, movie_dropout=config.movie_dropout,
            l2=config.l2, global_bias=config.global_bias,
        )
        learning_rate = config.learning_rate
        if config.lr_schedule == "cosine":
            learning_rate = keras.optimizers.schedules.CosineDecay(
                config.learning_rate, decay_steps=steps_per_epoch * config.epochs
            )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="mse",
            metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
            steps_per_execution=spe,
        )
    train_ds = _make_dataset(split.x_train, split.y_train, config.batch_size, config.seed, shuffle=True)
    val_ds = _make_dataset(split.x_val, split.y_val, max(config.batch_size, 4096))
    monitor = _Monitor(config, steps_per_epoch, list(listeners or []), stop_event)
    started = time.perf_counter()
    if stop_event is None or not stop_event.is_set():
        model.fit(
            train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=[monitor], verbose=0, shuffle=False
        )
    seconds = time.perf_counter() - started
    if monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)
    best_rmse = monitor.best_val_rmse if monitor.best_epoch else math.nan
    result = TrainResult(
        config=config,
        history=monitor.history,
        best_epoch=monitor.best_epoch,
        best_val_rmse=float(best_rmse),
        train_seconds=seconds,
        stopped_by_user=monitor.stopped_by_user or (stop_event is not None and stop_event.is_set()),
        stopped_early=monitor.stopped_early,
        n_users=dataset.n_users,
        n_movies=dataset.n_movies,
        n_train=split.n_train,
        n_val=split.n_val,
    )
    return Run(model, dataset, split, result, name=config.model)


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------
# Run directories
# ---------------------------------------------------------------------------

RUN_FILES = ("model.keras", "config.json", "result.json", "history.csv", "users.csv", "movies.csv", "ratings.npz")


class RunError(ValueError):
    """A run directory is missing, incomplete or unreadable."""


def save_run(run: Run, directory: str | Path) -> Path:
    """Save model, config, history, id maps, data fingerprint and ratings to a folder.

    The ratings and split are saved too, so a run opens with no network and no
    dataset (a class demo); ``result.json`` holds the dataset fingerprint.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    run.model.save(out / "model.keras")
    (out / "config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
    summary = run.result.summary()
    summary.update(
        {
            "history": run.result.history,
            "dataset": {**run.dataset.summary(), "fingerprint": run.dataset.fingerprint},
            "name": run.name,
        }
    )
    (out / "result.json").write_text(json.dumps(summary, indent=2))
    pd.DataFrame(run.result.history).to_csv(out / "history.csv", index=False)
    pd.DataFrame({"index": np.arange(run.dataset.n_users), "userId": run.dataset.index_to_user}).to_csv(
        out / "users.csv", index=False
    )
    movies = run.dataset.movies.copy()
    movies.insert(0, "index", np.arange(run.dataset.n_movies))
    movies.to_csv(out / "movies.csv", index=False)
    ratings = run.dataset.ratings
    np.savez_compressed(
        out / "ratings.npz",
        user=ratings["user"].to_numpy(),
        movie=ratings["movie"].to_numpy(),
        rating=ratings["rating"].to_numpy(),
        val_rows=run.split.val_rows,
    )
    return out


def load_run(directory: str | Path) -> Run:
    """Load a folder written by :func:`save_run` (Keras safe mode on).

    Raises:
        RunError: if the folder is missing files or they do not fit together.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise RunError(f"run directory not found: {folder}")
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise RunError(f"{folder} is not a cfcore run directory (missing {', '.join(missing)})")
    try:
        config = TrainConfig.from_dict(json.loads((folder / "config.json").read_text()))
        info = json.loads((folder / "result.json").read_text())
        users = pd.read_csv(folder / "users.csv")
        movies = pd.read_csv(folder / "movies.csv", keep_default_na=False)
        with np.load(folder / "ratings.npz", allow_pickle=False) as arrays:
            user, movie, rating, val_rows = (arrays[k] for k in ("user", "movie", "rating", "val_rows"))
        model = load_model(folder / "model.keras")
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise RunError(f"{folder}: could not read the run ({type(err).__name__}: {str(err)[:200]})") from None
    index_to_user = users["userId"].to_numpy(dtype=np.int64)
    index_to_movie = movies["movieId"].to_numpy(dtype=np.int64)
    if getattr(model, "n_users", None) != len(index_to_user) or getattr(model, "n_movies", None) != len(index_to_movie):
        raise RunError(f"{folder}: the model's sizes do not match users.csv and movies.csv")
    if len(user) and (user.max() >= len(index_to_user) or movie.max() >= len(index_to_movie)):
        raise RunError(f"{folder}: ratings.npz refers to users or movies that are not in the id maps")
    ratings = pd.DataFrame(
        {
            "userId": index_to_user[user],
            "movieId": index_to_movie[movie],
            "rating": rating.astype(np.float32),
            "user": user.astype(np.int32),
            "movie": movie.astype(np.int32),
        }
    )
    dataset = Dataset(ratings, movies.drop(columns=["index"]), index_to_user, index_to_movie,
                      source=str(info.get("dataset", {}).get("source", folder)))
    split = _split_from_rows(ratings, val_rows, config)
    result = TrainResult(
        config=config,
        history=info.get("history", []),
        best_epoch=int(info.get("best_epoch", 0)),
        best_val_rmse=float(info.get("best_val_rmse", math.nan)),
        train_seconds=float(info.get("train_seconds", 0.0)),
        stopped_by_user=bool(info.get("stopped_by_user", False)),
        stopped_early=bool(info.get("stopped_early", False)),
        n_users=len(index_to_user),
        n_movies=len(index_to_movie),
        n_train=split.n_train,
        n_val=split.n_val,
    )
    return Run(model, dataset, split, result, path=folder, name=str(info.get("name") or config.model))


def _split_from_rows(ratings: pd.DataFrame, val_rows: np.ndarray, config: TrainConfig) -> Split:
    mask = np.zeros(len(ratings), dtype=bool)
    mask[val_rows] = True
    x = ratings[["user", "movie"]].to_numpy(dtype=np.int32)
    y = ratings["rating"].to_numpy(dtype=np.float32)
    train_rows = np.flatnonzero(~mask)
    return Split(x[train_rows], y[train_rows], x[val_rows], y[val_rows], train_rows, np.asarray(val_rows),
                 config.val_fraction, config.seed)


__all__ = [
    "BOUNDS", "ConfigError", "PRESETS", "Progress", "Run", "RunError", "TrainConfig", "TrainResult",
    "load_run", "preset", "save_run", "train",
]
