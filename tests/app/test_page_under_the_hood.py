"""AppTest of the Under the hood page: the lookup equals the one-hot product, and the hand-made
layer is trained next to simple_dot."""

from __future__ import annotations

import json

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.support.app import (
    PAGES_DIR,
    TIMEOUT,
    assert_page,
    chart_specs,
    open_app,
    page_app,
    page_run_names,
    page_texts,
)
from tests.support.text import shown
from tests.support.workspaces import seed_workspace


def test_under_the_hood_lookup_equals_one_hot_product():
    at = page_app("under_the_hood")
    at.run()
    at.text_input(key="uth_days").input("snowy, sunny, hail, snowy").run()
    at.slider(key="uth_dim").set_value(4).run()
    assert_page(at, "Under the hood")
    assert any("hail" in w.value for w in at.warning)
    looked_up, product = at.dataframe[0].value, at.dataframe[1].value
    assert looked_up.shape == (3, 4)
    assert looked_up.index.tolist() == ["day 1: snowy", "day 2: sunny", "day 3: snowy"]
    np.testing.assert_array_equal(looked_up.to_numpy(), product.to_numpy())
    np.testing.assert_array_equal(looked_up.iloc[0], looked_up.iloc[2])  # same tag, same row
    assert at.success and "Identical" in at.success[0].value
    assert any("class GatherEmbedding" in code.value for code in at.code)


def test_under_the_hood_trains_simple_embedding_next_to_a_finished_simple_dot(dot_run):
    at = page_app("under_the_hood", dot_run).run()
    assert_page(at, "Under the hood")
    button = at.button(key="uth_train")
    assert button.label == "Train Hand-made layer"  # the finished simple_dot run is reused
    button.click().run()
    from ui.services import training_manager

    manager = training_manager()
    [job] = manager.jobs(at.session_state["ws_id"])
    assert job.purpose == "compare-layers" and job.config == dot_run.config.__class__(
        **{**dot_run.config.to_dict(), "model": "simple_embedding"})
    assert manager.wait(job, timeout=TIMEOUT)
    at.run()
    assert_page(at, "Under the hood")
    names = page_run_names(at)
    assert names[0] == "tiny" and names[1].startswith("Hand-made layer")
    assert at.session_state["active_run"] == "tiny"  # the comparison does not swap the active model
    curves = chart_specs(at)[-1]
    assert [t["name"] for t in curves["data"]] == ["tiny", names[1]]


def test_under_the_hood_draws_the_running_comparison_live(dot_run, monkeypatch):
    import threading
    import time
    from types import SimpleNamespace

    from tests.support.app import live_points
    from ui.services import training_manager

    finish = threading.Event()

    def one_epoch_then_wait(dataset, config, *, split, listeners, stop_event, **_):
        history = [{"epoch": 1, "train_rmse": 1.0, "val_rmse": 1.1}]
        for listener in listeners:
            listener(SimpleNamespace(stage="epoch", epoch=1, epochs=config.epochs, step=1, steps_per_epoch=1,
                                     history=list(history)))
        finish.wait(60)
        raise RuntimeError("ended by the test")

    at = page_app("under_the_hood", dot_run).run()
    monkeypatch.setattr(training_manager(), "_train_fn", one_epoch_then_wait)
    # An earlier test may have finished this very training: no reuse, so that this one runs live.
    monkeypatch.setattr(training_manager(), "_finished", type(training_manager()._finished)())
    try:
        at.button(key="uth_train").click().run()
        deadline = time.monotonic() + 30
        while live_points(at).get("Hand-made layer") != 1 and time.monotonic() < deadline:
            at.run()
        assert live_points(at) == {"Hand-made layer": 1}, [m.value[:80] for m in at.markdown]
        assert not at.exception
    finally:
        finish.set()


def test_under_the_hood_reports_a_failed_training(synthetic_dataset, monkeypatch):
    from cfcore.trainer.backend import TrainingFailed
    from ui.services import training_manager

    def broken_train(*args, **kwargs):
        raise TrainingFailed("the trainer stopped unexpectedly (out of memory)")

    manager = training_manager()
    monkeypatch.setattr(manager, "_train_fn", broken_train)
    at = AppTest.from_file(str(PAGES_DIR / "under_the_hood.py"), default_timeout=TIMEOUT)
    at.query_params["ws"] = seed_workspace(dataset=synthetic_dataset)
    at.run()
    at.button(key="uth_train").click().run()
    for job in manager.jobs(at.session_state["ws_id"]):
        assert manager.wait(job, timeout=TIMEOUT)
    at.run()
    assert_page(at, "Under the hood")
    messages = [shown(e.value) for e in at.error]
    assert len(messages) == 1 and messages[0].startswith("Training failed: the trainer stopped unexpectedly")
    assert not page_run_names(at)
    assert at.button(key="uth_train").label == "Train Hand-made layer and Dot"  # can try again


def test_under_the_hood_builds_its_heatmaps_once_per_input(monkeypatch):
    import streamlit as st

    from cfcore.figures import predictions

    st.cache_resource.clear()
    built: list[int] = []
    original = predictions.onehot_product_figure
    monkeypatch.setattr(predictions, "onehot_product_figure",
                        lambda onehot, *a, **k: built.append(onehot.shape[0]) or original(onehot, *a, **k))
    at = page_app("under_the_hood").run()
    at.run()
    page_app("under_the_hood").run()  # another session, the same example
    assert built == [5]
    at.text_input(key="uth_days").input("snowy, sunny").run()
    assert_page(at, "Under the hood")
    assert built == [5, 2]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["y"] == ["day 1: snowy", "day 2: sunny"]


def test_under_the_hood_says_when_it_cuts_or_replaces_the_weather(data_env):
    at = open_app(page="pages/under_the_hood.py")
    at.text_input(key="uth_days").set_value(", ".join(["sunny", "rainy"] * 10)).run()
    assert "Showing the first 14 of your 20 days" in page_texts(at, "info")
    at.text_input(key="uth_days").set_value("hail, , ").run()
    assert "Skipping unknown tags: hail" in page_texts(at, "warning")
    assert "No known weather tag to look up yet: showing one sunny day" in page_texts(at, "info")


def test_the_hand_made_layer_can_start_the_articles_way(dot_run):
    """Same seed, same start: identical curves, and the page says why; the toggle gives the article's own start."""
    from ui.services import training_manager

    at = page_app("under_the_hood", dot_run).run()
    assert "both start from the very same weights" in page_texts(at, "markdown")
    at.toggle(key="uth_own_init").set_value(True).run()
    at.button(key="uth_train").click().run()
    manager = training_manager()
    [job] = manager.jobs(at.session_state["ws_id"])
    assert job.config.model == "simple_embedding" and job.config.own_init is True
    assert manager.wait(job, timeout=120)
    at.run()
    assert_page(at, "Under the hood")
    caption = page_texts(at, "caption")
    assert "From its own start the hand-made layer ends" in caption and "global mean" in caption
