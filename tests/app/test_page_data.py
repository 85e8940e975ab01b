"""AppTest checks for the shell, the Data page and the live Train page (and a smoke test of every page)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cfcore.config import PRESETS
from tests.support.app import PAGES, live_points, open_app
from tests.support.paths import APP, REPO
from tests.support.text import shown
from tests.support.workspaces import seed_workspace


def training_manager():
    from ui.services import training_manager as manager

    return manager()



def figure_traces(at: AppTest) -> dict[str, list]:
    """Trace name -> y values over every plotly chart on the page."""
    traces = {}
    for element in at.get("plotly_chart"):
        for trace in json.loads(element.proto.spec).get("data", []):
            if "name" in trace and isinstance(trace.get("y"), list):
                traces[trace["name"]] = trace["y"]
    return traces


def poll(at: AppTest, predicate, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if predicate():
            return True
        time.sleep(0.25)
    return False


# -- every page -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_no_model(data_env, page):
    at = open_app(page=page)
    assert at.session_state["active_run"] is None
    assert any("None yet" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_a_trained_model(data_env, tiny_run_dir, page):
    at = open_app(page=page, ws=seed_workspace({"tiny": tiny_run_dir}))
    assert at.sidebar.selectbox(key="sidebar_active_run").value == "tiny"


@pytest.mark.parametrize("page", PAGES[:2])
def test_page_renders_standalone(data_env, tiny_run_dir, page):
    """The Data and Train page files also run on their own (no navigation), with a model in the workspace."""
    at = AppTest.from_file(str(REPO / page), default_timeout=60)
    at.query_params["ws"] = seed_workspace({"tiny": tiny_run_dir})
    at.run()
    assert not at.exception, at.exception


def test_analysis_pages_point_to_train_when_there_is_no_model(data_env):
    at = open_app(page="pages/embeddings.py")
    assert any("Train" in info.value for info in at.info)


def test_deep_link_is_routed_through_app(monkeypatch, synthetic_folder, tmp_path):
    """Unpatched AppTest starts each run in the old pages-folder mode, like a fresh server's first request."""
    monkeypatch.setenv("CFCORE_DATA", str(synthetic_folder))
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Train"]
    assert [m.value for m in at.sidebar.markdown][:2] == ["**Dataset**", "**Active model**"]
    registered = [Path(str(info.get("script_path"))).name for info in at._registered_pages.values()]
    assert registered == [Path(page).name for page in PAGES]  # not common.py, not app.py


# -- Data page ---------------------------------------------------------------------------------


def test_data_page_summarises_the_configured_dataset(data_env, synthetic_dataset):
    at = open_app()
    assert at.radio(key="data_source").value == "configured"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Users"] == f"{synthetic_dataset.n_users:,}"
    assert metrics["Movies"] == f"{synthetic_dataset.n_movies:,}"
    assert metrics["Ratings"] == f"{synthetic_dataset.n_ratings:,}"
    assert len(at.get("plotly_chart")) == 3
    assert len(at.dataframe) == 1 and "title" in at.dataframe[0].value.columns
    assert f"{synthetic_dataset.n_users:,} users" in at.sidebar.caption[0].value
    n_val = round(synthetic_dataset.n_ratings * 0.2)
    assert metrics["Validation ratings"] == f"{n_val:,}"
    assert "Val. ratings, new movie" in metrics and "Val. ratings, new user" in metrics


