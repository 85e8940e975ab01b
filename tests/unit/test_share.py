"""cfcore.share: query-string settings (round trips, clamping, never raising on hostile input), download
bytes, and the runs folder."""

from __future__ import annotations

import io
from dataclasses import replace
from urllib.parse import parse_qs, urlencode

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfcore import share
from cfcore.analysis.projection import movie_map
from cfcore.config import BOUNDS, PRESETS, TrainConfig
from cfcore.share import (
    CONFIG_KEYS,
    MOVIE_KEY,
    USER_KEY,
    config_to_params,
    params_to_config_overrides,
    read_id,
    selection_to_params,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip_through_a_real_url(name):
    config = PRESETS[name]
    query = urlencode(config_to_params(config))
    parsed = parse_qs(query)  # lists of str, as a browser's query string gives
    assert TrainConfig(**params_to_config_overrides(parsed)) == config


def test_round_trip_keeps_unusual_values():
    config = replace(TrainConfig(), model="simple_embedding", learning_rate=0.0123456789, l2=3e-7,
                     global_bias=True, steps_per_execution=0, lr_schedule="cosine", seed=2**31 - 1)
    params = config_to_params(config)
    assert set(params) == set(CONFIG_KEYS)
    assert all(isinstance(v, str) for v in params.values())
    assert params["global_bias"] == "1"
    assert TrainConfig(**params_to_config_overrides(params)) == config


def test_out_of_range_values_are_clamped_into_bounds():
    overrides = params_to_config_overrides(
        {"epochs": "100000", "embedding_dim": "0", "learning_rate": "5", "user_dropout": "-1", "seed": "-3"}
    )
    assert overrides == {
        "epochs": BOUNDS["epochs"][1],
        "embedding_dim": BOUNDS["embedding_dim"][0],
        "learning_rate": BOUNDS["learning_rate"][1],
        "user_dropout": 0.0,
        "seed": 0,
    }
    TrainConfig(**overrides).validate()


def test_unreadable_and_unknown_values_are_dropped():
    overrides = params_to_config_overrides(
        {
            "model": "rm -rf /",
            "lr_schedule": "exponential",
            "epochs": "ten",
            "batch_size": "32.5",  # an int field given a fraction
            "learning_rate": "nan",
            "l2": "inf",
            "global_bias": "maybe",
            "patience": "9" * 100,  # absurdly long
            "unknown": "1",
            "user": "15",
        }
    )
    assert overrides == {}


def test_booleans_accept_common_spellings():
    assert params_to_config_overrides({"global_bias": "true"}) == {"global_bias": True}
    assert params_to_config_overrides({"global_bias": "OFF"}) == {"global_bias": False}
    assert params_to_config_overrides({"global_bias": ["1", "0"]}) == {"global_bias": False}  # last one wins


def test_read_id_accepts_only_plain_positive_integers():
    assert read_id({"user": "15"}, USER_KEY) == 15
    assert read_id({"movie": ["3", "7"]}, MOVIE_KEY) == 7
    for bad in ("", "-1", "1.5", "abc", "²", "1" * 40, []):
        assert read_id({"user": bad}, USER_KEY) is None
    assert read_id({}, USER_KEY) is None


def test_selection_to_params_round_trips():
    params = selection_to_params(user_id=12, movie_id=None)
    assert params == {"user": "12"}
    params = selection_to_params(user_id=12, movie_id=260)
    assert read_id(params, USER_KEY) == 12 and read_id(params, MOVIE_KEY) == 260


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*CONFIG_KEYS, "user", "movie", "x"]),
                       st.one_of(st.text(max_size=80), st.lists(st.text(max_size=10), max_size=3))))
def test_any_query_gives_a_valid_config_and_never_raises(params):
    overrides = params_to_config_overrides(params)
    assert set(overrides) <= set(CONFIG_KEYS)
    TrainConfig(**overrides).validate()
    read_id(params, USER_KEY)
    read_id(params, MOVIE_KEY)


