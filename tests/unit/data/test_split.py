"""cfcore.data.split: a seeded, disjoint and complete train/validation split, and its cold-start counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfcore.data.dataset import build_dataset
from cfcore.data.errors import DataError
from cfcore.data.split import split_dataset
from cfcore.data.validate import validate_movies, validate_ratings


def test_split_is_seeded_disjoint_and_complete(synthetic_dataset):
    ds = synthetic_dataset
    a, b = split_dataset(ds, 0.2, seed=7), split_dataset(ds, 0.2, seed=7)
    np.testing.assert_array_equal(a.val_rows, b.val_rows)
    c = split_dataset(ds, 0.2, seed=8)
    assert not np.array_equal(a.val_rows, c.val_rows)
    assert a.n_val == round(ds.n_ratings * 0.2) and a.n_train + a.n_val == ds.n_ratings
    assert np.intersect1d(a.train_rows, a.val_rows).size == 0
    assert a.x_train.shape == (a.n_train, 2) and a.x_train.dtype == np.int32
    np.testing.assert_array_equal(a.x_val[:, 0], ds.ratings["user"].to_numpy()[a.val_rows])
    np.testing.assert_array_equal(a.y_val, ds.ratings["rating"].to_numpy()[a.val_rows])


def test_cold_start_counts_match_a_direct_count(synthetic_frames):
    ratings, movies = synthetic_frames
    # Give the last user and movie a single rating each, so some validation rows are cold.
    extra = pd.DataFrame({"userId": [9999, 9999], "movieId": [2, 10000], "rating": [3.0, 4.0], "timestamp": [0, 0]})
    extra_movie = pd.DataFrame({"movieId": [10000], "title": ["Lonely"], "genres": ["Drama"]})
    ds = build_dataset(validate_ratings(pd.concat([ratings, extra]).astype(str)),
                       validate_movies(pd.concat([movies, extra_movie]).astype(str)))
    cold = 0
    for seed in range(5):
        split = split_dataset(ds, 0.3, seed)
        counts = split.cold_start_counts()
        seen_u, seen_m = set(split.x_train[:, 0]), set(split.x_train[:, 1])
        new_u = np.array([u not in seen_u for u in split.x_val[:, 0]])
        new_m = np.array([m not in seen_m for m in split.x_val[:, 1]])
        assert counts == {"unseen_user": new_u.sum(), "unseen_movie": new_m.sum(),
                          "unseen_either": (new_u | new_m).sum()}
        cold += counts["unseen_either"]
    assert cold > 0


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1e-9])
def test_split_rejects_bad_fractions(synthetic_dataset, fraction):
    with pytest.raises(DataError, match="validation fraction|leaves one side empty"):
        split_dataset(synthetic_dataset, fraction)
