"""A run's ``embeddings.npz`` read and checked: every array the server uses, from its ``.npy`` header before NumPy
allocates it, its shape against the run's own sizes, values finite, and SVD++'s rated sets exactly the training
pairs'.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cfcore import constants as C
from cfcore.config import FACTOR_LINKS, FACTOR_METHODS, TrainConfig
from cfcore.data.npz import NpzError, read_npz
from cfcore.runs.embeddings import EMBEDDINGS_FILE, SET_NAMES, Embeddings, embeddings_from_arrays, implicit_sets
from cfcore.runs.errors import RunError

# Which arrays an embeddings.npz holds, by the kind of model (cfcore.training.build.embedding_arrays writes them).
_TABLES = ("user", "movie")


_BIASES = ("user_bias", "movie_bias", "global_offset", "min_rating", "max_rating", "link")


_SVDPP = ("rated", "rater", *SET_NAMES)


def embedding_names(model: str) -> tuple[str, ...]:
    """The arrays a run of ``model`` keeps in its embeddings.npz."""
    if model == "svdpp":
        return (*_TABLES, *_BIASES, *_SVDPP)
    return (*_TABLES, *_BIASES) if model == "dot_with_bias" or model in FACTOR_METHODS else _TABLES


def read_embeddings(path: Path, config: TrainConfig, declared: dict, n_users: int, n_movies: int,
                     train_pairs: np.ndarray | None = None) -> Embeddings:
    """The learned arrays of ``embeddings.npz``, each checked from its header against the run's sizes, then as
    numbers: finite tables, the model's own link and rating range, and (SVD++, given ``train_pairs``, the run's
    training ``(user, movie)`` pairs) rated sets that are exactly the run's training ratings.

    Raises:
        RunError: when an array is missing or not the shape or kind the run needs.
    """
    where = EMBEDDINGS_FILE
    dim, links = config.embedding_dim, 0 if train_pairs is None else len(train_pairs)
    shapes = {"user": (n_users, dim), "movie": (n_movies, dim), "user_bias": (n_users,), "movie_bias": (n_movies,),
              "rated": (n_movies, dim), "rater": (n_users, dim), "global_offset": (), "min_rating": (),
              "max_rating": (), "link": (), "user_splits": (n_users + 1,), "movie_splits": (n_movies + 1,),
              "user_movies": (links,), "movie_users": (links,)}
    kinds = {**dict.fromkeys(SET_NAMES, "iu"), "link": "U"}

    def check(name: str, shape: tuple, dtype: np.dtype) -> None:
        if dtype.kind not in kinds.get(name, "f"):
            raise NpzError(f"{where}: {name} must hold {'integers' if name in SET_NAMES else 'numbers'}, "
                           f"not {dtype}")
        if shape != shapes[name]:
            if name in SET_NAMES:
                raise NpzError(f"{where}: SVD++'s {name} is {shape}, not {shapes[name]} integers")
            raise NpzError(f"{where}: the {name.replace('_', ' ')} table is {shape}, not {shapes[name]}")

    names = embedding_names(config.model)
    try:
        arrays = read_npz(path, where, names, check, C.RUN_ZIP_MAX_FILE_BYTES[where])
    except NpzError as err:
        raise RunError(str(err)) from None
    for name in (*_TABLES, "user_bias", "movie_bias", "rated", "rater", "global_offset"):
        if name in arrays and not np.isfinite(arrays[name]).all():
            raise RunError(f"{where}: the {name.replace('_', ' ')} table holds values that are not finite numbers")
    if "link" in arrays:
        link = FACTOR_LINKS.get(config.model, "sigmoid")
        if str(arrays["link"]) != link:
            raise RunError(f"{where}: the link is {str(arrays['link'])[:20]!r}; a {config.model} run's is {link!r}")
        low, high = float(arrays["min_rating"]), float(arrays["max_rating"])
        if not (math.isfinite(low) and math.isfinite(high) and low < high) or (
                (low, high) != (declared.get("min_rating"), declared.get("max_rating"))):
            raise RunError(f"{where}: the rating range {low:g} to {high:g} is not the model's "
                           f"({str(declared.get('min_rating'))[:20]} to {str(declared.get('max_rating'))[:20]})")
    if config.model == "svdpp":
        _check_sets([arrays[name] for name in SET_NAMES], n_users, n_movies, train_pairs)
    return embeddings_from_arrays(arrays)


def _check_sets(arrays: list[np.ndarray], n_users: int, n_movies: int, train_pairs: np.ndarray | None) -> None:
    """SVD++'s four rated-set arrays: row starts from 0 to the number of links that never fall, members that are
    real movies (users), and (given ``train_pairs``) exactly the sets of the run's training ratings: a file that
    smuggled held-out ratings into them would pass off a leak as a model."""
    where = EMBEDDINGS_FILE
    links = len(arrays[1])
    for splits, members, other in ((arrays[0], arrays[1], n_movies), (arrays[2], arrays[3], n_users)):
        if splits[0] != 0 or splits[-1] != links or (np.diff(splits) < 0).any() or (
                len(members) and (members.min() < 0 or members.max() >= other)):
            raise RunError(f"{where}: SVD++'s rated sets do not fit the run's users and movies")
    if train_pairs is not None:
        expected = implicit_sets(train_pairs, n_users, n_movies)
        if not all(np.array_equal(mine, theirs) for mine, theirs in zip(arrays, expected, strict=True)):
            raise RunError(f"{where}: SVD++'s rated sets are not the run's training ratings")
