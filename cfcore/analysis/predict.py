"""A run's predicted ratings in NumPy (dropout off), a user's ratings beside them, and recommendations.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import movie_table, user_index
from cfcore.runs.run import Run

# Rows per model call when predicting many pairs at once.
_PREDICT_CHUNK = 65_536


def require_ratings(run: Run, what: str) -> None:
    """Raise :class:`AnalysisError` when ``run`` predicts no ratings (the implicit task), naming ``what`` needs them."""
    if not run.embeddings.predicts_ratings:
        raise AnalysisError(f"{what} needs a model that predicts ratings; {run.name or run.config.model!r} was trained "
                            "on whether a movie was rated at all, and predicts only that")


def predict(run: Run, user_index, movie_index) -> np.ndarray:
    """The model's predicted ratings for (user index, movie index) pairs, dropout off.

    Args:
        user_index, movie_index: Integer indices (scalars or arrays; broadcast together).

    Returns:
        Float array of shape ``(n,)``.

    Raises:
        AnalysisError: for an index out of range, or a run that predicts no ratings.
    """
    require_ratings(run, "predicting ratings")
    users, movies = np.broadcast_arrays(np.asarray(user_index, dtype=np.int32), np.asarray(movie_index, dtype=np.int32))
    pairs = np.stack([users.reshape(-1), movies.reshape(-1)], axis=1)
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float64)
    if (pairs[:, 0] < 0).any() or (pairs[:, 0] >= run.dataset.n_users).any():
        raise AnalysisError(f"user index out of range 0..{run.dataset.n_users - 1}")
    if (pairs[:, 1] < 0).any() or (pairs[:, 1] >= run.dataset.n_movies).any():
        raise AnalysisError(f"movie index out of range 0..{run.dataset.n_movies - 1}")
    out = [
        run.embeddings.predict(pairs[start : start + _PREDICT_CHUNK, 0], pairs[start : start + _PREDICT_CHUNK, 1])
        for start in range(0, len(pairs), _PREDICT_CHUNK)
    ]
    return np.concatenate(out).astype(np.float64)


def off_scale(predicted, low: float, high: float) -> tuple[int, float, float]:
    """How many ``predicted`` ratings fall outside ``[low, high]`` (or are not finite), and the lowest and
    highest prediction."""
    values = np.asarray(predicted, dtype=np.float64)
    outside = int(np.count_nonzero(~np.isfinite(values) | (values < low) | (values > high)))
    finite = values[np.isfinite(values)]
    return outside, float(finite.min()) if finite.size else math.nan, float(finite.max()) if finite.size else math.nan


def user_ratings(run: Run, user_id: int) -> pd.DataFrame:
    """Every movie one user rated, with the model's prediction.

    Returns:
        Frame with movieId, title, genres, rating (actual), predicted,
        error (predicted - actual) and split ("train"/"validation"), highest actual rating first.

    Raises:
        AnalysisError: for an unknown userId.
    """
    index = user_index(run, user_id)
    ratings = run.dataset.ratings
    rows = np.flatnonzero(ratings["user"].to_numpy() == index)
    movie_idx = ratings["movie"].to_numpy()[rows]
    actual = ratings["rating"].to_numpy(dtype=np.float64)[rows]
    predicted = predict(run, index, movie_idx)
    table = movie_table(run).iloc[movie_idx]
    frame = pd.DataFrame(
        {
            "movieId": table["movieId"].to_numpy(),
            "title": table["title"].to_numpy(),
            "genres": table["genres"].to_numpy(),
            "rating": actual,
            "predicted": predicted,
            "error": predicted - actual,
            "split": np.where(np.isin(rows, run.split.val_rows), "validation", "train"),
        }
    )
    return frame.sort_values(["rating", "predicted"], ascending=False, kind="stable").reset_index(drop=True)


def user_rmse(frame: pd.DataFrame) -> float:
    """Root mean squared error of a :func:`user_ratings` frame (NaN when empty)."""
    if len(frame) == 0:
        return math.nan
    errors = frame["predicted"].to_numpy(dtype=np.float64) - frame["rating"].to_numpy(dtype=np.float64)
    return float(np.sqrt(np.mean(errors**2)))


def ranked(run: Run, predicted: np.ndarray, top: int, min_ratings: int, exclude_index: np.ndarray) -> pd.DataFrame:
    table = movie_table(run)
    table.insert(3, "predicted", predicted)
    keep = (table["num_ratings"] > min_ratings).to_numpy(copy=True)
    keep[exclude_index] = False
    table = table[keep].sort_values(["predicted", "num_ratings"], ascending=False, kind="stable")
    return table.head(max(int(top), 0)).reset_index(drop=True)[
        ["movieId", "title", "genres", "predicted", "num_ratings", "rating"]
    ]


def recommend(run: Run, user_id: int, top: int = 10, min_ratings: int = 0) -> pd.DataFrame:
    """A user's ``top`` highest-predicted movies among those they have not rated.

    Returns:
        Frame with movieId, title, genres, predicted, num_ratings, rating; best first.

    Raises:
        AnalysisError: for an unknown userId.
    """
    index = user_index(run, user_id)
    ratings = run.dataset.ratings
    seen = ratings["movie"].to_numpy()[ratings["user"].to_numpy() == index]
    predicted = predict(run, index, np.arange(run.dataset.n_movies))
    return ranked(run, predicted, top, min_ratings, seen)
