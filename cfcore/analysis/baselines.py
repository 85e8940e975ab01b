"""Simple baselines on the same train/validation split, to judge what the embeddings add.

The ladder: predict the global mean; then mean + user bias + movie bias; then the trained model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cfcore.data.dataset import Dataset
    from cfcore.data.split import Split
    from cfcore.runs.run import Run

# Shrinkage of the biases towards 0, in "pseudo-ratings": a movie with few ratings keeps its bias
# near 0. On ml-latest-small (80/20, seed 42) any value from 2 to 5 gives validation RMSE within
# 0.002 of the best (0.863); 0 overfits (0.880) and 25 over-shrinks (0.885).
DEFAULT_BIAS_REG = 5.0
DEFAULT_BIAS_SWEEPS = 10


@dataclass
class BaselineResult:
    """A baseline's RMSE on the training and validation ratings."""

    name: str
    val_rmse: float
    train_rmse: float


def _rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    if len(actual) == 0:
        return float("nan")
    diff = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def _check_split(split: Split) -> None:
    if split.n_train == 0:
        raise ValueError("a baseline needs at least one training rating")


def global_mean_baseline(split: Split) -> BaselineResult:
    """Predict the mean training rating for everything."""
    _check_split(split)
    mean = float(np.mean(split.y_train, dtype=np.float64))
    return BaselineResult(
        "global mean",
        _rmse(np.full(split.n_val, mean), split.y_val),
        _rmse(np.full(split.n_train, mean), split.y_train),
    )


# A run diverged (its learning rate was too high) when its validation RMSE ends this many times worse than
# predicting 0 for every rating (an untrained simple model starts about there), or when it rose above its best
# and ends this many times worse than predicting the training mean: the article's worst model, simple_dot,
# ends near the global mean (1.06 vs 1.05).
DIVERGED_FACTOR = 1.5


def diverged(run: Run) -> bool:
    """Whether ``run`` diverged: an epoch's validation RMSE is not finite (NaN, infinity), or its last one is
    over :data:`DIVERGED_FACTOR` times the RMSE of predicting 0 everywhere, or it rose by a fifth from its best
    and ends over :data:`DIVERGED_FACTOR` times the global mean's on the same split."""
    rows = [row.get("val_rmse", math.nan) for row in run.result.history]
    if not rows or not run.embeddings.predicts_ratings:  # the implicit task has no validation RMSE at all
        return False
    if not all(math.isfinite(value) for value in rows):
        return True
    if run.split.n_val == 0 or run.split.n_train == 0:
        return False
    last, best = rows[-1], min(rows)
    if last > DIVERGED_FACTOR * float(np.sqrt(np.mean(np.square(run.split.y_val, dtype=np.float64)))):
        return True
    mean_rmse = global_mean_baseline(run.split).val_rmse
    return last > 1.2 * best and mean_rmse > 0 and last > DIVERGED_FACTOR * mean_rmse


def fit_biases(
    split: Split, n_users: int, n_movies: int, reg: float = DEFAULT_BIAS_REG, sweeps: int = DEFAULT_BIAS_SWEEPS
) -> tuple[float, np.ndarray, np.ndarray]:
    """Fit rating ~ mu + b_user + b_movie by regularised alternating least squares.

    Each sweep sets every movie bias to ``sum(r - mu - b_user) / (reg + n_movie)``, then every
    user bias to ``sum(r - mu - b_movie) / (reg + n_user)``: the exact minimiser of the
    ridge-penalised squared error in one block with the other fixed, so the loss falls each sweep.

    Returns:
        ``(mu, user_bias (n_users,), movie_bias (n_movies,))``; users and movies absent from
        training keep bias 0.
    """
    _check_split(split)
    if reg < 0 or sweeps < 1:
        raise ValueError(f"need reg >= 0 and sweeps >= 1. Received: reg={reg}, sweeps={sweeps}")
    users, movies = split.x_train[:, 0], split.x_train[:, 1]
    y = np.asarray(split.y_train, dtype=np.float64)
    mu = float(y.mean())
    user_count = np.bincount(users, minlength=n_users).astype(np.float64)
    movie_count = np.bincount(movies, minlength=n_movies).astype(np.float64)
    user_bias = np.zeros(n_users)
    movie_bias = np.zeros(n_movies)
    for _ in range(sweeps):
        residual = y - mu - user_bias[users]
        movie_bias = np.bincount(movies, residual, minlength=n_movies) / (reg + movie_count + 1e-12)
        residual = y - mu - movie_bias[movies]
        user_bias = np.bincount(users, residual, minlength=n_users) / (reg + user_count + 1e-12)
    return mu, user_bias, movie_bias


def bias_baseline(
    split: Split, n_users: int, n_movies: int, reg: float = DEFAULT_BIAS_REG, sweeps: int = DEFAULT_BIAS_SWEEPS
) -> BaselineResult:
    """Predict mean + user bias + movie bias (see :func:`fit_biases`), clipped to the training rating range."""
    mu, user_bias, movie_bias = fit_biases(split, n_users, n_movies, reg, sweeps)
    low, high = float(np.min(split.y_train)), float(np.max(split.y_train))

    def predict(x: np.ndarray) -> np.ndarray:
        return np.clip(mu + user_bias[x[:, 0]] + movie_bias[x[:, 1]], low, high)

    return BaselineResult(
        "user + movie biases",
        _rmse(predict(split.x_val), split.y_val),
        _rmse(predict(split.x_train), split.y_train),
    )


def baseline_ladder(run: Run) -> pd.DataFrame:
    """Validation RMSE of the global mean, the bias baseline and the run's model, on the run's split.

    Returns:
        Frame with columns name, val_rmse; rows in that order (the model's row is named after the run; none for
        a run that predicts no ratings).
    """
    from cfcore.analysis.predict import predict

    split = run.split
    rows = [
        global_mean_baseline(split),
        bias_baseline(split, run.dataset.n_users, run.dataset.n_movies),
    ]
    names, values = [row.name for row in rows], [row.val_rmse for row in rows]
    if run.embeddings.predicts_ratings:  # a run of the implicit task has no rung: it predicts no ratings
        names.append(run.name or run.config.model)
        values.append(_rmse(predict(run, split.x_val[:, 0], split.x_val[:, 1]), split.y_val))
    return pd.DataFrame({"name": names, "val_rmse": values})


def on_split(run: Run, dataset: Dataset, split: Split) -> bool:
    """Whether ``run`` was trained on ``dataset``'s content with exactly ``split``'s held-out ratings: only then
    do its numbers stand beside baselines fitted on that split."""
    return run.dataset.fingerprint == dataset.fingerprint and np.array_equal(run.split.val_rows, split.val_rows)


def shared_ladder(run: Run, others: Iterable[Run]) -> tuple[pd.DataFrame, int]:
    """:func:`baseline_ladder` of ``run`` with a rung for each of ``others`` on the very same data and split
    (baselines are fitted on ``run``'s split, so only those can stand beside them), and how many others were
    left out for being on other data or another split."""
    others = [other for other in others if other is not run and other.embeddings.predicts_ratings]
    same = [other for other in others if on_split(other, run.dataset, run.split)]
    ladder = pd.concat([baseline_ladder(run)] + [baseline_ladder(other).iloc[[-1]] for other in same],
                       ignore_index=True)
    return ladder, len(others) - len(same)
