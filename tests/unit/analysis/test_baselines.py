"""cfcore.analysis.baselines: baselines on synthetic splits with planted biases, the ladder on the tiny run, and
when a run has diverged."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.analysis.baselines import (
    BaselineResult,
    baseline_ladder,
    bias_baseline,
    diverged,
    fit_biases,
    global_mean_baseline,
)
from cfcore.data.split import Split
from tests.support.data import make_synthetic_frames


def planted_split(n_users=200, n_movies=120, density=0.3, noise=0.3, seed=0):
    """Ratings = 3.5 + user bias + movie bias + noise; a random 80/20 split."""
    rng = np.random.default_rng(seed)
    user_bias = rng.normal(0, 0.5, n_users)
    movie_bias = rng.normal(0, 0.7, n_movies)
    u, m = np.nonzero(rng.random((n_users, n_movies)) < density)
    y = 3.5 + user_bias[u] + movie_bias[m] + rng.normal(0, noise, len(u))
    x = np.stack([u, m], axis=1).astype(np.int32)
    order = rng.permutation(len(y))
    n_val = len(y) // 5
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    split = Split(x[train], y[train].astype(np.float32), x[val], y[val].astype(np.float32), train, val, 0.2, seed)
    return split, user_bias, movie_bias


def test_global_mean_baseline_is_the_training_mean():
    split, _, _ = planted_split()
    result = global_mean_baseline(split)
    mean = split.y_train.astype(np.float64).mean()
    assert isinstance(result, BaselineResult) and result.name == "global mean"
    assert result.val_rmse == pytest.approx(np.sqrt(np.mean((split.y_val - mean) ** 2)))
    assert result.train_rmse == pytest.approx(split.y_train.astype(np.float64).std())


def test_bias_baseline_recovers_planted_biases_and_beats_the_mean():
    split, user_bias, movie_bias = planted_split()
    mu, fitted_user, fitted_movie = fit_biases(split, 200, 120)
    assert np.corrcoef(fitted_user, user_bias)[0, 1] > 0.95
    assert np.corrcoef(fitted_movie, movie_bias)[0, 1] > 0.95
    mean, biases = global_mean_baseline(split), bias_baseline(split, 200, 120)
    assert biases.val_rmse < 0.4 < mean.val_rmse  # noise is 0.3; the biases spread ratings by ~0.86
    assert biases.train_rmse < mean.train_rmse


def test_unregularised_biases_converge_to_least_squares():
    split, _, _ = planted_split(n_users=30, n_movies=20, density=0.6)
    mu, bu, bm = fit_biases(split, 30, 20, reg=0.0, sweeps=200)
    # Least squares over [1, one-hot user, one-hot movie]; the fit is unique even though the parameters are not.
    x = split.x_train
    design = np.zeros((len(x), 1 + 30 + 20))
    design[:, 0] = 1
    design[np.arange(len(x)), 1 + x[:, 0]] = 1
    design[np.arange(len(x)), 31 + x[:, 1]] = 1
    coef = np.linalg.lstsq(design, split.y_train.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(mu + bu[x[:, 0]] + bm[x[:, 1]], design @ coef, atol=1e-6)


def test_more_sweeps_never_fit_worse():
    split, _, _ = planted_split(seed=1)
    one = bias_baseline(split, 200, 120, sweeps=1)
    many = bias_baseline(split, 200, 120, sweeps=10)
    assert many.train_rmse <= one.train_rmse + 1e-12


def test_users_and_movies_missing_from_training_get_zero_bias():
    x = np.array([[0, 0], [0, 1], [1, 0]], dtype=np.int32)
    y = np.array([4.0, 2.0, 3.0], dtype=np.float32)
    split = Split(x, y, np.array([[2, 2]], np.int32), np.array([3.0], np.float32), np.arange(3), np.array([3]),
                  0.25, 0)
    mu, bu, bm = fit_biases(split, 3, 3, reg=1.0)
    assert bu[2] == 0.0 and bm[2] == 0.0
    assert bias_baseline(split, 3, 3, reg=1.0).val_rmse == pytest.approx(0.0)  # 3.0 is the mean
    with pytest.raises(ValueError):
        fit_biases(split, 3, 3, reg=-1.0)


def test_baseline_ladder_on_a_trained_run(tiny_run):
    ladder = baseline_ladder(tiny_run)
    assert list(ladder.columns) == ["name", "val_rmse"]
    assert ladder["name"].tolist() == ["global mean", "user + movie biases", tiny_run.name]
    # (No ordering check here: the tiny run's data is a pure rank-2 product with no real biases.)
    assert ladder["val_rmse"].iloc[0] == pytest.approx(global_mean_baseline(tiny_run.split).val_rmse)
    # The model's row is recomputed with dropout off; it must agree with what training measured.
    assert ladder["val_rmse"].iloc[2] == pytest.approx(tiny_run.result.best_val_rmse, abs=1e-3)


def test_a_narrow_rating_scale_does_not_make_a_young_run_diverged():
    from cfcore.config import TrainConfig
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings
    from cfcore.training.fit import train

    ratings, movies = make_synthetic_frames(seed=3)
    ratings["rating"] = np.where(ratings["rating"] > 3, 5.0, 4.0)  # every rating 4 or 5
    data = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "narrow")
    young = train(data, TrainConfig(model="simple_dot", embedding_dim=4, epochs=1, batch_size=64,
                                    learning_rate=0.01, patience=0, seed=1))
    assert young.result.history[-1]["val_rmse"] > data.max_rating - data.min_rating  # the old rule's trap
    assert not diverged(young)
