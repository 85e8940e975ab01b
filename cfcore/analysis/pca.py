"""Uncentered (the article's) or centered PCA of the movie embeddings, and the movies at either end of PC1 and PC2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import movie_table
from cfcore.runs.run import Run

RANKING_KEYS = ("pc1_lowest", "pc1_highest", "pc2_lowest", "pc2_highest")

RANKING_COLUMNS = ["title", "PC1", "PC2", "rating", "genres", "num_ratings"]


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
    for position, (name, column) in enumerate(movie_table(run).items()):
        frame.insert(position, name, column)
    return result, frame


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
