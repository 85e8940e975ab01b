"""AppTest of the "Beyond the article" page."""

from __future__ import annotations

import pytest

from tests.support.app import open_app
from tests.support.text import shown
from tests.support.waiting import wait_for
from tests.support.workspaces import seed_workspace, workspace_run_names


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_the_questions_are_answered_from_the_workspace_runs(data_env, tiny_run_dir, factor_run_dirs):
    runs = {"tiny": tiny_run_dir, **{f"{m} #1": folder for m, folder in factor_run_dirs.items()}}
    at = open_app(ws=seed_workspace(runs, active="tiny"), page="pages/beyond.py")
    metrics = {m.label: m.value for m in at.metric}
    assert "Linear CKA" in metrics and "Neighbour overlap@10" in metrics
    text = _texts(at)
    assert "**implicit \\#1** and **tiny**" in text and "**autorec \\#1** and **tiny**" in text
    assert "times what chance would give" in text and "split of the active model, **tiny**" in text
    assert "against the active model, **tiny**" in text
    assert at.selectbox(key="bey_any_a").value == "tiny"  # the active run, against the newest of another kind
    assert at.selectbox(key="bey_any_b").value == "implicit #1"
    # One map pair per question and one for the pair picked at the bottom.
    assert len(at.get("plotly_chart")) == 3
    one_hot = at.dataframe[0].value
    linear, biases = one_hot["val RMSE"].iloc[0], one_hot["val RMSE"].iloc[1]
    assert abs(linear - biases) < 1e-3
    assert "tiny" in list(one_hot["model"]) and "implicit #1" not in list(one_hot["model"])
    assert not at.exception


def test_questions_say_what_to_make_first(data_env, tiny_run_dir):
    at = open_app(ws=seed_workspace({"tiny": tiny_run_dir}), page="pages/beyond.py")
    infos = [i.value for i in at.info]
    assert any("**Implicit**" in i for i in infos) and any("AutoRec" in i for i in infos)


def test_compute_saves_a_factor_run_in_the_workspace(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws=ws, page="pages/beyond.py")
    at.radio(key="bey_method").set_value("svd")
    at.number_input(key="bey_dim").set_value(3)
    at.button(key="bey_compute").click().run()
    assert not at.exception, at.exception
    wait_for(lambda: "SVD #1" in workspace_run_names(ws), timeout=120, interval=0.5)
    assert "SVD #1" in workspace_run_names(ws)
    at.run()
    assert any("SVD \\#1" in s.value for s in at.success)
    # The learner's trained model stays the active one.
    assert at.sidebar.selectbox(key="sidebar_active_run").value == "tiny"


def test_an_svd_too_big_for_the_data_is_a_message(data_env, tiny_run_dir):
    at = open_app(ws=seed_workspace({"tiny": tiny_run_dir}), page="pages/beyond.py")
    at.radio(key="bey_method").set_value("svd")
    at.number_input(key="bey_dim").set_value(200)
    at.button(key="bey_compute").click().run()
    assert any("choose a size below" in e.value for e in at.error)


@pytest.mark.slow
def test_the_onehot_cost_is_measured_on_request(data_env, tiny_run_dir):
    at = open_app(ws=seed_workspace({"tiny": tiny_run_dir}), page="pages/beyond.py")
    at.button(key="bey_cost_go").click().run()
    wait_for(lambda: len(at.run().dataframe) >= 2, timeout=120, interval=1)
    assert not at.exception, at.exception
    costs = at.dataframe[1].value
    assert list(costs["input"]) == ["Embedding lookup", "Dense layer on one-hot vectors"]
    assert any("the very same predictions" in m.value for m in at.markdown)


def test_a_dataset_past_the_measurement_budget_is_not_measured_and_says_why(data_env, tiny_run_dir, monkeypatch):
    from cfcore import constants

    monkeypatch.setattr(constants, "ONEHOT_MEASURE_MAX_BYTES", 1000)
    at = open_app(ws=seed_workspace({"tiny": tiny_run_dir}), page="pages/beyond.py")
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "bey_cost_go"]
    said = " ".join(i.value for i in at.info)
    assert "Not measured on this dataset: measuring 60 users and 40 movies would take about" in shown(said)
    assert "past the 0 MB this server allows a measurement" in shown(said)
    assert "an epoch's one-hot inputs built at once would take" in said
