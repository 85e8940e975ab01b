"""Looking inside a trained run: embeddings, PCA, neighbours, per-user predictions, fold-in, explanations.

Every function takes a :class:`cfcore.runs.Run` and returns plain NumPy
arrays, pandas frames or small dataclasses. Nothing here imports TensorFlow:
a run is arrays, and predictions are the model's arithmetic in NumPy, with
dropout off (inference mode).

Movie tables share these columns: ``movieId``, ``title``, ``genres``,
``num_ratings`` (ratings in the full data set) and ``rating`` (their mean).
Every ``min_ratings`` filter keeps movies with *more than* ``min_ratings`` ratings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore.config import IMPLICIT_PART
from cfcore.runs.embeddings import Embeddings  # noqa: F401 - Embeddings re-exported for callers
from cfcore.runs.run import Run  # noqa: F401 - Embeddings re-exported for callers
from cfcore.text import spreadsheet_cell, spreadsheet_safe


class AnalysisError(ValueError):
    """A request that cannot be answered for this run (unknown user or movie, wrong model, bad option)."""


# Rows per model call when predicting many pairs at once.
_PREDICT_CHUNK = 65_536
# Fold-in for the bias model: ratings are mapped to (0, 1) and clipped this far from the ends before
# taking the logit, so a top or bottom rating gives a large but finite target.
_LOGIT_CLIP = 0.01
_GAUSS_NEWTON_STEPS = 30
METRICS = ("cosine", "dot")
RANKING_KEYS = ("pc1_lowest", "pc1_highest", "pc2_lowest", "pc2_highest")
RANKING_COLUMNS = ["title", "PC1", "PC2", "rating", "genres", "num_ratings"]


# ---------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------


def _movie_table(run: Run) -> pd.DataFrame:
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


# ---------------------------------------------------------------------------
# PCA
# ---------------------------------------------------------------------------


@dataclass
class PCAResult:
    """Principal components of an ``(n, d)`` matrix, ``k = min(n, d)`` components.

    ``scores`` ``(n, k)`` (or its first columns only, when asked for fewer); ``components`` ``(d, k)`` loadings
    (unit columns);
    ``variance`` ``(k,)``; ``explained`` ``(k,)`` fractions summing to 1;
    ``mean`` ``(d,)`` is what was subtracted (zeros when not centered).
    """

    scores: np.ndarray
    components: np.ndarray
    variance: np.ndarray
    explained: np.ndarray
    centered: bool
    mean: np.ndarray | None = None

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Scores of new rows ``(m, d)`` on the same axes: ``(vectors - mean) @ components``."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        mean = self.mean if self.mean is not None else 0.0
        return (vectors - mean) @ self.components


def pca(matrix: np.ndarray, centered: bool = False, n_scores: int | None = None) -> PCAResult:
    """Principal component analysis by singular value decomposition.

    With ``centered=False`` (the default, as in the article) this is R's
    ``prcomp(x, center = FALSE)``: the SVD ``X = U S V^T`` of the raw matrix,
    scores ``U S``, loadings ``V`` and variances ``s**2 / (n - 1)``. With
    ``centered=True`` the column means are subtracted first (ordinary PCA).

    Sign convention: SVD signs are arbitrary, so each component is flipped so that
    its largest-magnitude loading is positive (the first such entry on ties);
    scores flip with it.

    Args:
        matrix: ``(n, d)`` array with ``n >= 2``.
        centered: Subtract column means before the SVD.
        n_scores: Compute the scores on the first ``n_scores`` components only (None: all). The components,
            variances and :meth:`PCAResult.project` are unchanged.

    Raises:
        AnalysisError: for fewer than two rows or non-finite values.
    """
    x = np.asarray(matrix)
    if x.dtype.kind not in "fiu":
        x = x.astype(np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise AnalysisError(f"PCA needs a 2-D matrix with at least 2 rows. Received shape: {x.shape}")
    if not np.isfinite(x).all():
        raise AnalysisError("PCA needs finite values; the matrix has NaN or infinity")
    mean = x.mean(axis=0, dtype=np.float64) if centered else np.zeros(x.shape[1])
    if x.shape[0] > GRAM_PCA_ROWS and x.shape[0] > 4 * x.shape[1]:
        components, s = _gram_components(x, mean)
    else:
        _u, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        components = vt.T
    pivot = np.abs(components).argmax(axis=0)
    signs = np.where(components[pivot, np.arange(components.shape[1])] < 0, -1.0, 1.0)
    components = components * signs
    scores = _project(x, mean, components[:, :n_scores])
    variance = s**2 / (x.shape[0] - 1)
    total = variance.sum()
    explained = variance / total if total > 0 else np.zeros_like(variance)
    return PCAResult(scores, components, variance, explained, bool(centered), mean)


# Past this many rows, PCA decomposes the small d x d matrix X^T X instead of X itself: for 200,000 movies x 64
# the SVD's workspace took the server's peak RSS up by 393 MB (5.8 s); the d x d route by about the scores' own
# 98 MB. Its components are the same up to rounding (the condition number is squared: fine for the leading ones).
GRAM_PCA_ROWS = 50_000
_BLOCK_ROWS = 8192


def _gram_components(x: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The right singular vectors and singular values of ``x - mean``, from its d x d Gram matrix, in blocks."""
    gram = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, x.shape[0], _BLOCK_ROWS):
        block = np.asarray(x[start:start + _BLOCK_ROWS], dtype=np.float64) - mean
        gram += block.T @ block
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1]
    return vectors[:, order], np.sqrt(np.clip(values[order], 0.0, None))


