"""What a model's biases learned: the movies with the lowest and highest bias, the users' biases, and each movie's
bias against its mean rating.

A movie's bias is what the model adds to every prediction of it, whoever the user: how much people like it beyond
what their tastes (the dot product) say. fast.ai's lesson, which the article follows, reads the lowest biases as
movies people dislike even when they are their kind of movie. A bias mostly follows the mean rating; the movies far
from that line are the interesting ones (a film with a modest mean that its audience still rates above their taste
predicts, or the other way round). Pure functions over a run with biases; no Streamlit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import movie_table
from cfcore.runs.run import Run

# The JSON keys of one ranked movie (``explore --json``'s "bias_rankings").
RANKED_KEYS = ["movieId", "title", "bias", "mean_rating", "num_ratings"]


def _require_biases(run: Run) -> None:
    if not run.embeddings.has_bias or run.embeddings.movie_bias is None:
        raise AnalysisError(f"the {run.config.model} model has no biases to show")


def movie_biases(run: Run, min_ratings: int = 0) -> pd.DataFrame:
    """Every movie with more than ``min_ratings`` ratings: movieId, title, genres, num_ratings, mean_rating, bias
    and ``off_line``: how far its bias is from the straight line that best predicts bias from mean rating (least
    squares over these movies; positive: liked beyond its mean rating)."""
    _require_biases(run)
    movies = movie_table(run).rename(columns={"rating": "mean_rating"})
    movies["bias"] = np.asarray(run.embeddings.movie_bias, dtype=np.float64).reshape(-1)
    kept = movies[movies["num_ratings"] > min_ratings].reset_index(drop=True)
    kept["off_line"] = _off_line(kept["mean_rating"].to_numpy(), kept["bias"].to_numpy())
    return kept


def _off_line(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if len(x) < 2 or np.ptp(x) == 0:
        return y - (y.mean() if len(y) else 0.0)
    slope, intercept = np.polyfit(x, y, 1)
    return y - (slope * x + intercept)


def bias_rankings(run: Run, min_ratings: int = 20, top: int = 10) -> dict[str, pd.DataFrame]:
    """The ``top`` movies with the lowest and with the highest bias among those with more than ``min_ratings``
    ratings: ``{"lowest": frame, "highest": frame}``, each with movieId, title, bias, mean_rating, num_ratings,
    genres; lowest (or highest) first, the index the rank from 1."""
    movies = movie_biases(run, min_ratings)
    columns = [*RANKED_KEYS, "genres"]
    out = {"lowest": movies.nsmallest(top, "bias")[columns], "highest": movies.nlargest(top, "bias")[columns]}
    for frame in out.values():
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="rank")
    return out


def far_from_the_line(run: Run, min_ratings: int = 20, top: int = 5) -> pd.DataFrame:
    """The ``top`` movies whose bias is furthest from what their mean rating predicts, either way."""
    movies = movie_biases(run, min_ratings)
    return movies.reindex(movies["off_line"].abs().sort_values(ascending=False).index).head(top)


def user_biases(run: Run) -> np.ndarray:
    """Every user's learned bias."""
    _require_biases(run)
    return np.asarray(run.embeddings.user_bias, dtype=np.float64).reshape(-1)
