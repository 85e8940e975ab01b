"""One prediction taken apart: the offset, the biases and each dimension's part of the dot product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import movie_index, user_index
from cfcore.analysis.predict import require_ratings
from cfcore.config import IMPLICIT_PART
from cfcore.runs.embeddings import link_output
from cfcore.runs.run import Run


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
    u_index, m_index = user_index(run, user_id), movie_index(run, movie_id)
    movie = emb.movie[m_index].astype(np.float64)
    user = emb.user[u_index].astype(np.float64)
    implicit = 0.0
    if emb.user_implicit is not None:  # SVD++: the user's vector is their own part plus what they rated
        part = emb.user_implicit[u_index].astype(np.float64)
        implicit, user = float(part @ movie), user - part
    contributions = user * movie
    user_bias, movie_bias = float(emb.user_bias[u_index]), float(emb.movie_bias[m_index])
    logit = emb.global_offset + user_bias + movie_bias + implicit + float(contributions.sum())
    sigmoid = float(link_output(logit, "logistic")) if emb.link == "sigmoid" else math.nan
    prediction = float(link_output(logit, emb.link, emb.min_rating, emb.max_rating))
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
