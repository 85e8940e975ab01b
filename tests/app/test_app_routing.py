"""app.py routes every page: each renders with and without a model, deep links go through it, and page
switches recompute nothing and keep the learner's tabs."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.app import PAGES, assert_page, open_app, page_app
from tests.support.paths import APP, REPO
from tests.support.workspaces import seed_workspace


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


def test_switching_pages_with_a_trained_model_recomputes_nothing(data_env, tiny_run_dir, monkeypatch):
    # Page switches must be quick: a page already seen with this run reuses its PCA and rankings, and no
    # page trains or predicts for the whole dataset again. Count the expensive calls while clicking around.
    from cfcore.analysis import pca
    from cfcore.trainer.manager import TrainingManager

    calls: list[str] = []

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapper

    for name in ("movie_pca_frame", "pc_rankings"):
        monkeypatch.setattr(pca, name, counting(name, getattr(pca, name)))
    monkeypatch.setattr(TrainingManager, "submit", counting("submit", TrainingManager.submit))
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


@pytest.mark.parametrize("page, title", [("embeddings", "Embeddings"), ("recommend", "Recommend"),
                                         ("under_the_hood", "Under the hood"), ("compare", "Compare")])
def test_pages_without_a_run_show_an_info_message(page, title):
    at = page_app(page).run()
    assert_page(at, title)
    assert at.info, "expected a friendly st.info message"
    assert not at.error


def test_tabs_open_where_the_learner_left_them_after_a_page_switch(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/recommend.py")
    at.session_state["rec_tab"] = "Explain a prediction"
    at.run()
    assert at.selectbox(key="rec_movie")
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/recommend.py").run()
    assert not at.exception and at.session_state["rec_tab"] == "Explain a prediction"
    assert at.selectbox(key="rec_movie") and not at.get("multiselect")

    at.switch_page("pages/compare.py").run()
    at.session_state["cmp_load_tab"] = "From a zip"
    at.run()
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/compare.py").run()
    assert at.session_state["cmp_load_tab"] == "From a zip"


def test_runs_that_began_in_the_old_mode_together_are_all_routed(monkeypatch, synthetic_folder, tmp_path):
    """Tabs reconnecting together after a restart: each run starts in the pages-folder mode, but another
    session's run has already left it by the time this one's page asks. It still reruns through app.py."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.setenv("CFCORE_DATA", str(synthetic_folder))
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "cache"))
    old_mode_runner = script_runner._mpa_v1

    def another_session_left_the_mode_meanwhile(main_script_path):
        PagesManager.uses_pages_directory = False
        old_mode_runner(main_script_path)

    monkeypatch.setattr(script_runner, "_mpa_v1", another_session_left_the_mode_meanwhile)
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/recommend.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Recommend"]
    assert [m.value for m in at.sidebar.markdown][:2] == ["**Dataset**", "**Active model**"]
