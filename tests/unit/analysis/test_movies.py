"""cfcore.analysis.movies: the heatmap's rows, finding movies by title, the most-rated ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import find_movies, heatmap_frame, most_rated
from tests.support.runs import make_run


def test_heatmap_frame_is_first_movies_in_id_order_with_titles():
    movie = np.arange(24, dtype=float).reshape(8, 3)
    run = make_run("simple_dot", movie)
    frame = heatmap_frame(run, n_movies=5)
    assert list(frame.index) == [f"Film {j} ({1980 + j})" for j in range(5)]
    assert list(frame.columns) == [1, 2, 3]
    np.testing.assert_allclose(frame.to_numpy(), movie[:5])
    assert len(heatmap_frame(run)) == 8  # default 20, capped at the number of movies
    with pytest.raises(AnalysisError):
        heatmap_frame(run, n_movies=0)


def test_most_rated_keeps_the_most_rated_rows_in_their_order():
    movies = pd.DataFrame({"movieId": [10, 20, 30, 40, 50], "num_ratings": [5, 50, 7, 50, 7]}, index=[4, 3, 2, 1, 0])
    top = most_rated(movies, 3)  # of the two with 7 ratings, the first
    assert top["movieId"].tolist() == [20, 30, 40] and top.index.tolist() == [3, 2, 1]
    assert most_rated(movies, 2)["movieId"].tolist() == [20, 40]
    assert most_rated(movies, 5) is movies and most_rated(movies, 0).empty
    with pytest.raises(AnalysisError, match="limit=-1"):
        most_rated(movies, -1)


def test_find_movies_is_case_insensitive_and_most_rated_first():
    run = make_run("simple_dot", np.ones((4, 2)), counts=[2, 5, 3, 1], n_users=5)
    found = find_movies(run, "FILM")
    assert list(found.columns) == ["movieId", "title", "genres", "num_ratings", "rating"]
    assert found["num_ratings"].tolist() == [5, 3, 2, 1]
    assert find_movies(run, "film 2 (")["title"].tolist() == ["Film 2 (1982)"]
    assert find_movies(run, "(.*)").empty  # plain text, not a regex
    assert len(find_movies(run, "", limit=2)) == 2


def test_most_rated_takes_only_the_rows_a_mask_marks():
    movies = pd.DataFrame({"movieId": [1, 2, 3, 4, 5], "num_ratings": [9, 1, 7, 7, 3]})
    mask = np.array([False, True, True, True, True])
    assert most_rated(movies, 2, where=mask)["movieId"].tolist() == [3, 4]  # not 1: the mask leaves it out
    assert most_rated(movies, 10, where=mask)["movieId"].tolist() == [2, 3, 4, 5]
    assert most_rated(movies, 10) is movies
