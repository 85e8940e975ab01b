"""cfcore.data.dataset: dense indices for users and movies, the movie table, datasets from uploaded files."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from cfcore.data.dataset import dataset_from_files
from cfcore.data.errors import DataError
from cfcore.data.sources import load_dataset
from tests.support.data import HEADER, MOVIES, write_pair


def test_load_folder_indexes_users_and_movies_densely(synthetic_folder, synthetic_frames):
    ratings, movies = synthetic_frames
    ds = load_dataset(synthetic_folder)
    assert ds.n_ratings == len(ratings)
    assert ds.n_users == ratings["userId"].nunique() == 60
    assert ds.n_movies == ratings["movieId"].nunique() == 40
    # The synthetic ids have gaps (3k+1, 7k+2); the indices must not.
    assert sorted(ds.ratings["user"].unique()) == list(range(ds.n_users))
    assert sorted(ds.ratings["movie"].unique()) == list(range(ds.n_movies))
    assert list(ds.index_to_user) == sorted(ratings["userId"].unique())
    assert list(ds.index_to_movie) == sorted(ratings["movieId"].unique())
    # The maps go both ways and agree with every rating row.
    assert all(ds.user_to_index[int(u)] == i for i, u in enumerate(ds.index_to_user))
    assert all(ds.movie_to_index[int(m)] == j for j, m in enumerate(ds.index_to_movie))
    np.testing.assert_array_equal(ds.index_to_user[ds.ratings["user"]], ds.ratings["userId"])
    np.testing.assert_array_equal(ds.index_to_movie[ds.ratings["movie"]], ds.ratings["movieId"])
    assert ds.ratings["user"].dtype == np.int32 and ds.ratings["movie"].dtype == np.int32
    assert ds.min_rating == ratings["rating"].min() and ds.max_rating == ratings["rating"].max()
    assert ds.sparsity == pytest.approx(1 - len(ratings) / (60 * 40))


def test_movies_table_is_joined_in_index_order(synthetic_dataset, synthetic_frames):
    ratings, movies = synthetic_frames
    table = synthetic_dataset.movies
    assert list(table.columns) == ["movieId", "title", "genres", "num_ratings", "mean_rating"]
    np.testing.assert_array_equal(table["movieId"], synthetic_dataset.index_to_movie)
    titles = movies.set_index("movieId")["title"]
    assert list(table["title"]) == list(titles.loc[table["movieId"]])
    stats = ratings.groupby("movieId")["rating"].agg(["size", "mean"]).loc[table["movieId"]]
    np.testing.assert_array_equal(table["num_ratings"], stats["size"])
    np.testing.assert_allclose(table["mean_rating"], stats["mean"], rtol=1e-6)
    assert table["num_ratings"].sum() == synthetic_dataset.n_ratings


def test_unrated_movies_get_no_index(tmp_path):
    ratings = pd.DataFrame({"userId": [5, 9], "movieId": [3, 1], "rating": [4.0, 2.5]})
    movies = pd.DataFrame({"movieId": [1, 2, 3], "title": ["A", "B", "C"], "genres": ["x", "y", "z"]})
    ds = load_dataset(write_pair(tmp_path / "d", ratings, movies))
    assert ds.n_movies == 2 and list(ds.movies["title"]) == ["A", "C"]
    assert ds.summary()["n_ratings"] == 2 and len(ds.fingerprint) == 64


def test_upload_bytes_and_file_objects(synthetic_frames):
    ratings, movies = synthetic_frames
    ratings_bytes = ratings.to_csv(index=False).encode()
    ds = dataset_from_files(io.BytesIO(ratings_bytes), movies.to_csv(index=False).encode())
    assert ds.n_ratings == len(ratings) and ds.source == "upload"


def test_unknown_movie_is_reported_with_line():
    ratings = (HEADER + "1,1,4,0\n1,2,4,0\n2,99,3,0\n").encode()
    with pytest.raises(DataError) as info:
        dataset_from_files(ratings, MOVIES)
    message = str(info.value)
    assert message.startswith("ratings.csv: column 'movieId' line 4:")
    assert "movieId 99" in message and "movies.csv" in message


def test_a_movie_title_is_found_by_its_id(synthetic_dataset):
    first = int(synthetic_dataset.index_to_movie[0])
    assert synthetic_dataset.movie_title(first) == synthetic_dataset.movies["title"].iloc[0]
    assert synthetic_dataset.movie_title(10**9) is None
