"""How alike two sets of movie factors are: linear CKA, nearest-neighbour overlap, Procrustes.

Two runs (of any kind) are compared over the movies both have factors for; with ``min_ratings`` only those
with more than that many ratings in both runs' data (the article's filter is 20). Factors are compared as they
are: CKA and the neighbour overlap do not care about a rotation of either side, and :func:`procrustes_align`
finds the rotation that puts one map on top of the other before they are drawn side by side. NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cfcore.analysis.pca import pca

if TYPE_CHECKING:
    from cfcore.runs.run import Run

NEIGHBOURS = 10


class SimilarityError(ValueError):
    """Two representations that cannot be compared (too few shared movies, no variance); says why."""


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith et al., 2019) of two ``(n, d)`` and ``(n, e)`` matrices
    whose rows are the same items: 1 for representations equal up to rotation and scale, near 0 for unrelated
    ones. ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc``, ``Yc``.

    Raises:
        SimilarityError: for different row counts, fewer than 2 rows, or a side with no variance.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 2:
        raise SimilarityError(f"CKA needs two matrices with the same number (2 or more) of rows; got {x.shape} "
                              f"and {y.shape}")
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    denominator = np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    if denominator == 0:
        raise SimilarityError("one of the representations has no variance over these movies")
    return float(np.linalg.norm(yc.T @ xc) ** 2 / denominator)


def nearest_rows(x: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """Each row's ``k`` nearest other rows by cosine, nearest first; ``block`` rows at a time (all 9,724 movies
    at once would be a 750 MB similarity matrix)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    found = np.empty((len(x), k), dtype=np.int64)
    for start in range(0, len(x), block):
        cosine = unit[start:start + block] @ unit.T
        rows = np.arange(cosine.shape[0])
        cosine[rows, start + rows] = -np.inf  # a movie is not its own neighbour
        top = np.argpartition(-cosine, k - 1, axis=1)[:, :k]  # the k nearest, in no order: O(n) a row
        order = np.argsort(-np.take_along_axis(cosine, top, axis=1), axis=1, kind="stable")
        found[start:start + block] = np.take_along_axis(top, order, axis=1)
    return found


def neighbour_overlap(x: np.ndarray, y: np.ndarray, k: int = NEIGHBOURS) -> float:
    """The mean share of each row's ``k`` nearest neighbours (cosine) that both representations agree on.

    Raises:
        SimilarityError: for different row counts or ``k`` rows or fewer.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y) or len(x) <= k:
        raise SimilarityError(f"neighbour overlap@{k} needs more than {k} shared movies; there are "
                              f"{min(len(x), len(y))}")
    a, b = nearest_rows(x, k), nearest_rows(y, k)
    shared = [len(np.intersect1d(row_a, row_b, assume_unique=True)) for row_a, row_b in zip(a, b, strict=True)]
    return float(np.mean(shared) / k)


def procrustes_align(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y`` turned (an orthogonal map, after centring both) to lie as close as it can to ``x``: the
    solution of ``min ||Yc R - Xc||_F`` over orthogonal ``R``. Both must have the same shape."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise SimilarityError(f"Procrustes needs two matrices of one shape; got {x.shape} and {y.shape}")
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    u, _, vt = np.linalg.svd(yc.T @ xc)
    return yc @ (u @ vt) + x.mean(axis=0)


@dataclass(frozen=True)
class Comparison:
    """Two runs' movie factors compared over the movies they share (``movie_ids``)."""

    linear_cka: float
    neighbour_overlap_at_10: float
    movie_ids: np.ndarray

    def to_json(self) -> dict:
        """The CLI's contract: ``{"linear_cka", "neighbour_overlap_at_10", "movies"}``."""
        return {"linear_cka": self.linear_cka, "neighbour_overlap_at_10": self.neighbour_overlap_at_10,
                "movies": int(len(self.movie_ids))}


