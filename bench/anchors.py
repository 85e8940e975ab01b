"""Outside anchors for the training benchmark: Surprise's SVD and SVD++, and myFM's Bayesian factorisation machine.

Each takes the project's own split (``cfcore.data.split_dataset``) and returns ``(val RMSE, fit seconds)``, so
its row stands beside ours in ``bench/train_speed.py --anchors``. Their packages are pinned in
``requirements-bench.txt`` and imported here only, when asked for: the app and its tests never need them.

myFM (Ohtsuki) with SVD++-style implicit blocks follows its documentation's MovieLens example: each rating's
user block is the user's one-hot vector next to the movies they rated in training, scaled by
``|N(u)|^-1/2``; its movie block the movie's one-hot vector next to the users who rated it in training, scaled
by ``|R(i)|^-1/2``. Only training ratings build those sets: no validation rating, not even which movie was rated.
"""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np
import scipy.sparse as sp

ANCHORS = ("surprise-svd", "surprise-svdpp", "myfm-ids", "myfm-implicit")


def _rmse(predicted, actual) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted, np.float64) - actual) ** 2)))


def surprise(split, low: float, high: float, plus: bool, seed: int) -> tuple[float, float]:
    """Surprise's ``SVD`` (``plus``: ``SVDpp``) with its default settings."""
    import pandas as pd
    from surprise import SVD, Dataset, Reader, SVDpp

    frame = pd.DataFrame({"user": split.x_train[:, 0], "movie": split.x_train[:, 1], "rating": split.y_train})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(low, high))).build_full_trainset()
    algo = (SVDpp if plus else SVD)(random_state=seed)
    started = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - started
    predicted = [algo.predict(int(u), int(m)).est for u, m in split.x_val]
    return _rmse(predicted, split.y_val), seconds


def _blocks(split, n_users: int, n_movies: int, implicit: bool):
    """myFM's relation blocks for the training and validation ratings (one-hot ids, plus the rated sets)."""
    from myfm import RelationBlock

    users, movies = split.x_train[:, 0], split.x_train[:, 1]
    ones = np.ones(len(users))
    user_rows = [sp.identity(n_users, format="csr")]
    movie_rows = [sp.identity(n_movies, format="csr")]
    if implicit:
        rated = sp.csr_matrix((ones, (users, movies)), shape=(n_users, n_movies))
        raters = rated.T.tocsr()
        for matrix, target in ((rated, user_rows), (raters, movie_rows)):
            counts = np.asarray(matrix.sum(axis=1)).ravel()
            target.append(sp.diags(1.0 / np.sqrt(np.maximum(counts, 1))) @ matrix)
    user_block, movie_block = sp.hstack(user_rows).tocsr(), sp.hstack(movie_rows).tocsr()

    def blocks(x):
        return [RelationBlock(x[:, 0].astype(np.int64), user_block), RelationBlock(x[:, 1].astype(np.int64),
                                                                                  movie_block)]

    return blocks(split.x_train), blocks(split.x_val)


def myfm(split, n_users: int, n_movies: int, implicit: bool, seed: int, rank: int = 10,
         n_iter: int = 300) -> tuple[float, float]:
    """myFM's Gibbs-sampled regressor on user and movie ids (``implicit``: plus the SVD++-style rated sets)."""
    import myfm as fm_package

    train_blocks, val_blocks = _blocks(split, n_users, n_movies, implicit)
    model = fm_package.MyFMRegressor(rank=rank, random_seed=seed)
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar, 300 lines of it
        model.fit(None, split.y_train, X_rel=train_blocks, n_iter=n_iter, n_kept_samples=n_iter - 5)
    seconds = time.perf_counter() - started
    return _rmse(model.predict(None, X_rel=val_blocks), split.y_val), seconds


def run_anchor(name: str, split, dataset, seed: int) -> tuple[float, float]:
    """One of :data:`ANCHORS` on ``split``: ``(val RMSE, fit seconds)``."""
    if name.startswith("surprise"):
        return surprise(split, dataset.min_rating, dataset.max_rating, name.endswith("svdpp"), seed)
    return myfm(split, dataset.n_users, dataset.n_movies, name.endswith("implicit"), seed)
