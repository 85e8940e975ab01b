"""Shared links: settings in the query string open the Train page with the same setup, and back; values the page
cannot use are clamped or named, never a crash."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from cfcore import share
from tests.support.app import open_app, page_texts
from tests.support.paths import APP


@pytest.fixture
def loaded(synthetic_dataset):
    return {"dataset": synthetic_dataset}


def _train_page(params: dict[str, str], state: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def test_a_shared_link_fills_the_train_page(data_env, loaded):  # noqa: F811
    params = {"model": "simple_dot", "embedding_dim": "16", "epochs": "3", "batch_size": "1000",
              "learning_rate": "0.0095", "patience": "1", "seed": "7"}
    at = _train_page(params, loaded)
    assert at.selectbox(key="train_model").value == "simple_dot"
    assert at.number_input(key="train_embedding_dim").value == 16
    assert at.slider(key="train_epochs").value == 3
    assert at.select_slider(key="train_batch_size").value == 1024  # snapped to the nearest option
    assert at.select_slider(key="train_learning_rate").value == 0.01
    assert at.slider(key="train_patience").value == 1
    assert at.number_input(key="train_seed").value == 7
    # ...and the URL now mirrors the full settings.
    assert at.query_params["model"] in ("simple_dot", ["simple_dot"])
    assert at.query_params["epochs"] in ("3", ["3"])


def test_hostile_query_values_are_ignored_or_clamped(data_env, loaded):  # noqa: F811
    params = {"model": "rm -rf", "embedding_dim": "1e9", "epochs": "-4", "batch_size": "nan",
              "learning_rate": "abc", "seed": "x" * 500, "unknown": "1"}
    at = _train_page(params, loaded)
    assert at.selectbox(key="train_model").value == "dot_with_bias"  # unknown model: article default
    assert at.number_input(key="train_embedding_dim").value == 256  # clamped to the largest allowed
    assert at.slider(key="train_epochs").value == 1
    assert at.select_slider(key="train_batch_size").value == 32
    assert at.select_slider(key="train_learning_rate").value == 0.001


def test_bad_values_in_a_shared_link_are_named(data_env):
    at = open_app(page="pages/train.py", epochs="9999", model="foo", learning_rate="0.0013", seed="abc")
    warnings = page_texts(at, "warning")
    assert "epochs=9999 is not on the page's controls: the nearest, 50, is used" in warnings
    assert "model='foo' is not one of simple_dot, dot_with_bias, simple_embedding" in warnings
    assert "learning_rate=0.0013" in warnings and "seed='abc'" in warnings
    assert at.slider(key="train_epochs").value == 50
    assert share.config_link_notes(share.config_to_params(share.TrainConfig())) == []  # a clean link: no notes


def test_overflowing_link_numbers_are_named_not_a_crash(data_env):
    view, notes = share.params_to_view({"perp": "1e400", "tseed": "inf", "minr": "-inf"})
    assert view == {} and len(notes) == 3
    at = open_app(page="pages/data.py", perp="1e400", tseed="inf")
    assert not at.exception