def _project(x: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``(x - mean) @ components`` in blocks, so no float64 copy of ``x`` is made at once."""
    scores = np.empty((x.shape[0], components.shape[1]))
    for start in range(0, x.shape[0], _BLOCK_ROWS):
        scores[start:start + _BLOCK_ROWS] = (np.asarray(x[start:start + _BLOCK_ROWS], dtype=np.float64) - mean) @ \
            components
    return scores


def off_scale(predicted, low: float, high: float) -> tuple[int, float, float]:
    """How many ``predicted`` ratings fall outside ``[low, high]`` (or are not finite), and the lowest and
    highest prediction."""
    values = np.asarray(predicted, dtype=np.float64)
    outside = int(np.count_nonzero(~np.isfinite(values) | (values < low) | (values > high)))
    finite = values[np.isfinite(values)]
    return outside, float(finite.min()) if finite.size else math.nan, float(finite.max()) if finite.size else math.nan


def pc1_average_alignment(matrix: np.ndarray, result: PCAResult) -> float:
    """|cosine| between PC1's direction and the rows' average vector: near 1 when (uncentered) PC1 mostly
    measures how much of what all rows share each row has; 0 for an average of zero."""
    mean = np.asarray(matrix, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0 or result.components.shape[1] == 0:
        return 0.0
    return float(abs(mean @ result.components[:, 0]) / norm)


def movie_pca_frame(run: Run, centered: bool = False) -> tuple[PCAResult, pd.DataFrame]:
    """PCA of the movie embeddings, with one row per movie (movie-index order).

    Returns:
        The :class:`PCAResult` (scores on PC1 and PC2 only) and a frame with movieId, title, genres,
        num_ratings, rating (mean), then the ``PC1`` and ``PC2`` scores.
    """
    # The maps and rankings read PC1 and PC2 only: all 64 scores of an upload's 200,000 movies were 98 MB.
    result = pca(run.embeddings.movie, centered=centered, n_scores=2)
    # The frame's PC columns are the result's scores themselves, not a copy.
    frame = pd.DataFrame(result.scores, columns=[f"PC{i + 1}" for i in range(result.scores.shape[1])], copy=False)
    for position, (name, column) in enumerate(_movie_table(run).items()):
        frame.insert(position, name, column)
    return result, frame


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


def pc_rankings(run: Run, min_ratings: int = 20, top: int = 10, centered: bool = False,
                frame: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The movies at both ends of PC1 and PC2, as in the article.

    Only movies with more than ``min_ratings`` ratings (counted in the full data)
    take part.

    Returns:
        ``{"pc1_lowest", "pc1_highest", "pc2_lowest", "pc2_highest"}`` -> frames with
        columns title, PC1, PC2, rating, genres, num_ratings; index is the rank from 1.

    Args:
        frame: The run's :func:`movie_pca_frame` frame (with ``centered``), when the caller has it already.

    Raises:
        AnalysisError: if the embeddings have fewer than two dimensions.
    """
    if top < 1:
        raise AnalysisError(f"top must be at least 1. Received: top={top}")
    if frame is None:
        frame = movie_pca_frame(run, centered=centered)[1]
    if "PC2" not in frame:
        raise AnalysisError("PC rankings need at least two principal components (embedding dimension >= 2)")
    # Positions, not copies of the frame: at 200,000 movies each filtered or sorted copy was 111 MB.
    pool = np.flatnonzero(frame["num_ratings"].to_numpy() > min_ratings)
    tables = {}
    for pc in ("PC1", "PC2"):
        ordered = pool[np.argsort(frame[pc].to_numpy()[pool], kind="stable")]
        for label, rows in (("lowest", ordered[:top]), ("highest", ordered[::-1][:top])):
            table = frame[RANKING_COLUMNS].iloc[rows].reset_index(drop=True)
            table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
            tables[f"{pc.lower()}_{label}"] = table
    return tables


# ---------------------------------------------------------------------------
# Movies: search and neighbours
# ---------------------------------------------------------------------------


def _movie_index(run: Run, movie_id) -> int:
    try:
        key = int(movie_id)
    except (TypeError, ValueError):
        raise AnalysisError(f"movieId must be a whole number. Received: {movie_id!r}") from None
    index = run.dataset.movie_to_index.get(key)
    if index is None:
        raise AnalysisError(f"unknown movieId {key}: no such movie has ratings in this run's data")
    return index


def _user_index(run: Run, user_id) -> int:
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        raise AnalysisError(f"userId must be a whole number. Received: {user_id!r}") from None
    index = run.dataset.user_to_index.get(key)
    if index is None:
        ids = run.dataset.index_to_user
        raise AnalysisError(f"unknown userId {key}; this run's users are {int(ids.min())}..{int(ids.max())}")
    return index


def find_movies(run: Run, query: str, limit: int = 20) -> pd.DataFrame:
    """Movies whose title contains ``query`` (case-insensitive, plain text), most-rated first.

    Returns:
        Frame with movieId, title, genres, num_ratings, rating; at most ``limit`` rows.
    """
    table = _movie_table(run)
    text = str(query or "").strip().lower()
    if text:
        table = table[table["title"].str.lower().str.contains(text, regex=False)]
    table = table.sort_values(["num_ratings", "title"], ascending=[False, True], kind="stable")
    return table.head(max(int(limit), 0)).reset_index(drop=True)


def nearest_movies(
    run: Run, movie_id: int, k: int = 10, metric: str = "cosine", min_ratings: int = 0
) -> pd.DataFrame:
    """The ``k`` movies whose embeddings are most similar to one movie's (the movie itself excluded).

    Args:
        run: A trained run.
        movie_id: The movie's movieId.
        k: How many neighbours.
        metric: "cosine" (angle only) or "dot" (angle and length).
        min_ratings: Keep neighbours with more than this many ratings.

    Returns:
        Frame with movieId, title, genres, similarity, num_ratings, rating; most similar first.

    Raises:
        AnalysisError: for an unknown movieId or metric.
    """
    if metric not in METRICS:
        raise AnalysisError(f"metric must be one of {', '.join(METRICS)}. Received: metric={metric!r}")
    index = _movie_index(run, movie_id)
    movie = run.embeddings.movie.astype(np.float64)
    similarity = movie @ movie[index]
    if metric == "cosine":
        norms = np.linalg.norm(movie, axis=1)
        denominator = norms * norms[index]
        # A zero vector has no direction: call it unrelated rather than divide by zero.
        similarity = np.divide(similarity, denominator, out=np.zeros_like(similarity), where=denominator > 0)
    table = _movie_table(run)
    table.insert(3, "similarity", similarity)
    keep = (table["num_ratings"] > min_ratings).to_numpy(copy=True)
    keep[index] = False
    table = table[keep].sort_values("similarity", ascending=False, kind="stable")
    return table.head(max(int(k), 0)).reset_index(drop=True)[
        ["movieId", "title", "genres", "similarity", "num_ratings", "rating"]
    ]


# ---------------------------------------------------------------------------
# Predictions for users
# ---------------------------------------------------------------------------


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


def user_ratings(run: Run, user_id: int) -> pd.DataFrame:
    """Every movie one user rated, with the model's prediction.

    Returns:
        Frame with movieId, title, genres, rating (actual), predicted,
        error (predicted - actual) and split ("train"/"validation"), highest actual rating first.

    Raises:
        AnalysisError: for an unknown userId.
    """
    index = _user_index(run, user_id)
    ratings = run.dataset.ratings
    rows = np.flatnonzero(ratings["user"].to_numpy() == index)
    movie_idx = ratings["movie"].to_numpy()[rows]
    actual = ratings["rating"].to_numpy(dtype=np.float64)[rows]
    predicted = predict(run, index, movie_idx)
    table = _movie_table(run).iloc[movie_idx]
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


def _ranked(run: Run, predicted: np.ndarray, top: int, min_ratings: int, exclude_index: np.ndarray) -> pd.DataFrame:
    table = _movie_table(run)
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
    index = _user_index(run, user_id)
    ratings = run.dataset.ratings
    seen = ratings["movie"].to_numpy()[ratings["user"].to_numpy() == index]
    predicted = predict(run, index, np.arange(run.dataset.n_movies))
    return _ranked(run, predicted, top, min_ratings, seen)


# ---------------------------------------------------------------------------
# Fold-in: a new person against frozen movie embeddings
# ---------------------------------------------------------------------------


@dataclass
class FoldIn:
    """A user vector fitted to a few ratings, movies frozen. ``bias`` is 0.0 for the dot-only models."""

    vector: np.ndarray
    bias: float
    movies_used: list[int]


def _ridge(features: np.ndarray, target: np.ndarray, reg: float) -> np.ndarray:
    """argmin ||features @ w - target||^2 + reg ||w||^2, via least squares on an augmented system."""
    width = features.shape[1]
    a = np.vstack([features, math.sqrt(reg) * np.eye(width)])
    b = np.concatenate([target, np.zeros(width)])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow warnings


def fold_in(run: Run, ratings: Mapping[int, float], reg: float = 0.1) -> FoldIn:
    """Fit a new user's vector (and bias) to a few ratings, with the movie embeddings frozen.

    Dot-only models: ridge regression ``min ||V u - r||^2 + reg ||u||^2`` over the
    rated movies' embeddings ``V``.

    SVD++: the new person's rated set is the movies they rated here, so ``|S|^-1/2 sum y_j`` is known and added
    to the fitted part of their vector (the model's own structure, nothing fitted for it).

    Bias model (rating = min + (max - min) * sigmoid(u.v + b_u + b_m + g)): ratings are
    scaled to (0, 1), clipped 0.01 from the ends and mapped through the logit; a ridge
    regression of ``[v_m, 1]`` on ``logit - b_m - g`` gives a start ``(u, b_u)``. A few
    Gauss-Newton steps (with step halving, so the loss never rises) then minimise the real
    loss ``sum (prediction - rating)^2 + reg (||u||^2 + b_u^2)``, which undoes the
    distortion of the clipped top and bottom ratings.

    No weights of the model change.

    Args:
        run: A trained run.
        ratings: movieId -> rating, e.g. ``{1: 5.0, 296: 4.0}``.
        reg: Ridge penalty (>= 0) on the user vector and bias.

    Raises:
        AnalysisError: for no ratings, an unknown movieId, or a rating that is not a finite number.
    """
    if not ratings:
        raise AnalysisError("fold-in needs at least one (movieId, rating) pair")
    if not (isinstance(reg, int | float) and math.isfinite(reg) and reg >= 0):
        raise AnalysisError(f"reg must be a number >= 0. Received: reg={reg!r}")
    movie_ids = [int(m) for m in ratings]
    index = np.array([_movie_index(run, m) for m in movie_ids])
    try:
        target = np.array([float(ratings[m]) for m in ratings], dtype=np.float64)
    except (TypeError, ValueError):
        raise AnalysisError("every rating must be a number") from None
    if not np.isfinite(target).all():
        raise AnalysisError("every rating must be a finite number")
    require_ratings(run, "fold-in")
    emb = run.embeddings
    v = emb.movie[index].astype(np.float64)
    if not emb.has_bias:
        return FoldIn(_ridge(v, target, reg), 0.0, movie_ids)
    if emb.link == "identity":  # the SVD: rating = u.v + b_u + b_m + g, a ridge regression of [v, 1]
        offset = emb.movie_bias[index].astype(np.float64) + emb.global_offset
        theta = _ridge(np.hstack([v, np.ones((len(v), 1))]), target - offset, reg)
        return FoldIn(theta[:-1], float(theta[-1]), movie_ids)

    low, high = float(emb.min_rating), float(emb.max_rating)
    scale = high - low
    offset = emb.movie_bias[index].astype(np.float64) + emb.global_offset
    # SVD++: the rated set is exactly what the new person gave, so that part of their vector is known.
    known = (emb.rated[index].astype(np.float64).sum(axis=0) / math.sqrt(len(index)) if emb.rated is not None
             else np.zeros(v.shape[1]))
    offset = offset + v @ known
    features = np.hstack([v, np.ones((len(v), 1))])
    p = np.clip((target - low) / scale, _LOGIT_CLIP, 1.0 - _LOGIT_CLIP)
    theta = _ridge(features, np.log(p / (1.0 - p)) - offset, reg)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        s = _sigmoid(features @ params + offset)
        residual = low + scale * s - target
        return float(residual @ residual + reg * params @ params), residual, s

    current, residual, s = loss(theta)
    root = math.sqrt(reg)
    for _ in range(_GAUSS_NEWTON_STEPS):
        jacobian = (scale * s * (1.0 - s))[:, None] * features
        a = np.vstack([jacobian, root * np.eye(len(theta))])
        b = -np.concatenate([residual, root * theta])
        step = np.linalg.lstsq(a, b, rcond=None)[0]
        t = 1.0
        while t > 1e-6:
            trial = theta + t * step
            value, trial_residual, trial_s = loss(trial)
            if value < current:
                break
            t *= 0.5
        else:
            break  # no step lowers the loss: a minimum
        improvement = current - value
        theta, current, residual, s = trial, value, trial_residual, trial_s
        if improvement < 1e-12 * max(1.0, current):
            break
    return FoldIn(theta[:-1] + known, float(theta[-1]), movie_ids)


def _scores_for_vector(emb: Embeddings, vector: np.ndarray, bias: float) -> np.ndarray:
    """Predicted rating of every movie for one user vector, as the model computes it (dropout off)."""
    dot = emb.movie.astype(np.float64) @ np.asarray(vector, dtype=np.float64)
    if not emb.has_bias:
        return dot
    logit = dot + bias + emb.movie_bias + emb.global_offset
    if emb.link == "identity":
        return logit
    return emb.min_rating + (emb.max_rating - emb.min_rating) * _sigmoid(logit)


def recommend_for_vector(
    run: Run, fold: FoldIn, top: int = 10, min_ratings: int = 0, exclude: Iterable[int] = ()
) -> pd.DataFrame:
    """Top predicted movies for a folded-in user; ``exclude`` holds movieIds to leave out (e.g. the rated ones).

    Returns:
        Frame with movieId, title, genres, predicted, num_ratings, rating; best first.
    """
    emb = run.embeddings
    vector = np.asarray(fold.vector, dtype=np.float64)
    if vector.shape != (emb.movie.shape[1],):
        raise AnalysisError(f"the fold-in vector has shape {vector.shape}; this run needs ({emb.movie.shape[1]},)")
    lookup = run.dataset.movie_to_index
    skip = np.array([lookup[int(m)] for m in exclude if int(m) in lookup], dtype=np.int64)
    return _ranked(run, _scores_for_vector(emb, vector, fold.bias), top, min_ratings, skip)


def project_vector(run: Run, fold: FoldIn, centered: bool = False) -> tuple[float, float]:
    """Position (PC1, PC2) of a folded-in user on the movie-embedding PCA axes.

    The user vector is projected onto the movies' principal components (after
    subtracting the movies' mean when ``centered``), so it lands on the same map
    as :func:`movie_pca_frame`'s scores.
    """
    result = pca(run.embeddings.movie, centered=centered)
    if result.components.shape[1] < 2:
        raise AnalysisError("a PC1/PC2 position needs at least two principal components")
    point = result.project(np.asarray(fold.vector, dtype=np.float64))[0]
    return float(point[0]), float(point[1])


# ---------------------------------------------------------------------------
# Explaining one prediction of the bias model
# ---------------------------------------------------------------------------


@dataclass
class Explanation:
    """One prediction of a model with biases, taken apart.

    ``logit = global_offset + user_bias + movie_bias + implicit + contributions.sum()``; with ``link`` "sigmoid"
    ``prediction = min_rating + (max_rating - min_rating) * sigmoid`` with ``sigmoid = 1 / (1 + exp(-logit))``,
    with ``link`` "identity" (the SVD) ``prediction = logit`` (``sigmoid`` is NaN). ``implicit`` is SVD++'s
    term for what the user rated (0 for other models). ``actual`` is the user's rating of the movie, if any.
    """

    global_offset: float
    user_bias: float
    movie_bias: float
    contributions: np.ndarray
    logit: float
    sigmoid: float
    min_rating: float
    max_rating: float
    prediction: float
    user_id: int = 0
    movie_id: int = 0
    title: str = ""
    actual: float | None = None
    link: str = "sigmoid"
    implicit: float = 0.0

    def parts(self) -> pd.DataFrame:
        """The additive pieces of the logit: columns part, value; the values sum to ``logit``.

        Rows: "global offset", "user bias", "movie bias", "what they rated" (SVD++ only), then "dim 1" .. "dim d".
        """
        names = ["global offset", "user bias", "movie bias"]
        values = [self.global_offset, self.user_bias, self.movie_bias]
        if self.implicit:
            names.append(IMPLICIT_PART)
            values.append(self.implicit)
        names += [f"dim {i + 1}" for i in range(len(self.contributions))]
        return pd.DataFrame({"part": names, "value": values + [*map(float, self.contributions)]})



def explain_prediction(run: Run, user_id: int, movie_id: int) -> Explanation:
    """Break a model's predicted rating of one movie by one user into its parts (any model with biases: the
    bias model, SVD++, the SVD, AutoRec).

    Raises:
        AnalysisError: for an unknown user or movie, a model without biases, or one that predicts no ratings.
    """
    emb = run.embeddings
    if not emb.has_bias:
        raise AnalysisError(
            f"explaining a prediction needs a model with biases; this run's model is {run.config.model!r}, "
            "whose prediction is just the dot product of the two embeddings"
        )
    require_ratings(run, "explaining a prediction")
    u_index, m_index = _user_index(run, user_id), _movie_index(run, movie_id)
    movie = emb.movie[m_index].astype(np.float64)
    user = emb.user[u_index].astype(np.float64)
    implicit = 0.0
    if emb.user_implicit is not None:  # SVD++: the user's vector is their own part plus what they rated
        part = emb.user_implicit[u_index].astype(np.float64)
        implicit, user = float(part @ movie), user - part
    contributions = user * movie
    user_bias, movie_bias = float(emb.user_bias[u_index]), float(emb.movie_bias[m_index])
    logit = emb.global_offset + user_bias + movie_bias + implicit + float(contributions.sum())
    sigmoid = float(_sigmoid(np.float64(logit))) if emb.link == "sigmoid" else math.nan
    prediction = logit if emb.link == "identity" else float(emb.min_rating + (emb.max_rating - emb.min_rating)
                                                            * sigmoid)
    ratings = run.dataset.ratings
    match = ratings.loc[(ratings["user"] == u_index) & (ratings["movie"] == m_index), "rating"]
    return Explanation(
        global_offset=emb.global_offset,
        user_bias=user_bias,
        movie_bias=movie_bias,
        contributions=contributions,
        logit=logit,
        sigmoid=sigmoid,
        min_rating=float(emb.min_rating),
        max_rating=float(emb.max_rating),
        prediction=float(prediction),
        user_id=int(user_id),
        movie_id=int(movie_id),
        title=str(run.dataset.movies["title"].iloc[m_index]),
        actual=float(match.iloc[0]) if len(match) else None,
        link=emb.link,
        implicit=implicit,
    )


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------


def embeddings_frame(run: Run) -> pd.DataFrame:
    """Movie embeddings as a table: movieId, title, then dim_1 .. dim_d (movie-index order)."""
    movie = run.embeddings.movie
    table = _movie_table(run)[["movieId", "title"]]
    dims = pd.DataFrame(movie, columns=[f"dim_{i + 1}" for i in range(movie.shape[1])])
    return pd.concat([table, dims], axis=1)


def _tsv_field(text: str) -> str:
    # The Embedding Projector splits on tabs and lines; a title must stay one field, and a spreadsheet
    # opening the file must not run it as a formula.
    return spreadsheet_cell(" ".join(str(text).replace("\t", " ").splitlines()))


def write_projector_files(run: Run, out_dir: str | Path) -> list[Path]:
    """Write ``movie_embeddings.csv`` and the Embedding Projector's ``vectors.tsv`` and ``metadata.tsv``.

    ``vectors.tsv`` has no header, one movie per line; ``metadata.tsv`` has the
    header ``title, genres, movieId, num_ratings, rating`` and the same line order
    (load both at https://projector.tensorflow.org).

    Returns:
        The three paths written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise AnalysisError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    frame = embeddings_frame(run)
    csv_path = out / "movie_embeddings.csv"
    spreadsheet_safe(frame).to_csv(csv_path, index=False, float_format="%.7g")
    vectors_path = out / "vectors.tsv"
    dims = frame.drop(columns=["movieId", "title"]).to_numpy(dtype=np.float64)
    np.savetxt(vectors_path, dims, fmt="%.7g", delimiter="\t")
    metadata_path = out / "metadata.tsv"
    table = _movie_table(run)
    lines = ["title\tgenres\tmovieId\tnum_ratings\trating"]
    lines += [
        f"{_tsv_field(r.title)}\t{_tsv_field(r.genres)}\t{r.movieId}\t{r.num_ratings}\t{r.rating:.3f}"
        for r in table.itertuples(index=False)
    ]
    metadata_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [csv_path, vectors_path, metadata_path]
