"""The SVD++-style model (issue 16): structure, no leakage, the engine, saving, fold-in, explanation, the CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from cfcore.analysis.explain import explain_prediction
from cfcore.analysis.fold_in import fold_in
from cfcore.analysis.predict import predict
from cfcore.config import IMPLICIT_PART, PRESETS, TrainConfig
from cfcore.runs.embeddings import EMBEDDINGS_FILE, write_embeddings_file
from cfcore.runs.run import load_run
from cfcore.training.engine import CompiledLoop
from cfcore.training.fit import train
from cfcore.training.models import build_model, implicit_sets
from cfcore.training.save import save_run
from tests.support.app import assert_page, chart_specs, figure_array, page_app

CONFIG = TrainConfig(model="svdpp", embedding_dim=4, epochs=4, batch_size=64, learning_rate=0.01, patience=0,
                     seed=1, global_bias=True, user_dropout=0.0, movie_dropout=0.0)


@pytest.fixture(scope="module")
def svdpp_run(synthetic_dataset):
    return train(synthetic_dataset, CONFIG)


def test_implicit_sets_are_the_rated_movies_and_the_raters():
    pairs = np.array([[0, 2], [1, 0], [0, 1], [2, 2]])
    user_splits, user_movies, movie_splits, movie_users = implicit_sets(pairs, 3, 4)
    assert user_splits.tolist() == [0, 2, 3, 4] and user_movies.tolist() == [1, 2, 0, 2]
    assert movie_splits.tolist() == [0, 1, 2, 4, 4] and movie_users.tolist() == [1, 0, 0, 2]


def test_with_empty_sets_it_is_the_bias_model():
    x = np.array([[0, 1], [3, 6], [2, 2], [4, 0]])
    bias = build_model("dot_with_bias", 5, 7, 4, seed=3, global_bias=True)
    empty = build_model("svdpp", 5, 7, 4, seed=3, global_bias=True)
    assert np.array_equal(bias(x).numpy(), empty(x).numpy())
    # And its rated-set tables get no gradient from the data: nothing to add up.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(empty(x, training=True) - 3.0))
    grads = tape.gradient(loss, [empty.rated_embedding.embeddings.value, empty.rater_embedding.embeddings.value])
    assert all(g is None or float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g)))) == 0.0 for g in grads)
    # With sets, the same weights predict something else.
    filled = build_model("svdpp", 5, 7, 4, seed=3, global_bias=True, train_pairs=np.array([[0, 1], [0, 2], [3, 6]]))
    assert not np.allclose(bias(x).numpy(), filled(x).numpy())


def test_no_validation_rating_reaches_the_rated_sets(svdpp_run):
    split, model = svdpp_run.split, svdpp_run.model
    n_users, n_movies = svdpp_run.dataset.n_users, svdpp_run.dataset.n_movies
    expected = implicit_sets(split.x_train, n_users, n_movies)
    held = [np.asarray(v.numpy()) for v in (model.user_splits, model.user_movies, model.movie_splits,
                                             model.movie_users)]
    for mine, theirs in zip(held, expected, strict=True):
        assert np.array_equal(mine, theirs)
    splits, members = held[0], held[1]
    in_sets = {(u, int(m)) for u in range(n_users) for m in members[splits[u]:splits[u + 1]]}
    assert not in_sets & {(int(u), int(m)) for u, m in split.x_val}
    assert len(in_sets) == split.n_train


def test_it_trains_on_the_compiled_loop_with_progress_and_stop(synthetic_dataset):
    from cfcore.data.split import split_dataset

    split = split_dataset(synthetic_dataset, 0.2, 1)
    model = build_model("svdpp", synthetic_dataset.n_users, synthetic_dataset.n_movies, 4, seed=1,
                        train_pairs=split.x_train)
    assert CompiledLoop(model, CONFIG, synthetic_dataset, 10).kind == "_DenseEngine"
    stop, seen = threading.Event(), []

    def listener(progress):
        seen.append(progress.stage)
        if progress.stage == "batch" and progress.step >= 1:
            stop.set()

    run = train(synthetic_dataset, CONFIG, listeners=[listener], stop_event=stop)
    assert "batch" in seen and run.result.stopped_by_user and run.result.epochs_run == 1
    early = train(synthetic_dataset, TrainConfig(**{**CONFIG.to_dict(), "learning_rate": 0.5, "epochs": 30,
                                                   "patience": 2}))
    assert early.result.stopped_early and early.result.epochs_run < 30


def test_two_identical_trainings_are_identical(synthetic_dataset):
    # Joining identical requests (issue 18) relies on it.
    first, second = train(synthetic_dataset, CONFIG), train(synthetic_dataset, CONFIG)
    assert [r["val_rmse"] for r in first.result.history] == [r["val_rmse"] for r in second.result.history]
    assert all(np.array_equal(a, b) for a, b in zip(first.model.get_weights(), second.model.get_weights(),
                                                    strict=True))


def test_saved_runs_read_back_as_arrays_that_predict_like_keras(svdpp_run, tmp_path):
    folder = save_run(svdpp_run, tmp_path / "svdpp")
    back = load_run(folder)
    x = svdpp_run.split.x_val
    assert np.allclose(svdpp_run.model.predict(x, verbose=0)[:, 0], back.embeddings.predict(x[:, 0], x[:, 1]),
                       atol=1e-5)
    assert back.embeddings.rated.shape == (svdpp_run.dataset.n_movies, 4)
    from cfcore.training.models import load_model

    reloaded = load_model(folder / "model.keras")
    assert np.allclose(reloaded.predict(x, verbose=0), svdpp_run.model.predict(x, verbose=0), atol=1e-6)


def _rewrite_embeddings(folder, change) -> None:
    """Rewrite the run's embeddings.npz with ``change(arrays)`` applied: what a hand-edited run zip would carry."""
    with np.load(folder / EMBEDDINGS_FILE, allow_pickle=False) as archive:
        arrays = {name: archive[name].copy() for name in archive.files}
    change(arrays)
    write_embeddings_file(arrays, folder)


