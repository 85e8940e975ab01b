"""cfcore.training.fit: learning planted structure, progress, stopping, early stopping, determinism, and
the real MovieLens copy."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pytest

from cfcore.config import PRESETS, ConfigError, TrainConfig
from cfcore.data.sources import load_dataset
from cfcore.data.split import split_dataset
from cfcore.training.fit import train

# No dropout and a brisk learning rate: the planted rank-2 structure is found in a few epochs.
PLANTED = TrainConfig(model="dot_with_bias", embedding_dim=8, epochs=6, batch_size=32, learning_rate=0.02,
                      user_dropout=0.0, movie_dropout=0.0, patience=0, seed=1)


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, dtype=np.float64).ravel() - np.asarray(b).ravel()) ** 2)))


@pytest.fixture(scope="module")
def planted_split(synthetic_dataset):
    return split_dataset(synthetic_dataset, 0.2, seed=1)


@pytest.fixture(scope="module")
def planted_run(synthetic_dataset, planted_split):
    return train(synthetic_dataset, PLANTED, split=planted_split)


def test_model_beats_the_global_mean_on_planted_data(planted_run, planted_split):
    baseline = rmse(planted_split.y_val, np.full(planted_split.n_val, planted_split.y_train.mean()))
    result = planted_run.result
    assert result.best_val_rmse < 0.75 * baseline, (result.best_val_rmse, baseline)
    # The returned model really is the best epoch's: its own predictions give that RMSE.
    predicted = planted_run.model.predict(planted_split.x_val, verbose=0)
    assert rmse(predicted, planted_split.y_val) == pytest.approx(result.best_val_rmse, rel=1e-3)
    assert result.history[result.best_epoch - 1]["val_rmse"] == result.best_val_rmse


def test_best_epoch_is_judged_by_rmse_even_with_l2(synthetic_dataset, planted_split):
    # With l2 > 0, val_loss includes the penalty and can disagree with val RMSE about the best epoch.
    config = replace(PLANTED, epochs=8, l2=0.01)
    run = train(synthetic_dataset, config, split=planted_split)
    rmses = [row["val_rmse"] for row in run.result.history]
    assert run.result.best_epoch == int(np.argmin(rmses)) + 1 and run.result.best_val_rmse == min(rmses)
    predicted = run.model.predict(planted_split.x_val, verbose=0)
    assert rmse(predicted, planted_split.y_val) == pytest.approx(run.result.best_val_rmse, rel=1e-3)


def test_loss_decreases_and_history_is_complete(planted_run):
    history = planted_run.result.history
    assert len(history) == planted_run.result.epochs_run == PLANTED.epochs
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["train_rmse"] < history[0]["train_rmse"]
    for row in history:
        assert set(row) == {"epoch", "loss", "val_loss", "train_rmse", "val_rmse", "seconds", "complete"}
        assert row["complete"] and row["seconds"] > 0
        assert row["train_rmse"] == pytest.approx(math.sqrt(row["loss"]), rel=1e-3)
        assert row["val_rmse"] == pytest.approx(math.sqrt(row["val_loss"]), rel=1e-3)
    assert [row["epoch"] for row in history] == list(range(1, PLANTED.epochs + 1))
    result = planted_run.result
    assert (result.n_train, result.n_val) == (planted_run.split.n_train, planted_run.split.n_val)
    assert not result.stopped_by_user and not result.stopped_early


def test_listeners_hear_batches_and_epochs(synthetic_dataset):
    events = []
    config = replace(PLANTED, epochs=2, steps_per_execution=4)
    run = train(synthetic_dataset, config, listeners=[events.append])
    epochs = [p for p in events if p.stage == "epoch"]
    batches = [p for p in events if p.stage == "batch"]
    steps = batches[0].steps_per_epoch
    assert steps == math.ceil(run.split.n_train / config.batch_size)
    assert [p.epoch for p in epochs] == [1, 2] and all(p.epochs == 2 for p in events)
    assert [len(p.history) for p in epochs] == [1, 2]
    for epoch in (1, 2):
        seen = [p.step for p in batches if p.epoch == epoch]
        assert len(seen) >= 2, "progress must also arrive within an epoch"
        # Step 0 as the epoch begins (a sign of life before the first batch group), then every group of 4.
        assert seen == sorted(seen) and seen[:2] == [0, 4] and seen[-1] == steps
    # Each report carries a copy of the history, not the live list.
    epochs[0].history.clear()
    assert len(run.result.history) == 2


def test_stop_event_ends_training_within_one_batch_group(synthetic_dataset):
    stop = threading.Event()
    events = []

    def listener(progress):
        events.append(progress)
        if progress.stage == "batch":
            stop.set()

    config = replace(PLANTED, epochs=5, steps_per_execution=4)
    run = train(synthetic_dataset, config, listeners=[listener], stop_event=stop)
    batches = [p for p in events if p.stage == "batch"]
    assert batches[-1].step <= 8 < batches[-1].steps_per_epoch  # at most one more group ran
    result = run.result
    assert result.stopped_by_user and not result.stopped_early
    assert len(result.history) == 1 and result.history[0]["complete"] is False
    assert math.isfinite(result.history[0]["val_rmse"])


def test_stop_before_start_trains_nothing(synthetic_dataset):
    stop = threading.Event()
    stop.set()
    run = train(synthetic_dataset, replace(PLANTED, epochs=3), stop_event=stop)
    assert run.result.stopped_by_user and run.result.history == []


def test_early_stopping_with_patience(synthetic_dataset, planted_split):
    # A learning rate this high overshoots after the first epochs; patience 1 stops it.
    config = replace(PLANTED, epochs=30, learning_rate=0.5, patience=1)
    result = train(synthetic_dataset, config, split=planted_split).result
    assert result.stopped_early and result.epochs_run < 30
    assert result.epochs_run == result.best_epoch + 1
    # The same run with exactly that many epochs: patience runs out in the last one, so nothing stopped early
    # (it said "stopped early" next to "Epochs run 10 of 10").
    last = train(synthetic_dataset, replace(config, epochs=result.epochs_run), split=planted_split).result
    assert [r["val_rmse"] for r in last.history] == [r["val_rmse"] for r in result.history]
    assert last.epochs_run == last.config.epochs
    assert not last.stopped_early


def test_same_seed_gives_the_same_history(synthetic_dataset):
    config = TrainConfig(model="dot_with_bias", embedding_dim=4, epochs=2, batch_size=64, learning_rate=0.01,
                         patience=0, seed=11)  # dropout on: its randomness must be seeded too
    first, second = (train(synthetic_dataset, config).result.history for _ in range(2))
    for a, b in zip(first, second, strict=True):
        for key in ("loss", "val_loss", "train_rmse", "val_rmse"):
            assert a[key] == pytest.approx(b[key], abs=1e-6)


@pytest.mark.parametrize("name", ["simple_dot", "simple_embedding"])
def test_simple_models_train_and_learn(synthetic_dataset, planted_split, name):
    config = replace(PLANTED, model=name, epochs=2, lr_schedule="cosine")
    result = train(synthetic_dataset, config, split=planted_split).result
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.config.model == name and math.isfinite(result.best_val_rmse)


def test_train_rejects_a_bad_config(synthetic_dataset):
    with pytest.raises(ConfigError, match="batch_size=0"):
        train(synthetic_dataset, replace(PLANTED, batch_size=0))


@pytest.mark.slow
def test_bias_model_learns_movielens_in_two_epochs(movielens_path):
    dataset = load_dataset(movielens_path, download=False)
    # Larger batches than the article's 32 keep this under ten seconds on two cores.
    config = TrainConfig(model="dot_with_bias", epochs=2, batch_size=512, learning_rate=0.005, patience=0)
    run = train(dataset, config)
    history = run.result.history
    assert len(history) == 2 and history[1]["val_rmse"] < history[0]["val_rmse"]
    assert run.result.best_val_rmse < 1.0
    assert run.result.n_train + run.result.n_val == dataset.n_ratings


def test_all_equal_ratings_give_a_clear_error_for_the_bias_model(synthetic_frames):
    from cfcore.data.dataset import build_dataset
    from cfcore.data.errors import DataError
    from cfcore.data.validate import validate_movies, validate_ratings

    ratings, movies = synthetic_frames
    flat = ratings.assign(rating=3.0)
    dataset = build_dataset(validate_ratings(flat.astype(str)), validate_movies(movies.astype(str)), "flat")
    with pytest.raises(DataError, match=r"every rating in this dataset is 3.*at least two different ratings"):
        train(dataset, TrainConfig(model="dot_with_bias", embedding_dim=2, epochs=1, batch_size=256))
    # The plain dot product has no output range and can still fit a constant.
    run = train(dataset, TrainConfig(model="simple_dot", embedding_dim=2, epochs=1, batch_size=256))
    assert math.isfinite(run.result.best_val_rmse)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "limit"), [("fast", 0.86), ("best", 0.830)])
def test_presets_reach_their_accuracy_on_movielens(movielens_path, name, limit):
    dataset = load_dataset(movielens_path, download=False)
    run = train(dataset, replace(PRESETS[name], seed=0))
    assert run.result.best_val_rmse <= limit
    # The tuned model is still the app's model: named tables, saved and loaded by its config.
    assert {layer.name for layer in run.model.layers} >= {"user_embedding", "movie_embedding", "user_bias",
                                                          "movie_bias"}
    config = run.model.get_config()
    assert config["l2"] == PRESETS[name].l2 and config["global_bias"]
