"""A movie's nearest neighbours in embedding space, by cosine or dot product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import movie_index, movie_table
from cfcore.runs.run import Run

METRICS = ("cosine", "dot")


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
    index = movie_index(run, movie_id)
    movie = run.embeddings.movie.astype(np.float64)
    similarity = movie @ movie[index]
    if metric == "cosine":
        norms = np.linalg.norm(movie, axis=1)
        denominator = norms * norms[index]
        # A zero vector has no direction: call it unrelated rather than divide by zero.
        similarity = np.divide(similarity, denominator, out=np.zeros_like(similarity), where=denominator > 0)
    table = movie_table(run)
    table.insert(3, "similarity", similarity)
    keep = (table["num_ratings"] > min_ratings).to_numpy(copy=True)
    keep[index] = False
    table = table[keep].sort_values("similarity", ascending=False, kind="stable")
    return table.head(max(int(k), 0)).reset_index(drop=True)[
        ["movieId", "title", "genres", "similarity", "num_ratings", "rating"]
    ]
