"""Workspaces as a learner meets them: the link brings everything back (reload, restart), a made-up link
opens nothing of anyone's, a damaged run is skipped by name, a training is saved with no tab open,
and a visitor who only looks makes no workspace folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cfcore.workspaces import workspace as workspace_module
from cfcore.workspaces.store import WorkspaceStore
from tests.support.app import open_app
from tests.support.paths import APP
from tests.support.text import shown
from tests.support.workspaces import seed_workspace, workspace_run_names


def restart_server(monkeypatch) -> None:
    """What a restart forgets: every process-wide cache, and this process's identity in job records."""
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setattr(workspace_module, "SERVER_TOKEN", "a-restarted-server")


def _rmse(folder: Path) -> str:
    return f"{json.loads((folder / 'result.json').read_text())['best_val_rmse']:.3f}"


def test_the_link_brings_back_runs_data_and_choices_after_a_restart(data_env, tiny_run_dir, monkeypatch):
    ws = seed_workspace({"first": tiny_run_dir, "second": tiny_run_dir}, active="first")
    at = open_app(ws, page="pages/recommend.py")
    user = at.selectbox(key="rec_user").options[3]
    at.selectbox(key="rec_user").select(user).run()
    chosen = at.selectbox(key="rec_user").value
    at.sidebar.selectbox(key="sidebar_active_run").set_value("second").run()
    fingerprint = at.session_state["dataset"].fingerprint
    assert at.query_params["ws"] == ws or at.query_params["ws"] == [ws]  # the id stays in the URL

    restart_server(monkeypatch)
    again = open_app(ws, page="pages/recommend.py")
    assert again.session_state["ws_id"] == ws
    assert again.sidebar.selectbox(key="sidebar_active_run").value == "second"
    rmse = _rmse(tiny_run_dir)
    assert again.sidebar.selectbox(key="sidebar_active_run").options[:2] == [f"first · {rmse}",
                                                                              f"second · {rmse}"]
    assert again.session_state["dataset"].fingerprint == fingerprint
    assert again.selectbox(key="rec_user").value == chosen


@pytest.mark.parametrize("via", ["pages/data.py", "pages/compare.py"])
def test_the_chosen_user_survives_leaving_recommend_and_a_second_tab(data_env, tiny_run_dir, via):
    ws = seed_workspace({"first": tiny_run_dir}, active="first")
    at = open_app(ws, page="pages/recommend.py")
    at.selectbox(key="rec_user").select(at.selectbox(key="rec_user").options[5]).run()
    user = at.selectbox(key="rec_user").value
    assert user != at.selectbox(key="rec_user").options[0]
    at.number_input(key="rec_min_ratings").set_value(3).run()
    at.switch_page(via)
    at.query_params.pop("user")  # a browser's page switch keeps only the parameters the app sets again
    at.run()
    at.switch_page("pages/recommend.py").run()
    assert at.selectbox(key="rec_user").value == user
    assert at.number_input(key="rec_min_ratings").value == 3
    assert at.query_params["user"] in (str(user), [str(user)])
    second_tab = open_app(ws, page="pages/recommend.py")
    assert second_tab.selectbox(key="rec_user").value == user


@pytest.mark.parametrize("value", ["", "made-up", "A" * 32, "../../etc/passwd", "x" * 500, "<script>"])
def test_no_link_or_a_made_up_one_opens_a_fresh_workspace(data_env, tiny_run_dir, value):
    mine = seed_workspace({"private": tiny_run_dir})
    stranger = open_app(value, page="pages/compare.py")
    assert stranger.session_state["ws_id"] not in (mine, value)
    assert workspace_run_names(stranger.session_state["ws_id"]) == []
    assert not any("private" in c.value for c in stranger.sidebar.caption)
    assert stranger.session_state["active_run"] is None
    arriving = open_app(value)
    gone = [w.value for w in arriving.warning if "no longer exists" in w.value]
    assert len(gone) == (1 if value else 0)  # a link that named a workspace says it is gone; no link says nothing
    assert "new, empty workspace" in "".join(gone) or not value
    arriving.run()
    assert not any("no longer exists" in w.value for w in arriving.warning)  # said once


