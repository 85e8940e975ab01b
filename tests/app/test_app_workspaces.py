"""Workspaces as a learner meets them: the link brings everything back (reload, restart), a made-up link opens
nothing of anyone's, a damaged run is skipped by name, an interrupted training shows its curve, Compare manages
and shares runs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import streamlit as st

from cfcore import workspace as W
from tests.support.app import open_app
from tests.support.paths import APP
from tests.support.text import shown
from tests.support.workspaces import dead_pid, seed_workspace, workspace_run_names


def restart_server(monkeypatch) -> None:
    """What a restart forgets: every process-wide cache, and this process's identity in job records."""
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setattr(W, "SERVER_TOKEN", "a-restarted-server")


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
    assert again.sidebar.selectbox(key="sidebar_active_run").options[:2] == [f"first · RMSE {rmse}",
                                                                              f"second · RMSE {rmse}"]
    assert again.session_state["dataset"].fingerprint == fingerprint
    assert again.selectbox(key="rec_user").value == chosen


def _rmse(folder: Path) -> str:
    return f"{json.loads((folder / 'result.json').read_text())['best_val_rmse']:.3f}"


@pytest.mark.parametrize("value", ["", "made-up", "A" * 32, "../../etc/passwd", "x" * 500, "<script>"])
def test_no_link_or_a_made_up_one_opens_a_fresh_workspace(data_env, tiny_run_dir, value):
    mine = seed_workspace({"private": tiny_run_dir})
    stranger = open_app(value, page="pages/compare.py")
    assert stranger.session_state["ws_id"] not in (mine, value)
    assert workspace_run_names(stranger.session_state["ws_id"]) == []
    assert not any("private" in c.value for c in stranger.sidebar.caption)
    assert stranger.session_state["active_run"] is None


def test_a_truncated_run_file_is_skipped_with_a_message_naming_it(data_env, tiny_run_dir):
    ws = seed_workspace({"good": tiny_run_dir, "broken": tiny_run_dir}, active="good")
    space = W.WorkspaceStore(data_env.parent / "state").open(ws)
    broken = next(run_id for run_id, name in space.run_names().items() if name == "broken")
    ratings = space.run_dir(broken) / "ratings.npz"
    ratings.write_bytes(ratings.read_bytes()[:100])
    at = open_app(ws, page="pages/compare.py")
    assert at.dataframe[0].value["run"].tolist() == ["good"]
    [warning] = at.warning
    assert broken in shown(warning.value) and "ratings.npz" in shown(warning.value)


def test_an_interrupted_training_is_listed_with_its_curve_and_can_be_dismissed(data_env):
    ws = seed_workspace()
    space = W.WorkspaceStore(data_env.parent / "state").open(ws)
    history = [{"epoch": e, "loss": 1.0, "val_loss": 1.1, "train_rmse": 1.0 - e / 10, "val_rmse": 1.1 - e / 20,
                "seconds": 1.0, "complete": True} for e in (1, 2, 3)]
    space.record_job("b" * 32, "dot_with_bias #4", {"epochs": 10}, history)
    # As a server that has since stopped left it: another process of this machine, no longer running.
    (space.folder / "jobs" / f"{'b' * 32}.json").write_text(json.dumps(
        {**json.loads((space.folder / "jobs" / f"{'b' * 32}.json").read_text()), "server": "old", "pid": dead_pid()}))
    at = open_app(ws, page="pages/train.py")
    [warning] = [w for w in at.warning if "interrupted" in w.value]
    assert "dot_with_bias #4" in shown(warning.value) and "after 3 of 10 epochs" in shown(warning.value)
    curve = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][-1]
    assert any(len(t.get("y", [])) == 3 for t in curve["data"])
    at.button(key=f"train_dismiss_{'b' * 32}").click().run()
    assert not [w for w in at.warning if "interrupted" in w.value] and space.job_records() == []


def test_compare_hides_deletes_after_asking_and_shares_a_read_only_copy(data_env, tiny_run_dir):
    ws = seed_workspace({"keep": tiny_run_dir, "drop": tiny_run_dir}, active="keep")
    at = open_app(ws, page="pages/compare.py")
    at.selectbox(key="cmp_manage").set_value("drop").run()
    at.toggle(key="cmp_hide_drop").set_value(True).run()
    assert at.dataframe[0].value["run"].tolist() == ["keep"]
    assert any("Hidden from the table and charts" in c.value for c in at.caption)

    at.button(key="cmp_share").click().run()
    [link] = [c.value for c in at.code if "shared_run=" in c.value]
    token = link.split("shared_run=")[1]
    assert ws not in link

    at.button(key="cmp_delete").click().run()
    assert workspace_run_names(ws) == ["keep", "drop"]  # nothing yet: it asks first
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="cmp_delete_yes").click().run()
    assert workspace_run_names(ws) == ["keep"]

    friend = open_app(page="pages/compare.py", shared_run=token)  # another browser, the shared link
    assert friend.session_state["ws_id"] != ws
    assert workspace_run_names(friend.session_state["ws_id"]) == ["dot_with_bias #1"]
    assert any("Added" in s.value for s in friend.success)
    friend.run()
    assert workspace_run_names(friend.session_state["ws_id"]) == ["dot_with_bias #1"]  # once, not per rerun
    assert workspace_run_names(ws) == ["keep"]  # the sharer's workspace is untouched


