"""cfcore.training.factors: other ways to get movie factors (SVD, AutoRec, the implicit task), as runs."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cfcore.analysis.pca import pc_rankings
from cfcore.config import factor_config
from cfcore.data.dataset import build_dataset
from cfcore.data.validate import validate_movies, validate_ratings
from cfcore.runs.run import load_run
from cfcore.training.factors import masked_mse, sample_negatives, svd_factors
from cfcore.training.fit import train
from cfcore.training.save import save_run


def _dataset(users, movies, ratings, n_movies):
    frame = pd.DataFrame({"userId": np.asarray(users) + 1, "movieId": np.asarray(movies) + 1, "rating": ratings})
    titles = pd.DataFrame({"movieId": np.arange(1, n_movies + 1), "title": [f"M{i}" for i in range(n_movies)],
                           "genres": "Drama"})
    return build_dataset(validate_ratings(frame.astype(str)), validate_movies(titles.astype(str)), "test")


def test_svd_recovers_a_planted_low_rank_matrix():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(40, 3))
    q = rng.normal(size=(30, 3))
    p -= p.mean(axis=0)  # every row and column of p q^T then averages 0: the biases have nothing to take
    q -= q.mean(axis=0)
    planted = 3.0 + 0.3 * p @ q.T
    users, movies = (grid.ravel() for grid in np.meshgrid(np.arange(40), np.arange(30), indexing="ij"))
    emb = svd_factors(users, movies, planted.ravel(), 40, 30, dim=3, seed=0)
    predicted = emb.predict(users, movies).reshape(40, 30)
    assert np.abs(predicted - planted).max() < 1e-3
    # The movie factors span the planted movie space: every principal angle between them is ~0.
    basis_a, basis_b = np.linalg.qr(emb.movie.astype(np.float64))[0], np.linalg.qr(q)[0]
    assert np.linalg.svd(basis_a.T @ basis_b, compute_uv=False).min() > 0.999
    # Largest singular value first, and the movie factors are V sqrt(S): their column norms are sqrt(S).
    norms = np.linalg.norm(emb.movie, axis=0)
    assert np.all(np.diff(norms) <= 1e-6)
    assert np.allclose(norms, np.linalg.norm(emb.user, axis=0), rtol=1e-4)


def test_masked_mse_ignores_missing_entries():
    target = tf.constant([[4.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    mask = tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    predicted = tf.constant([[3.0, 9.0, 2.5], [-7.0, 3.5, 100.0]])
    other = tf.constant([[3.0, -50.0, 2.5], [123.0, 3.5, 0.0]])  # differs only where nothing was observed
    garbage = tf.where(mask > 0, target, 77.0)
    loss = float(masked_mse(target, predicted, mask))
    assert loss == pytest.approx((1.0 + 0.25 + 0.25) / 3)
    assert float(masked_mse(target, other, mask)) == pytest.approx(loss)
    assert float(masked_mse(garbage, predicted, mask)) == pytest.approx(loss)


def test_autorec_loss_falls_and_its_codes_are_the_movie_factors(synthetic_dataset):
    config = factor_config("autorec", 4, 1, epochs=15, patience=0, learning_rate=0.01, batch_size=8)
    run = train(synthetic_dataset, config)
    losses = [row["loss"] for row in run.result.history]
    assert len(losses) == 15 and losses[-1] < 0.75 * losses[0]
    assert run.embeddings.movie.shape == (synthetic_dataset.n_movies, 4)
    assert ((run.embeddings.movie > 0) & (run.embeddings.movie < 1)).all()  # sigmoid codes
    x = run.split.x_val
    assert np.allclose(run.model.predict(x, verbose=0)[:, 0], run.embeddings.predict(x[:, 0], x[:, 1]), atol=1e-5)
    assert run.result.best_val_rmse < 1.0


def test_autorec_stops_when_asked(synthetic_dataset):
    stop = threading.Event()
    seen = []

    def listener(progress):
        seen.append(progress)
        if progress.step >= 1:
            stop.set()

    run = train(synthetic_dataset, factor_config("autorec", 4, 1, batch_size=4), listeners=[listener],
                stop_event=stop)
    assert run.result.stopped_by_user and run.result.epochs_run == 1


def test_negative_samples_are_never_rated():
    keys = np.sort(np.array([0 * 10 + 1, 0 * 10 + 2, 1 * 10 + 5], dtype=np.int64))
    users, movies = sample_negatives(np.array([0, 0, 1]), keys, 10, 50, np.random.default_rng(0))
    assert len(users) > 100
    assert not np.isin(users * 10 + movies, keys).any()


def test_implicit_embeddings_put_co_rated_movies_near_each_other():
    rng = np.random.default_rng(0)
    users, movies = [], []
    for user in range(60):
        group = range(0, 10) if user < 30 else range(10, 20)  # two planted circles of taste
        chosen = rng.choice(list(group), 7, replace=False)
        users += [user] * 7
        movies += list(chosen)
    dataset = _dataset(users, movies, rng.integers(1, 11, len(users)) / 2.0, 20)
    config = factor_config("implicit", 8, 3, epochs=30, learning_rate=0.02, batch_size=64)
    run = train(dataset, config)
    vectors = run.embeddings.movie / np.linalg.norm(run.embeddings.movie, axis=1, keepdims=True)
    # Movie indices follow movieId order, so index i is planted movie i.
    cosine = vectors @ vectors.T
    within = np.mean([cosine[a, b] for a in range(20) for b in range(20) if a != b and (a < 10) == (b < 10)])
    across = np.mean([cosine[a, b] for a in range(10) for b in range(10, 20)])
    assert within > across + 0.5, (within, across)
    assert run.result.history[-1]["loss"] < run.result.history[0]["loss"]
    assert np.isnan(run.result.best_val_rmse) and run.result.best_epoch == 0


@pytest.mark.parametrize("method", ["svd", "autorec", "implicit"])
def test_factor_runs_save_and_load_as_run_folders(method, synthetic_dataset, tmp_path):
    run = train(synthetic_dataset, factor_config(method, 4, 2, epochs=2))
    folder = save_run(run, tmp_path / method)
    back = load_run(folder)
    assert back.config.model == method
    assert back.embeddings.link == {"svd": "identity", "autorec": "sigmoid", "implicit": "logistic"}[method]
    assert np.array_equal(back.embeddings.movie, run.embeddings.movie)
    x = run.split.x_val
    keras_out = run.model.predict(x, verbose=0)[:, 0]
    assert np.allclose(keras_out, back.embeddings.predict(x[:, 0], x[:, 1]), atol=1e-5)
    assert pc_rankings(back, min_ratings=0, top=3)["pc1_lowest"].shape[0] == 3
