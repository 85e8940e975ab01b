"""cfcore.analysis.biases: what a model's biases learned, on planted data."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.analysis.errors import AnalysisError
from tests.support.data import make_synthetic_frames


@pytest.fixture(scope="module")
def everyone_likes_x():
    """Planted: every user who rated the first movie ("X") gave it 5 stars, whatever their taste; a bias model
    trained on it (a few seconds)."""
    from cfcore.config import TrainConfig
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings
    from cfcore.training.fit import train

    ratings, movies = make_synthetic_frames(n_users=80, n_movies=40, seed=3)
    x = int(movies["movieId"].iloc[0])
    ratings.loc[ratings["movieId"] == x, "rating"] = 5.0
    dataset = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "planted")
    config = TrainConfig(model="dot_with_bias", embedding_dim=4, epochs=20, batch_size=64, learning_rate=0.01,
                         patience=0, seed=1, user_dropout=0.0, movie_dropout=0.0)
    return train(dataset, config), x


def test_the_movie_everyone_likes_has_the_highest_bias(everyone_likes_x):
    from cfcore.analysis.biases import RANKED_KEYS, bias_rankings

    run, x = everyone_likes_x
    ranked = bias_rankings(run, min_ratings=0, top=5)
    assert int(ranked["highest"]["movieId"].iloc[0]) == x
    assert x not in set(ranked["lowest"]["movieId"])
    assert list(ranked["highest"].columns[: len(RANKED_KEYS)]) == RANKED_KEYS and ranked["highest"].index[0] == 1
    assert ranked["lowest"]["bias"].is_monotonic_increasing and ranked["highest"]["bias"].is_monotonic_decreasing


def test_the_line_and_the_movies_far_from_it(everyone_likes_x):
    from cfcore.analysis.biases import far_from_the_line, movie_biases, user_biases

    run, _ = everyone_likes_x
    movies = movie_biases(run, min_ratings=5)
    assert (movies["num_ratings"] > 5).all()
    slope, intercept = np.polyfit(movies["mean_rating"], movies["bias"], 1)
    assert slope > 0  # a bias mostly follows the mean rating
    np.testing.assert_allclose(movies["off_line"], movies["bias"] - (slope * movies["mean_rating"] + intercept),
                               atol=1e-9)
    far = far_from_the_line(run, 5, 3)
    assert far["off_line"].abs().tolist() == sorted(movies["off_line"].abs(), reverse=True)[:3]
    assert len(user_biases(run)) == run.dataset.n_users


def test_a_model_without_biases_says_so(dot_run):
    from cfcore.analysis.biases import bias_rankings

    with pytest.raises(AnalysisError, match="no biases"):
        bias_rankings(dot_run)