def test_a_truncated_run_file_is_skipped_with_a_message_naming_it(data_env, tiny_run_dir):
    ws = seed_workspace({"good": tiny_run_dir, "broken": tiny_run_dir}, active="good")
    space = WorkspaceStore(data_env.parent / "state").open(ws)
    broken = next(run_id for run_id, name in space.run_names().items() if name == "broken")
    ratings = space.run_dir(broken) / "ratings.npz"
    ratings.write_bytes(ratings.read_bytes()[:100])
    at = open_app(ws, page="pages/compare.py")
    assert at.dataframe[0].value["run"].tolist() == ["good"]
    [warning] = at.warning
    assert broken in shown(warning.value) and "ratings.npz" in shown(warning.value)


def test_a_training_finishes_and_is_saved_with_no_tab_open(data_env):
    from ui.services import training_manager

    at = open_app(page="pages/train.py")
    at.selectbox(key="train_preset").set_value("fast").run()
    at.button(key="train_start").click().run()
    ws = at.session_state["ws_id"]
    [job] = training_manager().jobs(ws)
    del at  # the tab is closed while the job runs
    assert training_manager().wait(job, timeout=180) and job.state == "done", job.error
    assert workspace_run_names(ws) == ["Dot + biases #1"]  # saved by the server, nobody watching
    again = open_app(ws, page="pages/train.py")
    assert again.sidebar.selectbox(key="sidebar_active_run").value == "Dot + biases #1"
    assert any(m.label == "Best val RMSE" for m in again.metric)


@pytest.mark.parametrize("page", [None, "pages/data.py", "pages/train.py", "pages/embeddings.py",
                                  "pages/recommend.py", "pages/compare.py"])
def test_a_visitor_who_only_looks_makes_no_workspace_folder(data_env, page):
    """300 bare sessions once made 307 workspace folders, each kept until the TTL."""
    store = WorkspaceStore(os.environ["CFCORE_STATE_DIR"])
    at = open_app(page=page)
    assert store.ids() == []
    assert store.open(at.session_state["ws_id"]) is None  # its id opens nothing until it saves something


def test_a_workspace_is_made_by_its_first_save_and_keeps_the_data_chosen_before(data_env, tiny_run_dir):
    from cfcore.runs.zip import export_run_zip

    store = WorkspaceStore(os.environ["CFCORE_STATE_DIR"])
    at = open_app(page="pages/compare.py")
    at.file_uploader(key="cmp_upload").set_value(("tiny.zip", export_run_zip(tiny_run_dir), "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert not at.exception and store.ids() == [at.session_state["ws_id"]]
    assert workspace_run_names(at.session_state["ws_id"])


def test_restored_choices_meet_widgets_without_a_session_state_warning(data_env, tiny_run_dir, monkeypatch):
    """A workspace's saved Beyond settings go into Session State before the widgets exist; a widget that also
    had its own default value made Streamlit log a warning on every server (issue: "bey_dim")."""
    from streamlit import runtime
    from streamlit.elements.lib import policies

    from cfcore.workspaces.store import WorkspaceStore

    ws = seed_workspace({"first": tiny_run_dir, "second": tiny_run_dir})
    WorkspaceStore(os.environ["CFCORE_STATE_DIR"]).open(ws).update(
        widgets={"bey_dim": 8, "bey_seed": 3, "bey_min_ratings": 5, "rec_min_ratings": 4})
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(runtime, "exists", lambda: True)  # AppTest has no Runtime; the check needs one
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["ws"] = ws
    at.switch_page("pages/beyond.py").run()  # a link straight to the page: restored in the widgets' own run
    assert not at.exception
    assert at.number_input(key="bey_dim").value == 8
    assert at.number_input(key="bey_min_ratings").value == 5
    assert not policies._shown_default_value_warning  # set when the warning is logged
