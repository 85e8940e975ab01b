"""Fast paths and scale paths: the compiled loop equals model.fit, presets, strategies, ml-1m data.

Functional tests only (no timing): the speed itself is measured by ``bench/train_speed.py``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import keras
import numpy as np
import pytest

from cfcore.config import PRESETS, TrainConfig, preset
from cfcore.data.sources import load_dataset
from cfcore.data.split import split_dataset
from cfcore.training.engine import CompiledLoop, steps_per_execution
from cfcore.training.fit import train
from cfcore.training.models import configured_model
from tests.support.data import make_synthetic_frames
from tests.support.paths import REPO


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


def test_presets_are_the_tuned_bias_model_or_its_svdpp():
    for name, config in PRESETS.items():
        # The app shows their embeddings, biases and PCA; best adds the rated sets (SVD++).
        assert config.model == ("svdpp" if name == "best" else "dot_with_bias"), name
        assert preset(name) == config
    article = PRESETS["article"]
    assert (article.user_dropout, article.movie_dropout, article.l2, article.batch_size, article.learning_rate,
            article.embedding_dim, article.patience, article.epochs) == (0.3, 0.6, 0.0, 32, 0.001, 64, 2, 10)
    assert preset("best", epochs=2).epochs == 2 and PRESETS["best"].epochs > 2


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


def _write_ml1m(folder, n_users=40, n_movies=30, seed=5):
    """A small folder in the ml-1m release's format: '::'-separated .dat files in latin-1."""
    ratings, movies = make_synthetic_frames(n_users=n_users, n_movies=n_movies, seed=seed)
    folder.mkdir()
    lines = [f"{u}::{m}::{int(max(1, round(r)))}::{t}" for u, m, r, t in ratings.itertuples(index=False)]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")
    titles = [f"{title.split(' (')[0]} Caf\xe9 ({title.split(' (')[1]}" for title in movies["title"]]
    text = "".join(f"{m}::{t}::{g}\n" for m, t, g in zip(movies["movieId"], titles, movies["genres"], strict=True))
    (folder / "movies.dat").write_bytes(text.encode("latin-1"))
    return ratings


@pytest.mark.slow
def test_cli_trains_on_an_ml1m_format_folder(tmp_path):
    data = tmp_path / "ml-1m"
    ratings = _write_ml1m(data)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "cfcore", "train", "--data", str(data), "--preset", "fast", "--epochs", "2",
         "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["n_users"] == ratings["userId"].nunique() and summary["n_train"] + summary["n_val"] == len(ratings)
    assert summary["epochs_run"] == 2 and math.isfinite(summary["best_val_rmse"])
    assert summary["config"]["batch_size"] == PRESETS["fast"].batch_size
    movies = (out / "movies.csv").read_text(encoding="utf-8")
    assert "Caf\xe9" in movies  # latin-1 titles arrive intact


def test_config_and_data_modules_do_not_import_tensorflow():
    code = ("import sys, cfcore.config, cfcore.data.sources, cfcore.data.split; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