def test_the_data_overview_is_built_once_per_dataset_for_every_session(data_env, synthetic_frames, monkeypatch):
    from cfcore.figures import data as data_figures

    built: list[int] = []
    original = data_figures.ratings_per_user
    monkeypatch.setattr(data_figures, "ratings_per_user", lambda dataset: built.append(dataset.n_ratings) or
                        original(dataset))
    first, second = open_app(), open_app()  # two learners, the same configured data
    first.run()
    ratings, movies = synthetic_frames
    assert built == [len(ratings)]
    for at in (first, second):
        assert len(at.get("plotly_chart")) == 3 and len(at.dataframe) == 1
    # Other ratings (an upload) get their own overview: a shared one must never show another dataset.
    smaller = ratings.iloc[: len(ratings) // 2]
    second.radio(key="data_source").set_value("upload").run()
    second.file_uploader(key="data_upload_ratings").set_value(
        ("mine.csv", smaller.to_csv(index=False).encode(), "text/csv"))
    second.file_uploader(key="data_upload_movies").set_value(
        ("movies.csv", movies.to_csv(index=False).encode(), "text/csv"))
    second.run()
    assert not second.exception and second.session_state["dataset"].n_ratings == len(smaller)
    assert built == [len(ratings), len(smaller)]
    import plotly.io

    expected = json.loads(plotly.io.to_json(data_figures.rating_histogram(second.session_state["dataset"])))
    assert json.loads(second.get("plotly_chart")[0].proto.spec) == expected, "the histogram is not the upload's"
    assert first.get("plotly_chart")[0].proto.spec != second.get("plotly_chart")[0].proto.spec


def test_loading_the_data_takes_one_script_run_and_updates_the_sidebar(data_env, synthetic_dataset, monkeypatch):
    """The first visit loads the data and shows it in the sidebar (drawn earlier) in place, without a rerun."""
    import ui.sidebar

    calls = []
    original = ui.sidebar.sidebar
    monkeypatch.setattr(ui.sidebar, "sidebar", lambda *args: (calls.append(1), original(*args))[1])
    at = open_app()
    assert len(calls) == 1
    assert f"{synthetic_dataset.n_users:,} users" in at.sidebar.caption[0].value
    assert not any("None loaded" in c.value for c in at.sidebar.caption)


def test_split_controls_change_the_split_and_are_remembered(data_env, synthetic_dataset):
    at = open_app()
    at.slider(key="data_val_fraction").set_value(0.3).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Validation ratings"] == f"{round(synthetic_dataset.n_ratings * 0.3):,}"
    assert at.session_state["split_settings"] == {"val_fraction": 0.3, "seed": 42}
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/data.py").run()
    assert at.slider(key="data_val_fraction").value == pytest.approx(0.3)


def test_invalid_upload_shows_an_error_and_keeps_the_app_working(data_env, synthetic_frames):
    at = open_app()
    before = at.session_state["dataset"]
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload_ratings").set_value(("ratings.csv", b"userId,movieId\n1,2\n", "text/csv"))
    movies = synthetic_frames[1].to_csv(index=False).encode()
    at.file_uploader(key="data_upload_movies").set_value(("movies.csv", movies, "text/csv"))
    at.run()
    assert not at.exception
    message = shown(at.error[0].value)
    assert len(at.error) == 1 and "ratings.csv: line 1 (header): missing column(s) 'rating'" in message
    assert at.session_state["dataset"] is before  # the previous dataset stays active
    assert at.metric, "the page should still show the previous dataset's summary"


def test_valid_upload_becomes_the_session_dataset(data_env, synthetic_frames):
    at = open_app()
    at.radio(key="data_source").set_value("upload").run()
    ratings, movies = (frame.to_csv(index=False).encode() for frame in synthetic_frames)
    at.file_uploader(key="data_upload_ratings").set_value(("my_ratings.csv", ratings, "text/csv"))
    at.file_uploader(key="data_upload_movies").set_value(("my_movies.csv", movies, "text/csv"))
    at.run()
    assert not at.exception and not at.error
    dataset = at.session_state["dataset"]
    assert dataset.source.startswith("upload") and dataset.n_ratings == len(synthetic_frames[0])
    other = open_app()  # a second browser with no link: its own workspace, no trace of the upload
    assert not other.session_state["dataset"].source.startswith("upload")
    again = open_app(ws=at.session_state["ws_id"])  # the workspace's link (a reload): the upload is back
    assert again.session_state["dataset"].fingerprint == dataset.fingerprint
    assert again.radio(key="data_source").value == "upload" and not again.error


def test_offline_builtin_source_shows_the_alternatives(monkeypatch, tmp_path, routed):
    import cfcore.data.sources
    from cfcore.data.download import DownloadError

    def offline(*args, **kwargs):
        raise DownloadError("could not download ml-latest-small from files.grouplens.org: no network")

    monkeypatch.delenv("CFCORE_DATA", raising=False)
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(cfcore.data.sources, "download_dataset", offline)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_app()
    assert at.radio(key="data_source").value == "builtin"
    assert "could not download" in at.error[0].value
    assert any("Upload" in info.value for info in at.info)
    assert at.session_state["dataset"] is None
    at.button(key="data_retry").click().run()
    assert not at.exception and "could not download" in at.error[0].value


def test_data_page_does_not_import_tensorflow(synthetic_folder, tmp_path):
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "assert len(at.metric) >= 4, 'the Data page did not render its summary'\n"
        "loaded = [name for name in ('tensorflow', 'keras') if name in sys.modules]\n"
        "assert not loaded, f'the Data page imported {loaded}'\n"
    )
    env = {**os.environ, "CFCORE_DATA": str(synthetic_folder), "CFCORE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# -- Train page --------------------------------------------------------------------------------


def test_train_page_offers_to_load_data_when_none_is_loaded(data_env):
    at = AppTest.from_file(str(REPO / "pages/train.py"), default_timeout=60).run()
    assert not at.exception
    at.button(key="train_load_default").click().run()
    assert not at.exception
    assert at.session_state["dataset"] is not None
    assert at.button(key="train_start").disabled is False


def test_preset_fills_the_controls_and_they_survive_a_page_switch(data_env):
    at = open_app(page="pages/train.py")
    assert at.slider(key="train_epochs").value == 10 and at.select_slider(key="train_batch_size").value == 32
    at.selectbox(key="train_model").set_value("simple_dot").run()
    at.selectbox(key="train_preset").set_value("fast").run()
    fast = PRESETS["fast"]
    assert at.select_slider(key="train_batch_size").value == fast.batch_size
    assert at.select_slider(key="train_learning_rate").value == fast.learning_rate
    assert at.slider(key="train_epochs").value == fast.epochs
    assert at.selectbox(key="train_model").value == "simple_dot"  # a preset is a recipe, not a model
    at.slider(key="train_epochs").set_value(5).run()
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/train.py").run()
    assert at.slider(key="train_epochs").value == 5
    assert at.selectbox(key="train_preset").value == "fast"


def test_live_training_shows_progress_and_stop_keeps_the_partial_curve(data_env, monkeypatch, tmp_path):
    from tests.support.data import make_synthetic_frames

    # Data big enough that 50 epochs take minutes in the trainer (the 1,200 synthetic ratings take a second).
    ratings, movies = make_synthetic_frames(n_users=400, n_movies=300, density=0.5)
    bigger = tmp_path / "bigger"
    bigger.mkdir()
    ratings.to_csv(bigger / "ratings.csv", index=False)
    movies.to_csv(bigger / "movies.csv", index=False)
    monkeypatch.setenv("CFCORE_DATA", str(bigger))
    at = open_app(page="pages/train.py")
    at.number_input(key="train_embedding_dim").set_value(4)
    at.slider(key="train_epochs").set_value(50)
    at.select_slider(key="train_batch_size").set_value(16)
    at.slider(key="train_patience").set_value(0)
    at.button(key="train_start").click().run()
    assert not at.exception
    [job] = training_manager().jobs(at.session_state["ws_id"])
    assert at.button(key="train_start").disabled

    assert poll(at, lambda: live_points(at).get("val_rmse", 0) >= 1), "no epoch appeared"
    assert any("epoch" in p.proto.text for p in at.get("progress")), [p.proto for p in at.get("progress")]
    assert live_points(at)["train_rmse"], "the train curve is empty"
    # On the Train page the panel shows the progress; the sidebar points to it instead of lagging behind it.
    assert any(shown(c.value) == "Training dot_with_bias #1: its progress is on this page." for c in at.sidebar.caption)

    reloaded = open_app(page="pages/train.py", ws=at.session_state["ws_id"])  # F5: the live panel is back
    assert poll(reloaded, lambda: live_points(reloaded).get("val_rmse")), "the reload lost the training"
    assert reloaded.button(key="train_start").disabled and [b for b in reloaded.button if b.key == "train_stop"]
    other = open_app(page="pages/train.py")  # another browser with no link sees nothing of this run
    assert not training_manager().jobs(other.session_state["ws_id"]) and not other.button(key="train_start").disabled
    assert not [b for b in other.button if b.key == "train_stop"]

    at.switch_page("pages/data.py").run()  # leaving the page does not stop the run
    at.switch_page("pages/train.py").run()
    at.button(key="train_stop").click().run()
    assert poll(at, lambda: at.session_state["active_run"], timeout=30), "the stopped run was not kept"
    at.run()  # the poll may end on a fragment rerun; a full run redraws the sidebar with the new run

    name = at.session_state["active_run"]
    assert not training_manager().jobs(at.session_state["ws_id"])
    run = job.run
    assert run.result.stopped_by_user and 1 <= run.result.epochs_run < 50
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Epochs run"] == f"{run.result.epochs_run} of 50"
    assert len(figure_traces(at)["validation RMSE"]) == run.result.epochs_run
    assert name in at.sidebar.selectbox(key="sidebar_active_run").value


def test_the_live_curve_is_rebuilt_only_when_an_epoch_is_added(data_env, monkeypatch):
    # Every poll redraws the live panel; the curve is built again only when the history grew.
    import threading
    from types import SimpleNamespace

    from cfcore.figures import live_svg

    next_epoch, finish = threading.Event(), threading.Event()

    def two_epochs(dataset, config, *, split, listeners, stop_event, **_):
        history = []
        for epoch, wait in ((1, next_epoch), (2, finish)):
            history.append({"epoch": epoch, "train_rmse": 1.0, "val_rmse": 1.1})
            for listener in listeners:
                listener(SimpleNamespace(stage="epoch", epoch=epoch, epochs=config.epochs, step=1, steps_per_epoch=1,
                                         history=list(history)))
            wait.wait(60)
        raise RuntimeError("ended by the test")

    builds: list[int] = []
    original = live_svg.training_curves_svg
    monkeypatch.setattr(live_svg, "training_curves_svg", lambda history, *a, **k: builds.append(len(history)) or
                        original(history, *a, **k))
    at = open_app(page="pages/train.py")
    monkeypatch.setattr(training_manager(), "_train_fn", two_epochs)
    try:
        at.button(key="train_start").click().run()
        assert poll(at, lambda: live_points(at).get("val_rmse") == 1, timeout=30)
        builds.clear()
        for _ in range(3):
            at.run()
        assert builds == [] and live_points(at)["val_rmse"] == 1
        next_epoch.set()
        assert poll(at, lambda: live_points(at).get("val_rmse") == 2, timeout=30)
        at.run()
        assert builds == [2], builds
    finally:
        next_epoch.set()
        finish.set()


def test_switching_pages_with_a_trained_model_recomputes_nothing(data_env, tiny_run_dir, monkeypatch):
    # Page switches must be quick: a page already seen with this run reuses its PCA and rankings, and no
    # page trains or predicts for the whole dataset again. Count the expensive calls while clicking around.
    from cfcore.analysis import pca
    from cfcore.trainer import jobs

    calls: list[str] = []

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapper

    for name in ("movie_pca_frame", "pc_rankings"):
        monkeypatch.setattr(pca, name, counting(name, getattr(pca, name)))
    monkeypatch.setattr(jobs.TrainingManager, "submit", counting("submit", jobs.TrainingManager.submit))
    at = open_app(ws=seed_workspace({"tiny": tiny_run_dir}))
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    first_round = list(calls)
    assert "movie_pca_frame" in first_round and "pc_rankings" in first_round
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    assert calls == first_round, f"recomputed on the second visit: {calls[len(first_round):]}"
    assert "submit" not in calls
