"""A model's learned arrays as plain data: :class:`Embeddings`, and ``embeddings.npz``, the file that carries them.

The trainer writes every array the web server needs into a run folder's ``embeddings.npz`` (tables, biases, the
global offset, the link and SVD++'s rated sets); the server reads that file alone, never Keras's HDF5 weights.
:func:`embeddings_from_arrays` turns those arrays into :class:`Embeddings`, on both sides of the process
boundary, so a model read back from its folder predicts as the trained one did. No TensorFlow import here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EMBEDDINGS_FILE = "embeddings.npz"
# What a model with biases does with its logit (see Embeddings.link).
LINKS = ("sigmoid", "identity", "logistic")
# SVD++'s rated sets, as implicit_sets returns them.
SET_NAMES = ("user_splits", "user_movies", "movie_splits", "movie_users")


@dataclass
class Embeddings:
    """A model's learned tables, rows in index order (``dataset.index_to_user`` / ``index_to_movie``).

    ``user_bias``, ``movie_bias``, ``min_rating`` and ``max_rating`` are None for
    the dot-only models; ``global_offset`` is 0.0 when the model has none.

    ``link`` says what a model with biases does with ``dot + biases + offset`` (the logit): "sigmoid" scales its
    sigmoid to the rating range (the bias model, AutoRec), "identity" predicts it as it is (the SVD), and
    "logistic" gives a probability, not a rating (the implicit task: was the movie rated at all).

    SVD++ (``svdpp``): ``user`` and ``movie`` are the whole vectors the model multiplies (its own part plus the
    rated sets' part); ``user_implicit`` is each user's rated-set part, ``|N(u)|^-1/2 sum y_j``, and ``rated``
    the ``y_j`` of each movie, which fold-in adds up over a new person's rated movies. None for other models.
    """

    user: np.ndarray
    movie: np.ndarray
    user_bias: np.ndarray | None = None
    movie_bias: np.ndarray | None = None
    global_offset: float = 0.0
    min_rating: float | None = None
    max_rating: float | None = None
    link: str = "sigmoid"
    user_implicit: np.ndarray | None = None
    rated: np.ndarray | None = None

    @property
    def has_bias(self) -> bool:
        return self.user_bias is not None

    @property
    def predicts_ratings(self) -> bool:
        return self.link != "logistic"

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """The model's outputs for index pairs, dropout off: what the Keras model computes, in float32 NumPy."""
        dots = np.einsum("ij,ij->i", self.user[users], self.movie[movies])
        if not self.has_bias:
            return dots
        logit = dots + self.user_bias[users] + self.movie_bias[movies] + np.float32(self.global_offset)
        return self.squash(logit)

    def squash(self, logit: np.ndarray) -> np.ndarray:
        """What the model's output does to a logit (see ``link``)."""
        return link_output(logit, self.link, self.min_rating, self.max_rating)


def link_output(logit, link: str, min_rating: float | None = None, max_rating: float | None = None) -> np.ndarray:
    """The link function, the one place it is written for NumPy: what a model with biases does with its logit
    (``dot + biases + offset``). "identity" returns it (the SVD), "logistic" its sigmoid, a probability (the
    implicit task), and "sigmoid" that sigmoid scaled to ``min_rating``..``max_rating`` (the bias model, SVD++,
    AutoRec). Computed in the logit's own float type: float32 for a model's outputs, as Keras computes them,
    float64 for fold-in's fitting and an explanation's terms.

    Raises:
        ValueError: for a link that is none of :data:`LINKS`.
    """
    if link not in LINKS:
        raise ValueError(f"link must be one of {', '.join(LINKS)}. Received: {link!r}")
    logit = np.asarray(logit)
    if logit.dtype.kind != "f":
        logit = logit.astype(np.float64)
    if link == "identity":
        return logit
    with np.errstate(over="ignore"):  # exp(-z) is inf for z < -88 (float32): the sigmoid is then 0, as it should
        probability = 1.0 / (1.0 + np.exp(-logit))
    if link == "logistic":
        return probability
    kind = logit.dtype.type
    return probability * kind(max_rating - min_rating) + kind(min_rating)


def implicit_sets(pairs: np.ndarray, n_users: int, n_movies: int) -> tuple[np.ndarray, ...]:
    """SVD++'s rated sets from training pairs ``(user, movie)`` as two compressed rows:
    ``(user_splits, user_movies, movie_splits, movie_users)``: user u rated ``user_movies[user_splits[u]:
    user_splits[u + 1]]``, movie i was rated by ``movie_users[movie_splits[i]:movie_splits[i + 1]]``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    out = []
    for key, other, n in ((0, 1, n_users), (1, 0, n_movies)):
        order = np.lexsort((pairs[:, other], pairs[:, key]))
        splits = np.concatenate([[0], np.cumsum(np.bincount(pairs[:, key], minlength=n))])
        out += [splits.astype(np.int32), pairs[order, other].astype(np.int32)]
    return tuple(out)


def rated_sums(splits: np.ndarray, members: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``|S|^-1/2 * sum of table rows over S`` for each row's set S (row k's set is
    ``members[splits[k]:splits[k + 1]]``; 0 for an empty set): SVD++'s implicit terms, in NumPy."""
    import scipy.sparse as sp

    lengths = np.diff(splits).astype(np.int64)
    scale = 1.0 / np.sqrt(np.maximum(lengths, 1))
    rows = np.repeat(np.arange(len(lengths)), lengths)
    sets = sp.csr_matrix((scale[rows], members, splits), shape=(len(lengths), table.shape[0]))
    return np.asarray(sets @ table.astype(np.float64), dtype=np.float32)


def svdpp_embeddings(user: np.ndarray, movie: np.ndarray, rated: np.ndarray, rater: np.ndarray,
                     sets: tuple[np.ndarray, ...], **biases) -> Embeddings:
    """SVD++'s tables as :class:`Embeddings`: whole vectors (own part + rated sets' part), with the parts fold-in
    and the explanation need. ``sets`` is :func:`implicit_sets`' four arrays; ``biases`` the
    remaining :class:`Embeddings` fields (user_bias, movie_bias, global_offset, min_rating, max_rating)."""
    user_splits, user_movies, movie_splits, movie_users = sets
    user_part = rated_sums(user_splits, user_movies, rated)
    movie_part = rated_sums(movie_splits, movie_users, rater)
    return Embeddings(user + user_part, movie + movie_part, user_implicit=user_part, rated=rated, **biases)


def embeddings_from_arrays(arrays: Mapping[str, np.ndarray]) -> Embeddings:
    """:class:`Embeddings` from the arrays of an ``embeddings.npz`` (already checked: see
    :func:`cfcore.runs.folder.read_run_files`). Biases come with ``global_offset``, ``min_rating``, ``max_rating`` and
    ``link``; SVD++'s own parts with ``rated``, ``rater`` and the :data:`SET_NAMES` arrays."""
    user, movie = arrays["user"], arrays["movie"]
    if "user_bias" not in arrays:
        return Embeddings(user, movie)
    biases = dict(user_bias=arrays["user_bias"], movie_bias=arrays["movie_bias"],
                  global_offset=float(arrays["global_offset"]), min_rating=float(arrays["min_rating"]),
                  max_rating=float(arrays["max_rating"]))
    if "rated" in arrays:
        sets = tuple(np.asarray(arrays[name]) for name in SET_NAMES)
        return svdpp_embeddings(user, movie, arrays["rated"], arrays["rater"], sets, **biases)
    return Embeddings(user, movie, **biases, link=str(arrays["link"]))


def write_embeddings_file(arrays: Mapping[str, np.ndarray], folder: str | Path) -> Path:
    """Write ``arrays`` as the folder's ``embeddings.npz`` (under a temporary name, then renamed)."""
    target = Path(folder) / EMBEDDINGS_FILE
    temporary = target.with_name(f".{EMBEDDINGS_FILE}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as fh:
            np.savez(fh, **{name: np.asarray(value) for name, value in arrays.items()})
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
