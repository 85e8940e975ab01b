"""Shared links: settings in the query string open the Train page with the same setup, and back."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

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
