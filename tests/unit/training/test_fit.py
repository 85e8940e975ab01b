"""cfcore.training and cfcore.config: learning, progress, stopping, determinism, validation, run folders."""

from __future__ import annotations

import math
import shutil
import threading
from dataclasses import replace

import numpy as np
import pytest

from cfcore.analysis.predict import predict
from cfcore.config import BOUNDS, PRESETS, ConfigError, TrainConfig, preset
from cfcore.data.sources import load_dataset
from cfcore.data.split import split_dataset
from cfcore.runs.errors import RunError
from cfcore.runs.folder import RUN_FILES
from cfcore.runs.run import load_run
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
    # (it said "stopped early" next to "Epochs run 10 of 10", issue 15.4).
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


# ---------------------------------------------------------------------------
# Config validation
# ---------------------------------------------------------------------------


def _bad_values(name: str) -> list:
    low, high = BOUNDS[name]
    whole = isinstance(low, int) and isinstance(high, int)
    below = low - (1 if whole else 0.001 * max(1.0, abs(high)))
    if name == "steps_per_execution":
        below = -1  # 0 is allowed: it means "choose from the epoch size"
    values = [below, high + (1 if whole else 0.01 * max(1.0, high))]
    if whole:
        values.append(low + 0.5)
    values += [float("nan"), "3", True, None]
    return values


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_every_bound_is_enforced_with_the_value_quoted(name):
    low, high = BOUNDS[name]
    TrainConfig(**{name: low}).validate()
    TrainConfig(**{name: high}).validate()
    for value in _bad_values(name):
        with pytest.raises(ConfigError) as info:
            TrainConfig(**{name: value}).validate()
        assert f"Received: {name}=" in str(info.value) and name in str(info.value).split(".")[0]
        quoted = repr(value) if isinstance(value, str | bool | type(None)) else None
        if quoted:
            assert quoted in str(info.value)
        elif not (isinstance(value, float) and math.isnan(value)):
            assert f"{name}={value}" in str(info.value)


def test_model_and_schedule_are_validated():
    with pytest.raises(ConfigError, match="unknown model 'nmf'"):
        TrainConfig(model="nmf").validate()
    with pytest.raises(ConfigError, match="Received: 'step'"):
        TrainConfig(lr_schedule="step").validate()
    with pytest.raises(ConfigError, match="unknown preset 'fastest'"):
        preset("fastest")
    with pytest.raises(ConfigError, match="epochs=0"):
        preset("fast", epochs=0)


def test_presets_are_valid_and_article_is_the_article():
    for config in PRESETS.values():
        config.validate()
    article = PRESETS["article"]
    assert (article.model, article.embedding_dim, article.batch_size, article.learning_rate,
            article.epochs, article.patience, article.val_fraction, article.seed) == (
        "dot_with_bias", 64, 32, 0.001, 10, 2, 0.2, 42)
    assert preset("article", epochs=3).epochs == 3 and PRESETS["article"].epochs == 10


def test_whole_number_settings_become_ints():
    config = TrainConfig(epochs=2.0, batch_size=64.0, embedding_dim=8.0).validate()
    assert all(type(v) is int for v in (config.epochs, config.batch_size, config.embedding_dim))


def test_config_round_trips_through_a_dict():
    config = preset("best", seed=5)
    assert TrainConfig.from_dict({**config.to_dict(), "unknown_key": 1}) == config


def test_train_rejects_a_bad_config(synthetic_dataset):
    with pytest.raises(ConfigError, match="batch_size=0"):
        train(synthetic_dataset, replace(PLANTED, batch_size=0))


# ---------------------------------------------------------------------------
# Run folders
# ---------------------------------------------------------------------------


def test_save_and_load_run_round_trip(tiny_run, tiny_run_dir):
    assert sorted(p.name for p in tiny_run_dir.iterdir()) == sorted(RUN_FILES)
    loaded = load_run(tiny_run_dir)
    # Saved weights come back bit for bit, read from model.keras without Keras; NumPy's predictions are the
    # Keras model's to float32 rounding.
    for key in ("user", "movie", "user_bias", "movie_bias"):
        np.testing.assert_array_equal(getattr(loaded.embeddings, key), getattr(tiny_run.embeddings, key))
    x = tiny_run.split.x_val
    np.testing.assert_allclose(predict(loaded, x[:, 0], x[:, 1]),
                               tiny_run.model.predict(x, verbose=0)[:, 0], rtol=0, atol=1e-5)
    assert loaded.model is None
    assert loaded.config == tiny_run.config and loaded.path == tiny_run_dir
    assert loaded.result.history == tiny_run.result.history
    assert loaded.result.summary() == tiny_run.result.summary()
    np.testing.assert_array_equal(loaded.dataset.index_to_user, tiny_run.dataset.index_to_user)
    np.testing.assert_array_equal(loaded.dataset.index_to_movie, tiny_run.dataset.index_to_movie)
    assert loaded.dataset.user_to_index == tiny_run.dataset.user_to_index
    assert loaded.dataset.movie_to_index == tiny_run.dataset.movie_to_index
    assert list(loaded.dataset.movies["title"]) == list(tiny_run.dataset.movies["title"])
    np.testing.assert_array_equal(loaded.split.val_rows, tiny_run.split.val_rows)
    np.testing.assert_array_equal(loaded.split.x_train, tiny_run.split.x_train)
    np.testing.assert_array_equal(loaded.split.y_val, tiny_run.split.y_val)
    assert loaded.dataset.fingerprint == tiny_run.dataset.fingerprint


def test_load_run_missing_folder(tmp_path):
    with pytest.raises(RunError, match="run directory not found"):
        load_run(tmp_path / "nothing")


@pytest.mark.parametrize("missing", ["model.keras", "ratings.npz", "users.csv"])
def test_load_run_incomplete_folder(tiny_run_dir, tmp_path, missing):
    copy = shutil.copytree(tiny_run_dir, tmp_path / "copy")
    (copy / missing).unlink()
    with pytest.raises(RunError) as info:
        load_run(copy)
    assert "not a cfcore run directory" in str(info.value) and missing in str(info.value)


@pytest.mark.parametrize(
    "name, content",
    [("model.keras", b"not a zip"), ("config.json", b"{broken"), ("users.csv", b"index,userId\n0,1\n")],
)
def test_load_run_corrupt_files(tiny_run_dir, tmp_path, name, content):
    copy = shutil.copytree(tiny_run_dir, tmp_path / "copy")
    (copy / name).write_bytes(content)
    with pytest.raises(RunError) as info:
        load_run(copy)
    assert str(copy) in str(info.value)


# ---------------------------------------------------------------------------
# The real MovieLens copy
# ---------------------------------------------------------------------------


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
