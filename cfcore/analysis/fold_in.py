"""Fold-in: a new person's vector fitted to a few ratings with the movie side held fixed, their recommendations
and their place on the PCA map.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import movie_index
from cfcore.analysis.pca import pca
from cfcore.analysis.predict import ranked, require_ratings
from cfcore.runs.embeddings import Embeddings, link_output
from cfcore.runs.run import Run

# Fold-in for the bias model: ratings are mapped to (0, 1) and clipped this far from the ends before
# taking the logit, so a top or bottom rating gives a large but finite target.
_LOGIT_CLIP = 0.01

_GAUSS_NEWTON_STEPS = 30


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
    index = np.array([movie_index(run, m) for m in movie_ids])
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
        s = link_output(features @ params + offset, "logistic")
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
    return link_output(dot + bias + emb.movie_bias + emb.global_offset, emb.link, emb.min_rating, emb.max_rating)


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
    return ranked(run, _scores_for_vector(emb, vector, fold.bias), top, min_ratings, skip)


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
