"""Shared fixtures: synthetic data with planted structure, the shared MovieLens copy, a tiny run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from bench.harness import shared_data_path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent


def make_synthetic_frames(
    n_users: int = 60, n_movies: int = 40, rank: int = 2, density: float = 0.5, seed: int = 0,
    noise: float = 0.1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings from a planted low-rank model (plus biases), clipped to 0.5..5, with id gaps."""
    rng = np.random.default_rng(seed)
    users = rng.normal(0, 1, (n_users, rank))
    movies = rng.normal(0, 1, (n_movies, rank))
    scores = 3.0 + 0.6 * users @ movies.T + rng.normal(0, noise, (n_users, n_movies))
    mask = rng.random((n_users, n_movies)) < density
    mask[np.arange(n_users), rng.integers(0, n_movies, n_users)] = True
    mask[rng.integers(0, n_users, n_movies), np.arange(n_movies)] = True
    u_idx, m_idx = np.nonzero(mask)
    # Ids with gaps, as uploaded data may have.
    user_ids = np.arange(n_users) * 3 + 1
    movie_ids = np.arange(n_movies) * 7 + 2
    ratings = pd.DataFrame(
        {
            "userId": user_ids[u_idx],
            "movieId": movie_ids[m_idx],
            "rating": np.clip(np.round(scores[u_idx, m_idx] * 2) / 2, 0.5, 5.0),
            "timestamp": 1_000_000 + np.arange(len(u_idx)),
        }
    )
    genres = ["Comedy", "Drama", "Action|Thriller", "Comedy|Romance"]
    movies_frame = pd.DataFrame(
        {
            "movieId": movie_ids,
            "title": [f"Movie {i} ({1990 + i % 30})" for i in range(n_movies)],
            "genres": [genres[i % len(genres)] for i in range(n_movies)],
        }
    )
    return ratings, movies_frame


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
def movielens_path() -> Path:
    path = shared_data_path()
    if path is None:
        pytest.fail("the shared ml-latest-small copy was not found; set CFCORE_DATA to its folder")
    return path


@pytest.fixture(autouse=True, scope="session")
def _no_keras_reset_between_script_runs():
    """Streamlit calls ``keras.backend.clear_session()`` (a full ``gc.collect``) after every script run when Keras
    is imported. The app's server never imports it (tests/test_server_imports.py), but this test process does, for
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


def seed_workspace(runs: dict[str, Path] | None = None, active: str | None = None, dataset=None) -> str:
    """A workspace in this test's state folder holding copies of ``runs`` (name -> run folder); the active run
    is ``active`` (default: the first) and its data the active dataset (or ``dataset``). Returns its id, for
    ``at.query_params["ws"]``."""
    import shutil

    from cfcore.data.dataset_file import save_dataset_file
    from cfcore.runs.folder import content_hash
    from cfcore.runs.run import load_run
    from cfcore.workspace import WorkspaceStore, new_run_id

    store = WorkspaceStore(os.environ["CFCORE_STATE_DIR"])
    space = store.create()
    ids = {}
    for name, folder in (runs or {}).items():
        run_id = new_run_id()
        shutil.copytree(folder, space.run_dir(run_id))
        space.register_run(run_id, name, content_hash(folder))
        ids[name] = run_id
    if ids:
        active = active or next(iter(ids))
        dataset = dataset or load_run(space.run_dir(ids[active])).dataset
        space.update(active_run=ids[active])
    if dataset is not None:
        save_dataset_file(dataset, space.dataset_file(dataset.fingerprint))
        space.update(dataset={"kind": "file", "fingerprint": dataset.fingerprint})
    return space.id


def workspace_run_names(ws_id: str) -> list[str]:
    """The run names of a workspace, oldest first, as its folder holds them."""
    from cfcore.workspace import WorkspaceStore

    space = WorkspaceStore(os.environ["CFCORE_STATE_DIR"]).open(ws_id)
    return list(space.run_names().values()) if space is not None else []


def open_app(ws: str | None = None, page: str | None = None, **params):
    """The app as a browser opens it (an AppTest of app.py, run): with ``ws``, that workspace's link; ``params``
    more query parameters; ``page`` then switched to. Fails on an exception."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    if ws is not None:
        at.query_params["ws"] = ws
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def live_points(at) -> dict[str, int]:
    """Series -> points in a running job's SVG chart (``cfcore.figures.live_svg``) on an AppTest page; {} when none."""
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.w3.org/2000/svg"}
    for element in at.markdown:
        if element.value.startswith("<svg"):
            svg = ET.fromstring(element.value)
            return {g.get("data-series"): len(g.findall("s:circle", ns)) for g in svg.findall("s:g", ns)}
    return {}


def shown(markdown: str) -> str:
    """What a reader sees of a Markdown string the app escaped with ``cfcore.text.md``: backslash escapes read
    back as their characters, and the invisible word joiners that stop link detection are dropped."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def rewrite_model_member(folder: Path, name: str, change) -> None:
    """Replace member ``name`` of a run folder's ``model.keras`` with ``change(its bytes)`` (a tampered run)."""
    import zipfile

    with zipfile.ZipFile(folder / "model.keras") as archive:
        members = {member: archive.read(member) for member in archive.namelist()}
    members[name] = change(members[name])
    with zipfile.ZipFile(folder / "model.keras", "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