def test_a_full_workspace_refuses_new_trainings_with_a_message(data_env, tiny_run_dir, monkeypatch):
    monkeypatch.setenv("CFCORE_WORKSPACE_MAX_RUNS", "1")  # the server's store reads it when it is made
    ws = seed_workspace({"only": tiny_run_dir})
    at = open_app(ws, page="pages/train.py")
    at.selectbox(key="train_preset").set_value("fast").run()
    at.button(key="train_start").click().run()
    assert any("the most it can keep is 1" in shown(e.value) for e in at.error)


def test_the_same_run_folder_loaded_twice_is_one_run(data_env, tiny_run_dir, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for name in ("a", "b"):
        shutil.copytree(tiny_run_dir, root / name)
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(root))
    at = open_app(page="pages/compare.py")
    at.button(key="cmp_load_all").click().run()
    # Two folders with the very same files: one run.
    assert len(workspace_run_names(at.session_state["ws_id"])) == 1
    at.button(key="cmp_load_all").click().run()
    assert len(workspace_run_names(at.session_state["ws_id"])) == 1


def test_a_training_finishes_and_is_saved_with_no_tab_open(data_env):
    from ui.services import training_manager

    at = open_app(page="pages/train.py")
    at.selectbox(key="train_preset").set_value("fast").run()
    at.button(key="train_start").click().run()
    ws = at.session_state["ws_id"]
    [job] = training_manager().jobs(ws)
    del at  # the tab is closed while the job runs
    assert training_manager().wait(job, timeout=180) and job.state == "done", job.error
    assert workspace_run_names(ws) == ["dot_with_bias #1"]  # saved by the server, nobody watching
    again = open_app(ws, page="pages/train.py")
    assert again.sidebar.selectbox(key="sidebar_active_run").value == "dot_with_bias #1"
    assert any(m.label == "Best val RMSE" for m in again.metric)


def test_an_unusable_state_folder_is_one_readable_message(data_env, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CFCORE_STATE_DIR", str(blocker / "state"))  # no one can create a folder inside a file
    st.cache_resource.clear()
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "misconfigured" in at.error[0].value and "cannot write there" in at.error[0].value


@pytest.mark.parametrize("page", [None, "pages/data.py", "pages/train.py", "pages/embeddings.py",
                                  "pages/recommend.py", "pages/compare.py"])
def test_a_visitor_who_only_looks_makes_no_workspace_folder(data_env, page):
    """300 bare sessions once made 307 workspace folders, each kept until the TTL."""
    store = W.WorkspaceStore(os.environ["CFCORE_STATE_DIR"])
    at = open_app(page=page)
    assert store.ids() == []
    assert store.open(at.session_state["ws_id"]) is None  # its id opens nothing until it saves something


def test_a_workspace_is_made_by_its_first_save_and_keeps_the_data_chosen_before(data_env, tiny_run_dir):
    from cfcore.runs.zip import export_run_zip

    store = W.WorkspaceStore(os.environ["CFCORE_STATE_DIR"])
    at = open_app(page="pages/compare.py")
    at.file_uploader(key="cmp_upload").set_value(("tiny.zip", export_run_zip(tiny_run_dir), "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert not at.exception and store.ids() == [at.session_state["ws_id"]]
    assert workspace_run_names(at.session_state["ws_id"])


def test_new_workspaces_per_client_address_are_limited():
    import tempfile

    store = W.WorkspaceStore(tempfile.mkdtemp(prefix="cfcore-test-state-"), max_new_per_hour=2)
    for _ in range(2):
        store.begin(client="203.0.113.9").ensure()
    with pytest.raises(W.WorkspaceError, match="started 2 workspaces in the last hour"):
        store.begin(client="203.0.113.9").ensure()
    store.begin(client="198.51.100.4").ensure()  # another address is not held back
    looking = store.begin(client="203.0.113.9")  # looking around costs nothing and is never refused
    assert not looking.exists and len(store.ids()) == 3
