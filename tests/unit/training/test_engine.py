"""cfcore.training.engine: the compiled loop equals model.fit, the engine it chooses, progress groups,
and determinism.

Functional tests only (no timing): the speed itself is measured by ``bench/train_speed.py``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import keras
import numpy as np
import pytest

from cfcore.config import PRESETS, TrainConfig
from cfcore.data.sources import load_dataset
from cfcore.data.split import split_dataset
from cfcore.training.build import build_model, configured_model
from cfcore.training.engine import CompiledLoop, steps_per_execution
from cfcore.training.fit import train
from tests.support.data import make_synthetic_frames
from tests.support.runs import SVDPP_CONFIG


@pytest.fixture(scope="module")
def wide_dataset():
    """Synthetic ratings with more users and movies than a batch holds, and repeated rows per batch."""
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings

    ratings, movies = make_synthetic_frames(n_users=90, n_movies=70, density=0.3, seed=3)
    return build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "wide")


def _fit_like_keras(dataset, split, config: TrainConfig) -> keras.Model:
    """``model.fit`` on the split in its stored order (no shuffling), the reference arithmetic."""
    steps = math.ceil(split.n_train / config.batch_size)
    model = configured_model(config, dataset.n_users, dataset.n_movies, dataset)
    learning_rate = config.learning_rate
    if config.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps * config.epochs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    model.fit(split.x_train, split.y_train.reshape(-1, 1), batch_size=config.batch_size, epochs=config.epochs,
              shuffle=False, verbose=0)
    return model


def _fit_compiled(dataset, split, config: TrainConfig, sparse: bool) -> tuple[keras.Model, str]:
    """The compiled loop on the same order, in two calls per epoch (as between progress reports)."""
    steps = math.ceil(split.n_train / config.batch_size)
    model = configured_model(config, dataset.n_users, dataset.n_movies, dataset)
    loop = CompiledLoop(model, config, dataset, steps, sparse=sparse)
    y = split.y_train.reshape(-1, 1)
    for _ in range(config.epochs):
        loop._run_steps(split.x_train, y, 0, steps // 2)
        loop._run_steps(split.x_train, y, steps // 2, steps)
    loop.engine.sync()
    return model, loop.kind


@pytest.mark.parametrize(
    ("config", "sparse"),
    [
        # The article's model, dropout on: the same dropout masks must be drawn.
        (TrainConfig(embedding_dim=8, batch_size=16, epochs=2), True),
        (TrainConfig(embedding_dim=8, batch_size=16, epochs=2, global_bias=True, lr_schedule="cosine",
                     learning_rate=0.01), True),
        (TrainConfig(model="simple_dot", embedding_dim=8, batch_size=16, epochs=2), True),
        (TrainConfig(model="simple_embedding", embedding_dim=8, batch_size=16, epochs=2), True),
        (TrainConfig(embedding_dim=8, batch_size=16, epochs=2), False),
        (TrainConfig(embedding_dim=8, batch_size=16, epochs=2, l2=1e-3, global_bias=True), False),
    ],
    ids=["bias", "bias-cosine-offset", "simple_dot", "simple_embedding", "bias-dense", "bias-l2-dense"],
)
def test_compiled_loop_matches_model_fit(wide_dataset, config, sparse):
    split = split_dataset(wide_dataset, 0.2, seed=4)
    assert split.n_train % config.batch_size, "the last, partial batch must be exercised"
    reference = _fit_like_keras(wide_dataset, split, config)
    model, kind = _fit_compiled(wide_dataset, split, config, sparse)
    assert kind == ("_RowSparseEngine" if sparse else "_DenseEngine")
    for ours, theirs in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=2e-5)
    # Training really moved the weights, far more than the tolerance.
    initial = configured_model(config, wide_dataset.n_users, wide_dataset.n_movies, wide_dataset).get_weights()
    assert np.abs(reference.get_weights()[0] - initial[0]).max() > 1e-2


def test_engine_choice(movielens_path):
    dataset = load_dataset(movielens_path, download=False)
    steps = math.ceil(80_000 / 32)
    # The article's settings on MovieLens: small batches on big tables, the row-sparse engine.
    article = PRESETS["article"]
    loop = CompiledLoop(configured_model(article, dataset.n_users, dataset.n_movies, dataset), article, dataset, steps)
    assert loop.kind == "_RowSparseEngine"
    # An L2 penalty on whole tables moves every row every step: dense.
    for name in ("fast", "best"):
        config = PRESETS[name]
        model = configured_model(config, dataset.n_users, dataset.n_movies, dataset)
        loop = CompiledLoop(model, config, dataset, steps)
        assert loop.kind == "_DenseEngine", name


def test_keras_engine_and_compiled_engine_agree(wide_dataset):
    config = TrainConfig(embedding_dim=8, batch_size=32, epochs=6, learning_rate=0.01, patience=0, seed=2)
    split = split_dataset(wide_dataset, 0.2, seed=2)
    compiled = train(wide_dataset, config, split=split, engine="compiled").result
    fitted = train(wide_dataset, config, split=split, engine="keras").result
    # Different shuffles, same model and optimiser: the same quality.
    assert compiled.best_val_rmse == pytest.approx(fitted.best_val_rmse, abs=0.05)
    assert [row["epoch"] for row in compiled.history] == [row["epoch"] for row in fitted.history]
    with pytest.raises(ValueError, match="engine must be one of"):
        train(wide_dataset, config, split=split, engine="jax")


def test_progress_groups_stay_small_and_frequent():
    article = PRESETS["article"]
    steps = math.ceil(80_669 / article.batch_size)  # ml-latest-small's training ratings
    chunk = steps_per_execution(article, steps)
    assert steps / chunk >= 5  # several progress reports per epoch
    assert chunk * article.batch_size <= 16384  # a stop request waits for at most ~16k ratings
    for batch in (1, 2048, 65536):
        config = replace(article, batch_size=batch)
        assert 1 <= steps_per_execution(config, math.ceil(100_000 / batch)) * batch <= max(batch, 16384)
    assert steps_per_execution(replace(article, steps_per_execution=7), steps) == 7


@pytest.mark.parametrize("preset", ["fast", "article"])
def test_the_compiled_loop_is_deterministic(preset, synthetic_dataset):
    """Two trainings of one identity give identical histories and weights: what joining assumes."""
    from cfcore.data.split import split_dataset
    from cfcore.training.build import embeddings_of
    from cfcore.training.fit import train

    config = replace(PRESETS[preset], epochs=2)
    split = split_dataset(synthetic_dataset, 0.2, 42)
    one, two = (train(synthetic_dataset, config, split=split) for _ in range(2))
    assert [r["val_rmse"] for r in one.result.history] == [r["val_rmse"] for r in two.result.history]
    for key in ("user", "movie", "user_bias", "movie_bias"):
        np.testing.assert_array_equal(getattr(embeddings_of(one.model), key), getattr(embeddings_of(two.model), key))


def test_it_trains_on_the_compiled_loop_with_progress_and_stop(synthetic_dataset):
    from cfcore.data.split import split_dataset

    split = split_dataset(synthetic_dataset, 0.2, 1)
    model = build_model("svdpp", synthetic_dataset.n_users, synthetic_dataset.n_movies, 4, seed=1,
                        train_pairs=split.x_train)
    assert CompiledLoop(model, SVDPP_CONFIG, synthetic_dataset, 10).kind == "_DenseEngine"
    stop, seen = threading.Event(), []

    def listener(progress):
        seen.append(progress.stage)
        if progress.stage == "batch" and progress.step >= 1:
            stop.set()

    run = train(synthetic_dataset, SVDPP_CONFIG, listeners=[listener], stop_event=stop)
    assert "batch" in seen and run.result.stopped_by_user and run.result.epochs_run == 1
    early = train(synthetic_dataset, TrainConfig(**{**SVDPP_CONFIG.to_dict(), "learning_rate": 0.5, "epochs": 30,
                                                   "patience": 2}))
    assert early.result.stopped_early and early.result.epochs_run < 30


def test_two_identical_trainings_are_identical(synthetic_dataset):
    # Joining identical requests relies on it.
    first, second = train(synthetic_dataset, SVDPP_CONFIG), train(synthetic_dataset, SVDPP_CONFIG)
    assert [r["val_rmse"] for r in first.result.history] == [r["val_rmse"] for r in second.result.history]
    assert all(np.array_equal(a, b) for a, b in zip(first.model.get_weights(), second.model.get_weights(),
                                                    strict=True))
