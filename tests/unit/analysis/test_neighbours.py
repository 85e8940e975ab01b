"""cfcore.analysis.neighbours: a movie's nearest neighbours by cosine and by dot product."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.neighbours import nearest_movies
from tests.support.runs import make_run


def three_movie_run():
    # Film 1 points the same way as film 0 but is short; film 2 is long but at 45 degrees.
    movie = np.array([[1.0, 0.0], [0.9, 0.1], [5.0, 5.0]])
    return make_run("simple_dot", movie, counts=[3, 1, 3], n_users=3)


def test_nearest_movies_cosine_versus_dot():
    run = three_movie_run()
    ids = run.dataset.index_to_movie
    cosine = nearest_movies(run, int(ids[0]))
    assert list(cosine.columns) == ["movieId", "title", "genres", "similarity", "num_ratings", "rating"]
    assert cosine["movieId"].tolist() == [ids[1], ids[2]]  # itself excluded
    np.testing.assert_allclose(cosine["similarity"], [0.9 / math.hypot(0.9, 0.1), 1 / math.sqrt(2)], atol=1e-6)
    dot = nearest_movies(run, int(ids[0]), metric="dot")
    assert dot["movieId"].tolist() == [ids[2], ids[1]]
    np.testing.assert_allclose(dot["similarity"], [5.0, 0.9], atol=1e-6)
    filtered = nearest_movies(run, int(ids[0]), min_ratings=1)
    assert filtered["movieId"].tolist() == [ids[2]]
    assert len(nearest_movies(run, int(ids[0]), k=1)) == 1


def test_nearest_movies_errors():
    run = three_movie_run()
    with pytest.raises(AnalysisError, match="unknown movieId 999"):
        nearest_movies(run, 999)
    with pytest.raises(AnalysisError, match="metric"):
        nearest_movies(run, int(run.dataset.index_to_movie[0]), metric="euclid")
