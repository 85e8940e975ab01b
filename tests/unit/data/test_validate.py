"""cfcore.data.validate: one test per rule, each checking that the message names the file, the column and
the line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfcore.data.dataset import build_dataset
from cfcore.data.errors import DataError
from cfcore.data.read import read_movies
from cfcore.data.validate import validate_movies, validate_ratings
from tests.support.data import HEADER, MOVIES, movies_error, ratings_error


def test_empty_genres_become_no_genres_listed():
    movies = read_movies(MOVIES)
    assert movies.loc[2, "genres"] == "(no genres listed)"


def test_missing_column_is_named():
    message = ratings_error("userId,movie_id,rating\n1,2,3\n")
    assert message.startswith("ratings.csv: line 1")
    assert "'movieId'" in message and "'movie_id'" in message


def test_missing_movie_column_is_named():
    message = movies_error("movieId,name,genres\n1,A,Comedy\n")
    assert message.startswith("movies.csv: line 1") and "'title'" in message


def test_repeated_header_column_is_rejected():
    message = ratings_error("userId,movieId,rating,rating\n1,2,3,4\n")
    assert message.startswith("ratings.csv: line 1") and "'rating'" in message


def test_non_numeric_user_id():
    message = ratings_error(HEADER + "1,1,4,0\nabc,1,4,0\n")
    assert message.startswith("ratings.csv: column 'userId' line 3:") and "'abc'" in message


def test_fractional_and_negative_ids_are_rejected():
    assert "column 'movieId' line 2: '1.5'" in ratings_error(HEADER + "1,1.5,4,0\n")
    assert "column 'userId' line 2: '-3'" in ratings_error(HEADER + "-3,1,4,0\n")


def test_non_numeric_rating():
    message = ratings_error(HEADER + "1,1,4,0\n1,2,4,0\n2,1,five,0\n")
    assert message.startswith("ratings.csv: column 'rating' line 4:") and "'five'" in message


@pytest.mark.parametrize("cell, shown", [("NaN", "'NaN'"), ("", "'(empty)'"), ("inf", "'inf'")])
def test_missing_or_nan_rating(cell, shown):
    message = ratings_error(HEADER + f"1,1,4,0\n2,1,{cell},0\n")
    assert message.startswith("ratings.csv: column 'rating' line 3:") and shown in message


def test_missing_id_cell():
    message = ratings_error(HEADER + "1,,4,0\n")
    assert message.startswith("ratings.csv: column 'movieId' line 2:") and "(empty)" in message


@pytest.mark.parametrize("value", ["11", "-1"])
def test_rating_out_of_range(value):
    message = ratings_error(HEADER + f"1,1,4,0\n1,2,3,0\n1,3,{value},0\n")
    assert message.startswith("ratings.csv: column 'rating' line 4:")
    assert value in message and "0 to 10" in message


def test_duplicate_pair_is_rejected_with_both_lines():
    message = ratings_error(HEADER + "1,1,4,0\n1,2,3,0\n1,1,5,0\n")
    assert message.startswith("ratings.csv: line 4:")
    assert "user 1 rated movie 1 twice" in message and "first on line 2" in message


def test_movies_rules():
    assert movies_error("movieId,title,genres\n1,A,x\nz,B,y\n").startswith("movies.csv: column 'movieId' line 3:")
    assert movies_error("movieId,title,genres\n1,A,x\n2, ,y\n").startswith("movies.csv: column 'title' line 3:")
    message = movies_error("movieId,title,genres\n1,A,x\n2,B,y\n1,C,z\n")
    assert message.startswith("movies.csv: line 4:") and "movieId 1 appears more than once" in message


def test_validate_frames_directly():
    # The app validates frames it built itself; messages still name the row's line.
    frame = pd.DataFrame({"userId": ["1", "2"], "movieId": ["1", "1"], "rating": ["4", "nan"]})
    with pytest.raises(DataError, match="ratings.csv: column 'rating' line 3"):
        validate_ratings(frame)
    typed = validate_ratings(frame.assign(rating=["4", "3.5"]))
    assert typed["rating"].dtype == np.float32 and typed["userId"].dtype == np.int64
    movies = validate_movies(pd.DataFrame({"movieId": ["1"], "title": ["A"], "genres": ["x"]}))
    assert build_dataset(typed, movies).n_movies == 1