def shared_movies(run_a: Run, run_b: Run, min_ratings: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The movieIds both runs have factors for, with more than ``min_ratings`` ratings in both runs' data
    (0: every shared movie), and those movies' rows of each run's factors."""
    def counted(run: Run) -> dict[int, int]:
        movies = run.dataset.movies
        return dict(zip(movies["movieId"].astype(int), movies["num_ratings"].astype(int), strict=True))

    a_counts, b_counts = counted(run_a), counted(run_b)
    a_rows, b_rows = run_a.dataset.movie_to_index, run_b.dataset.movie_to_index
    ids = np.array(sorted(m for m in a_rows.keys() & b_rows.keys()
                          if a_counts.get(m, 0) > min_ratings and b_counts.get(m, 0) > min_ratings), dtype=np.int64)
    x = run_a.embeddings.movie[[a_rows[int(m)] for m in ids]] if len(ids) else np.empty((0, 0))
    y = run_b.embeddings.movie[[b_rows[int(m)] for m in ids]] if len(ids) else np.empty((0, 0))
    return ids, x, y


def compare_runs(run_a: Run, run_b: Run, min_ratings: int = 20) -> Comparison:
    """Linear CKA and neighbour overlap@10 of two runs' movie factors over their shared movies.

    Raises:
        SimilarityError: when they share too few movies (11 at least) or one side has no variance.
    """
    ids, x, y = shared_movies(run_a, run_b, min_ratings)
    if len(ids) and not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise SimilarityError("a run's movie factors hold NaN or infinity (a diverged run?): nothing to compare")
    if len(ids) <= NEIGHBOURS:
        raise SimilarityError(f"the two runs share {len(ids)} movies with more than {min_ratings} ratings; "
                              f"at least {NEIGHBOURS + 1} are needed (lower --min-ratings, or compare runs on the "
                              "same data)")
    return Comparison(linear_cka(x, y), neighbour_overlap(x, y), ids)


def aligned_maps(run_a: Run, run_b: Run, min_ratings: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both runs' shared movies on their own first two principal components (centred, as CKA is, and scaled to
    a root-mean-square distance of 1 from the centre, as CKA ignores scale), ``run_b``'s map turned and flipped
    (orthogonal Procrustes) to lie as close as it can on ``run_a``'s.

    Returns:
        Two frames with movieId, title, genres, num_ratings, rating, x and y: the same movies in the same order.

    Raises:
        SimilarityError: when the runs share fewer than 3 movies above ``min_ratings``.
    """
    ids, x, y = shared_movies(run_a, run_b, min_ratings)
    if len(ids) < 3 or x.shape[1] < 2 or y.shape[1] < 2:
        raise SimilarityError(f"a map needs 3 shared movies with 2 factors or more; there are {len(ids)}")
    a, b = (_unit_spread(pca(m, centered=True, n_scores=2).scores) for m in (x, y))
    b = procrustes_align(a, b)
    movies = run_a.dataset.movies.set_index("movieId").loc[ids].reset_index()
    table = pd.DataFrame({"movieId": ids, "title": movies["title"], "genres": movies["genres"],
                          "num_ratings": movies["num_ratings"], "rating": movies["mean_rating"]})
    return table.assign(x=a[:, 0], y=a[:, 1]), table.assign(x=b[:, 0], y=b[:, 1])


def _unit_spread(points: np.ndarray) -> np.ndarray:
    spread = float(np.sqrt(np.mean(np.sum(points**2, axis=1))))
    return points / spread if spread > 0 else points


def extremes(frame: pd.DataFrame, column: str, n: int = 5) -> pd.DataFrame:
    """The ``n`` movies lowest and the ``n`` highest on a map's ``column``: columns end ("lowest"/"highest"),
    title, the value."""
    ordered = frame.sort_values(column, kind="stable")
    low, high = ordered.head(n), ordered.tail(n).iloc[::-1]
    return pd.DataFrame({"end": ["lowest"] * len(low) + ["highest"] * len(high),
                         "title": list(low["title"]) + list(high["title"]),
                         column: list(low[column]) + list(high[column])})


def chance_overlap(n_movies: int, k: int = NEIGHBOURS) -> float:
    """The neighbour overlap@k two unrelated representations of ``n_movies`` movies would have on average."""
    return k / max(n_movies - 1, 1)