def test_download_bytes_are_complete_and_load_back(tiny_run_dir, tmp_path):
    import io

    import pandas as pd

    from cfcore import share
    from cfcore.runs.run import load_run
    from cfcore.runs.zip import load_run_from_zip
    from cfcore.training.build import embeddings_of, load_model

    tiny_run = load_run(tiny_run_dir)  # a run as the server holds it: arrays and its run folder

    n, d = tiny_run.dataset.n_movies, tiny_run.config.embedding_dim
    table = pd.read_csv(io.BytesIO(share.embeddings_csv_bytes(tiny_run)))
    assert list(table.columns[:2]) == ["movieId", "title"] and table.shape == (n, d + 2)

    vectors, metadata = share.projector_bytes(tiny_run)
    rows = vectors.decode().strip().split("\n")
    assert len(rows) == n and len(rows[0].split("\t")) == d
    assert len(metadata.decode().strip().split("\n")) == n + 1  # a header line, then one per movie

    (tmp_path / "model.keras").write_bytes(share.model_bytes(tiny_run))
    model = load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(embeddings_of(model).movie, tiny_run.embeddings.movie)

    history = pd.read_csv(io.BytesIO(share.history_csv_bytes(tiny_run)))
    assert len(history) == tiny_run.result.epochs_run and "val_rmse" in history

    loaded = load_run_from_zip(share.run_zip_bytes(tiny_run), tmp_path / "unzipped")
    assert loaded.config == tiny_run.config and loaded.path == tmp_path / "unzipped"
    np.testing.assert_array_equal(loaded.split.val_rows, tiny_run.split.val_rows)


def test_resolve_run_dir_stays_inside_the_root(tmp_path, monkeypatch):
    from cfcore import share

    root = tmp_path / "runs"
    (root / "a").mkdir(parents=True)
    (root / "a" / "config.json").write_text("{}")
    (root / "b").mkdir()  # no config.json: not listed
    (tmp_path / "secret").mkdir()
    (root / "link").symlink_to(tmp_path / "secret")
    assert share.list_run_dirs(root) == ["a"]
    assert share.resolve_run_dir(root, "a") == (root / "a").resolve()
    assert share.resolve_run_dir(root, str(root / "a")) == (root / "a").resolve()  # absolute, but inside
    for bad in ("../secret", str(tmp_path / "secret"), "link", "/etc", "a/../../secret"):
        with pytest.raises(share.RunsFolderError, match="outside the runs folder"):
            share.resolve_run_dir(root, bad)
    for bad in ("", "  ", "missing", "a\x00b"):
        with pytest.raises(share.RunsFolderError):
            share.resolve_run_dir(root, bad)

    monkeypatch.delenv(share.RUNS_DIR_ENV_VAR, raising=False)
    assert share.runs_root() is None
    monkeypatch.setenv(share.RUNS_DIR_ENV_VAR, str(root))
    assert share.runs_root() == root.resolve()
    monkeypatch.setenv(share.RUNS_DIR_ENV_VAR, str(tmp_path / "nope"))
    assert share.runs_root() is None


def test_nearest_option_snaps_to_the_closest_choice():
    from cfcore.share import nearest_option

    batches = [16, 32, 64, 128, 256, 512, 1024]
    assert nearest_option(100, batches) == 128  # log scale: 100 is nearer 128 than 64
    assert nearest_option(1e9, batches) == 1024
    assert nearest_option(0.002, [0.0001, 0.001, 0.003, 0.01]) == 0.003
    assert nearest_option(-1, [0.0, 0.5]) == 0.0
    with pytest.raises(ValueError):
        nearest_option(1, [])


def test_shared_settings_are_fitted_onto_the_train_page_controls():
    from cfcore.config import BATCH_SIZE_STOPS, CONTROL_RANGES, LEARNING_RATE_STOPS
    from cfcore.share import fit_to_controls

    fitted = fit_to_controls({"batch_size": 100, "learning_rate": 0.004, "user_dropout": 0.31, "movie_dropout": 2.0,
                              "epochs": 500, "seed": -3, "patience": 4.0, "l2": 0.1, "model": "simple_dot"})
    assert fitted == {"batch_size": 128, "learning_rate": 0.003, "user_dropout": 0.3, "movie_dropout": 0.9,
                      "epochs": CONTROL_RANGES["epochs"][1], "seed": 0, "patience": 4}
    assert fitted["batch_size"] in BATCH_SIZE_STOPS and fitted["learning_rate"] in LEARNING_RATE_STOPS
    assert isinstance(fitted["epochs"], int) and isinstance(fitted["patience"], int)
    # Every dropout a slider can show survives exactly (0.3, not 0.30000000000000004).
    for step in range(19):
        value = step / 20
        assert fit_to_controls({"user_dropout": value + 1e-9})["user_dropout"] == value


def test_the_map_and_neighbour_downloads_neutralise_formulas(tiny_run):
    placed = movie_map(tiny_run, "pca", 0).copy()
    placed.loc[placed.index[0], "title"] = '=HYPERLINK("http://example.com","x")'
    table = pd.read_csv(io.BytesIO(share.map_csv_bytes(placed)))
    assert list(table.columns) == ["movieId", "title", "genres", "mean_rating", "num_ratings", "x", "y"]
    assert table["title"].iloc[0].startswith("'=") and len(table) == tiny_run.dataset.n_movies
    assert np.allclose(table["x"], placed["x"])
