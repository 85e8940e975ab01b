"""cfcore.training.save: a saved run reads back as arrays that predict like the Keras model."""

from __future__ import annotations

import numpy as np

from cfcore.analysis.predict import predict
from cfcore.runs.folder import RUN_FILES
from cfcore.runs.run import load_run
from cfcore.training.save import save_run


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


def test_saved_runs_read_back_as_arrays_that_predict_like_keras(svdpp_run, tmp_path):
    folder = save_run(svdpp_run, tmp_path / "svdpp")
    back = load_run(folder)
    x = svdpp_run.split.x_val
    assert np.allclose(svdpp_run.model.predict(x, verbose=0)[:, 0], back.embeddings.predict(x[:, 0], x[:, 1]),
                       atol=1e-5)
    assert back.embeddings.rated.shape == (svdpp_run.dataset.n_movies, 4)
    from cfcore.training.build import load_model

    reloaded = load_model(folder / "model.keras")
    assert np.allclose(reloaded.predict(x, verbose=0), svdpp_run.model.predict(x, verbose=0), atol=1e-6)