def test_a_run_whose_rated_sets_point_nowhere_is_refused(svdpp_run, tmp_path):
    from cfcore.runs.errors import RunError
    from cfcore.runs.folder import read_run_files

    folder = save_run(svdpp_run, tmp_path / "svdpp")

    def point_nowhere(arrays) -> None:
        arrays["user_movies"][0] = 10**6  # a rated movie that does not exist

    _rewrite_embeddings(folder, point_nowhere)
    with pytest.raises(RunError, match="rated sets do not fit"):
        read_run_files(folder)


def test_a_run_whose_rated_sets_are_not_its_training_ratings_is_refused(svdpp_run, tmp_path):
    from cfcore.runs.errors import RunError
    from cfcore.runs.folder import read_run_files

    folder = save_run(svdpp_run, tmp_path / "svdpp")
    held_out = svdpp_run.split.x_val[0]

    def smuggle(arrays) -> None:  # a user's first rated movie swapped for one they rated in validation
        start = int(arrays["user_splits"][int(held_out[0])])
        arrays["user_movies"][start] = int(held_out[1])

    _rewrite_embeddings(folder, smuggle)
    with pytest.raises(RunError, match="not the run's training ratings"):
        read_run_files(folder)


def test_fold_in_uses_the_new_persons_rated_set(svdpp_run):
    dataset = svdpp_run.dataset
    ratings = dataset.ratings.iloc[svdpp_run.split.train_rows]
    user_index = int(ratings["user"].value_counts().index[0])
    mine = ratings[ratings["user"] == user_index]
    predicted = predict(svdpp_run, user_index, mine["movie"].to_numpy())
    fold = fold_in(svdpp_run, dict(zip(mine["movieId"].astype(int), predicted, strict=True)), reg=1e-9)
    # Rated exactly what the user rated in training, with the model's own predictions: the same person.
    assert np.allclose(fold.vector, svdpp_run.embeddings.user[user_index], atol=2e-3)


def test_the_explanation_has_its_own_bar_for_what_they_rated(svdpp_run):
    dataset = svdpp_run.dataset
    user_id, movie_id = int(dataset.index_to_user[0]), int(dataset.movies["movieId"].iloc[1])
    why = explain_prediction(svdpp_run, user_id, movie_id)
    parts = why.parts()
    assert IMPLICIT_PART in list(parts["part"]) and why.implicit != 0
    assert parts["value"].sum() == pytest.approx(why.logit, abs=1e-6)
    predicted = predict(svdpp_run, dataset.user_to_index[user_id], dataset.movie_to_index[movie_id])[0]
    assert why.prediction == pytest.approx(predicted, abs=1e-4)

    at = page_app("recommend", svdpp_run)
    at.query_params.update({"user": str(user_id), "movie": str(movie_id)})
    at.run()
    assert_page(at, "Recommend")
    waterfall = chart_specs(at)[-1]["data"][0]
    assert waterfall["type"] == "waterfall" and "what they rated" in waterfall["x"]
    assert figure_array(waterfall["y"])[-1] == pytest.approx(why.logit, abs=1e-6)


def test_the_train_page_offers_it(data_env):
    from tests.support.app import open_app

    at = open_app(page="pages/train.py")
    at.selectbox(key="train_model").set_value("svdpp").run()
    assert any("SVD++" in c.value for c in at.caption)
    assert at.slider(key="train_user_dropout") is not None
    assert any("at batch 32 an epoch" in c.value for c in at.caption)  # the article's batch: slow for SVD++
    at.selectbox(key="train_model").set_value("simple_dot").run()
    at.selectbox(key="train_preset").set_value("best").run()
    assert at.selectbox(key="train_model").value == "svdpp"  # the recipe brings the model it was made for
    assert not any("was tuned for" in c.value or "an epoch" in c.value for c in at.caption)
    at.selectbox(key="train_model").set_value("simple_dot").run()
    assert any("was tuned for **SVD++" in c.value for c in at.caption)


def test_the_best_preset_is_svdpp():
    assert PRESETS["best"].model == "svdpp"


def test_cli_trains_it_with_every_flag(synthetic_folder, tmp_path, capsys):
    from cfcore.cli import main

    out = tmp_path / "run"
    assert main(["train", "--data", str(synthetic_folder), "--model", "svdpp", "--dim", "3", "--epochs", "2",
                 "--batch-size", "128", "--lr", "0.01", "--patience", "0", "--seed", "4", "--val-fraction", "0.25",
                 "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "svdpp" and summary["epochs_run"] == 2 and summary["config"]["val_fraction"] == 0.25
    assert main(["recommend", str(out), "--user", "1", "--top", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == 3
