"""A run's movies and users: the movie table every analysis shares, lookups by id, the heatmap's rows, the
most-rated movies and a title search.

Movie tables share these columns: ``movieId``, ``title``, ``genres``, ``num_ratings`` (ratings in the full data set)
and ``rating`` (their mean). Every ``min_ratings`` filter keeps movies with *more than* ``min_ratings`` ratings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.runs.run import Run


def movie_table(run: Run) -> pd.DataFrame:
    """movieId, title, genres, num_ratings, rating (mean) in movie-index order."""
    movies = run.dataset.movies
    return pd.DataFrame(
        {
            "movieId": movies["movieId"].to_numpy(dtype=np.int64),
            "title": movies["title"].astype(str).to_numpy(),
            "genres": movies["genres"].astype(str).to_numpy(),
            "num_ratings": movies["num_ratings"].to_numpy(dtype=np.int64),
            "rating": movies["mean_rating"].to_numpy(dtype=np.float64),
        }
    )


def movie_index(run: Run, movie_id) -> int:
    try:
        key = int(movie_id)
    except (TypeError, ValueError):
        raise AnalysisError(f"movieId must be a whole number. Received: {movie_id!r}") from None
    index = run.dataset.movie_to_index.get(key)
    if index is None:
        raise AnalysisError(f"unknown movieId {key}: no such movie has ratings in this run's data")
    return index


def user_index(run: Run, user_id) -> int:
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        raise AnalysisError(f"userId must be a whole number. Received: {user_id!r}") from None
    index = run.dataset.user_to_index.get(key)
    if index is None:
        ids = run.dataset.index_to_user
        raise AnalysisError(f"unknown userId {key}; this run's users are {int(ids.min())}..{int(ids.max())}")
    return index


def heatmap_frame(run: Run, n_movies: int = 20) -> pd.DataFrame:
    """The first ``n_movies`` movie embeddings, for a heatmap.

    The order is movie-index order, which is ascending movieId (so the first
    rows of MovieLens are Toy Story, Jumanji, ...).

    Returns:
        Frame indexed by title, columns ``1..d`` (dimension numbers), values the embedding entries.
    """
    if n_movies < 1:
        raise AnalysisError(f"n_movies must be at least 1. Received: n_movies={n_movies}")
    movie = run.embeddings.movie[:n_movies]
    titles = run.dataset.movies["title"].astype(str).to_numpy()[: len(movie)]
    frame = pd.DataFrame(movie, index=pd.Index(titles, name="title"), columns=range(1, movie.shape[1] + 1))
    frame.columns.name = "dimension"
    return frame


def most_rated(movies: pd.DataFrame, limit: int, where: np.ndarray | None = None) -> pd.DataFrame:
    """The ``limit`` rows of ``movies`` (of those ``where`` marks, a boolean mask) with the most ratings
    (``num_ratings``; ties kept in row order), in their order; ``movies`` itself when that is all of them."""
    if limit < 0:
        raise AnalysisError(f"limit must be 0 or more. Received: limit={limit}")
    rows = np.arange(len(movies)) if where is None else np.flatnonzero(where)
    if len(rows) == len(movies) and len(movies) <= limit:
        return movies
    if len(rows) > limit:
        rows = rows[np.sort(np.argsort(-movies["num_ratings"].to_numpy()[rows], kind="stable")[:limit])]
    return movies.iloc[rows]


def find_movies(run: Run, query: str, limit: int = 20) -> pd.DataFrame:
    """Movies whose title contains ``query`` (case-insensitive, plain text), most-rated first.

    Returns:
        Frame with movieId, title, genres, num_ratings, rating; at most ``limit`` rows.
    """
    table = movie_table(run)
    text = str(query or "").strip().lower()
    if text:
        table = table[table["title"].str.lower().str.contains(text, regex=False)]
    table = table.sort_values(["num_ratings", "title"], ascending=[False, True], kind="stable")
    return table.head(max(int(limit), 0)).reset_index(drop=True)
