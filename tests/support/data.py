"""Data for tests: synthetic ratings with planted structure, small CSV files and the messages they are refused with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cfcore.data.errors import DataError
from cfcore.data.read import Limits, read_movies, read_ratings

# A ratings.csv header, and a movies.csv of three movies (the third with no genres).
HEADER = "userId,movieId,rating,timestamp\n"
MOVIES = b"movieId,title,genres\n1,Alpha (1990),Comedy\n2,Beta (1991),Drama\n3,Gamma (1992),\n"


def ratings_error(text: str | bytes, limits: Limits | None = None) -> str:
    """The message reading ``text`` as a ratings.csv is refused with (the test fails if it is read)."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(DataError) as info:
        read_ratings(raw, "ratings.csv", limits or Limits())
    return str(info.value)


def movies_error(text: str) -> str:
    """The message reading ``text`` as a movies.csv is refused with (the test fails if it is read)."""
    with pytest.raises(DataError) as info:
        read_movies(text.encode("utf-8"), "movies.csv")
    return str(info.value)


def write_pair(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame) -> Path:
    """``folder`` holding the two frames as ratings.csv and movies.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    ratings.to_csv(folder / "ratings.csv", index=False)
    movies.to_csv(folder / "movies.csv", index=False)
    return folder


def make_synthetic_frames(
    n_users: int = 60, n_movies: int = 40, rank: int = 2, density: float = 0.5, seed: int = 0,
    noise: float = 0.1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings from a planted low-rank model (plus biases), clipped to 0.5..5, with id gaps."""
    rng = np.random.default_rng(seed)
    users = rng.normal(0, 1, (n_users, rank))
    movies = rng.normal(0, 1, (n_movies, rank))
    scores = 3.0 + 0.6 * users @ movies.T + rng.normal(0, noise, (n_users, n_movies))
    mask = rng.random((n_users, n_movies)) < density
    mask[np.arange(n_users), rng.integers(0, n_movies, n_users)] = True
    mask[rng.integers(0, n_users, n_movies), np.arange(n_movies)] = True
    u_idx, m_idx = np.nonzero(mask)
    # Ids with gaps, as uploaded data may have.
    user_ids = np.arange(n_users) * 3 + 1
    movie_ids = np.arange(n_movies) * 7 + 2
    ratings = pd.DataFrame(
        {
            "userId": user_ids[u_idx],
            "movieId": movie_ids[m_idx],
            "rating": np.clip(np.round(scores[u_idx, m_idx] * 2) / 2, 0.5, 5.0),
            "timestamp": 1_000_000 + np.arange(len(u_idx)),
        }
    )
    genres = ["Comedy", "Drama", "Action|Thriller", "Comedy|Romance"]
    movies_frame = pd.DataFrame(
        {
            "movieId": movie_ids,
            "title": [f"Movie {i} ({1990 + i % 30})" for i in range(n_movies)],
            "genres": [genres[i % len(genres)] for i in range(n_movies)],
        }
    )
    return ratings, movies_frame
