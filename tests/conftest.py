"""Shared fixtures: synthetic data with planted structure, the shared MovieLens copy, small trained runs."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from bench.harness import shared_data_path
from tests.support.data import make_synthetic_frames
from tests.support.workspaces import seed_workspace  # noqa: F401 - bench/hostile.py imports it from here

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def synthetic_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_synthetic_frames()


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_frames):
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings

    ratings, movies = synthetic_frames
    return build_dataset(
        validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "synthetic"
    )


@pytest.fixture
def synthetic_folder(tmp_path, synthetic_frames) -> Path:
    ratings, movies = synthetic_frames
    folder = tmp_path / "ml-synthetic"
    folder.mkdir()
    ratings.to_csv(folder / "ratings.csv", index=False)
    movies.to_csv(folder / "movies.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def tiny_run(synthetic_dataset):
    """A small bias model trained on the synthetic data (a few seconds)."""
    from cfcore.config import TrainConfig
    from cfcore.training.fit import train

    config = TrainConfig(model="dot_with_bias", embedding_dim=8, epochs=6, batch_size=64, learning_rate=0.01,
                         patience=0, seed=1)
    return train(synthetic_dataset, config)


@pytest.fixture(scope="session")
def dot_run(synthetic_dataset):
    """A tiny simple_dot run (no biases), for the plain dot-product explanation."""
    from cfcore.config import TrainConfig
    from cfcore.training.fit import train

    # Seed 1 as in ``tiny_run``: the same train/validation split, so the two runs are comparable.
    config = TrainConfig(model="simple_dot", embedding_dim=4, epochs=2, batch_size=64, learning_rate=0.01,
                         patience=0, seed=1)
    return train(synthetic_dataset, config)


@pytest.fixture(scope="session")
def tiny_run_dir(tiny_run, tmp_path_factory) -> Path:
    from cfcore.training.save import save_run

    return save_run(tiny_run, tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture(scope="session")
def wild_run(synthetic_dataset):
    """simple_dot with Adam at learning rate 1: its validation RMSE climbs from 17 to 87, far off the scale."""
    from cfcore.config import TrainConfig
    from cfcore.training.fit import train

    return train(synthetic_dataset, TrainConfig(model="simple_dot", embedding_dim=8, epochs=3, batch_size=16,
                                                learning_rate=1.0, patience=0, seed=1))


@pytest.fixture(scope="session")
def svdpp_run(synthetic_dataset):
    """A small SVD++ run (``tests.support.runs.SVDPP_CONFIG``) on the synthetic data."""
    from cfcore.training.fit import train
    from tests.support.runs import SVDPP_CONFIG

    return train(synthetic_dataset, SVDPP_CONFIG)


@pytest.fixture(scope="session")
def factor_run_dirs(synthetic_dataset, tmp_path_factory):
    """A saved run of each factors method on the synthetic data, on the tiny run's split (seed 1)."""
    from cfcore.config import factor_config
    from cfcore.data.split import split_dataset
    from cfcore.training.fit import train
    from cfcore.training.save import save_run

    split = split_dataset(synthetic_dataset, 0.2, 1)
    root = tmp_path_factory.mktemp("factor-runs")
    return {method: save_run(train(synthetic_dataset, factor_config(method, 4, 1, epochs=3), split=split),
                             root / method) for method in ("svd", "autorec", "implicit")}


@pytest.fixture(scope="session")
def movielens_path() -> Path:
    path = shared_data_path()
    if path is None:
        pytest.fail("the shared ml-latest-small copy was not found; set CFCORE_DATA to its folder")
    return path


@pytest.fixture
def secret_file(tmp_path) -> Path:
    """A file only the server should read (``tests.support.crafted.SECRET``), for crafted files to point at."""
    from tests.support.crafted import SECRET

    path = tmp_path / "server-secret.txt"
    path.write_bytes(SECRET)
    return path


@pytest.fixture(autouse=True, scope="session")
def _no_keras_reset_between_script_runs():
    """Streamlit calls ``keras.backend.clear_session()`` (a full ``gc.collect``) after every script run when Keras
    is imported. The app's server never imports it (tests/unit/test_server_imports.py), but this test process does, for
    its trained fixtures: there each collection took 0.25 s per script run and the hostile corpus ran 4x slower.
    So, in tests only, the hook is off."""
    from streamlit.runtime.scriptrunner import script_runner

    original = script_runner._clean_problem_modules
    script_runner._clean_problem_modules = lambda: None
    yield
    script_runner._clean_problem_modules = original


@pytest.fixture(autouse=True)
def state_dir(monkeypatch, tmp_path) -> Path:
    """Every test keeps workspaces in its own folder (CFCORE_STATE_DIR), never in the user's data folder."""
    folder = tmp_path / "state"
    monkeypatch.setenv("CFCORE_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def routed(monkeypatch):
    """Run AppTest the way a server runs after its first request: app.py routes every page.

    With a ``pages/`` folder next to app.py, Streamlit starts in its old folder-based
    multipage mode until the first ``st.navigation`` call in the process. A server
    leaves that mode once (ui.streamlit_fixes reruns through app.py); AppTest resets the
    flag before every run, so every run would pay that extra rerun, which drops
    button clicks. test_deep_link_is_routed_through_app covers the unpatched path.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def data_env(monkeypatch, synthetic_folder, tmp_path, routed):
    """The synthetic folder is the configured source; the download cache is an empty folder."""
    monkeypatch.setenv("CFCORE_DATA", str(synthetic_folder))
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "cache"))
    st.cache_data.clear()
    st.cache_resource.clear()
    return synthetic_folder
