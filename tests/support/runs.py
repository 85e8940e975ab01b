"""Runs made or changed for a test."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore.config import TrainConfig

RATING_STEPS = np.arange(0.5, 5.01, 0.5)
# A small SVD++ run, quick to train: no dropout, a global offset.
SVDPP_CONFIG = TrainConfig(model="svdpp", embedding_dim=4, epochs=4, batch_size=64, learning_rate=0.01, patience=0,
                           seed=1, global_bias=True, user_dropout=0.0, movie_dropout=0.0)


def make_dataset(counts: list[int], n_users: int | None = None, titles: list[str] | None = None):
    """Movie j (movieId 10 + 3j) is rated by the first ``counts[j]`` users; ratings cycle 0.5..5."""
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings

    n_users = n_users or max(counts)
    rows = []
    for j, count in enumerate(counts):
        for user in range(count):
            rows.append((100 + user, 10 + 3 * j, RATING_STEPS[(user + j) % len(RATING_STEPS)]))
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating"])
    # Users beyond every count rate the most-rated movie, so n_users is what was asked.
    top = int(np.argmax(counts))
    extra = [(100 + u, 10 + 3 * top, 3.0) for u in range(counts[top], n_users)]
    ratings = pd.concat([ratings, pd.DataFrame(extra, columns=ratings.columns)], ignore_index=True)
    titles = titles or [f"Film {j} ({1980 + j})" for j in range(len(counts))]
    movies = pd.DataFrame(
        {"movieId": [10 + 3 * j for j in range(len(counts))], "title": titles,
         "genres": ["Drama" if j % 2 else "Comedy|Romance" for j in range(len(counts))]}
    )
    return build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "planted")


def make_run(
    model_name: str,
    movie: np.ndarray,
    counts: list[int] | None = None,
    user: np.ndarray | None = None,
    user_bias: np.ndarray | None = None,
    movie_bias: np.ndarray | None = None,
    global_offset: float | None = None,
    n_users: int = 6,
):
    """A Run on a small dataset whose model has exactly the given weights."""
    from cfcore.config import TrainConfig
    from cfcore.data.split import split_dataset
    from cfcore.runs.run import Run, TrainResult
    from cfcore.training.build import build_model, embeddings_of

    n_movies, dim = movie.shape
    counts = counts or [n_users] * n_movies
    dataset = make_dataset(counts, n_users)
    assert dataset.n_movies == n_movies and dataset.n_users == n_users
    model = build_model(model_name, n_users, n_movies, dim, seed=0, min_rating=dataset.min_rating,
                        max_rating=dataset.max_rating, global_bias=global_offset is not None)
    rng = np.random.default_rng(5)
    model.movie_embedding.embeddings.assign(movie.astype(np.float32))
    user = rng.normal(0, 0.5, (n_users, dim)) if user is None else user
    model.user_embedding.embeddings.assign(np.asarray(user, np.float32))
    if model_name == "dot_with_bias":
        ub = rng.normal(0, 0.3, n_users) if user_bias is None else user_bias
        mb = rng.normal(0, 0.3, n_movies) if movie_bias is None else movie_bias
        model.user_bias.embeddings.assign(np.asarray(ub, np.float32)[:, None])
        model.movie_bias.embeddings.assign(np.asarray(mb, np.float32)[:, None])
        if global_offset is not None:
            model.global_offset.assign(np.array([global_offset], np.float32))
    config = TrainConfig(model=model_name, embedding_dim=dim)
    result = TrainResult(config, [], 0, math.nan, 0.0, False, False, n_users, n_movies, 0, 0)
    return Run(embeddings_of(model), dataset, split_dataset(dataset, 0.2, 0), result, name=model_name, model=model)


def model_predict(run, users, movies) -> np.ndarray:
    pairs = np.stack([np.asarray(users), np.asarray(movies)], axis=1).astype(np.int32)
    return run.model.predict(pairs, verbose=0).reshape(-1)


def rewrite_model_member(folder: Path, name: str, change) -> None:
    """Replace member ``name`` of a run folder's ``model.keras`` with ``change(its bytes)`` (a tampered run)."""
    import zipfile

    with zipfile.ZipFile(folder / "model.keras") as archive:
        members = {member: archive.read(member) for member in archive.namelist()}
    members[name] = change(members[name])
    with zipfile.ZipFile(folder / "model.keras", "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
