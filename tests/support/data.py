"""Synthetic ratings with planted structure."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
