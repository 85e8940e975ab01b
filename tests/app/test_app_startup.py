"""The app at start: a misconfigured server is one readable message, and the chart code is asked for
first."""

from __future__ import annotations

import streamlit as st

from tests.support.paths import APP


def test_an_unusable_state_folder_is_one_readable_message(data_env, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CFCORE_STATE_DIR", str(blocker / "state"))  # no one can create a folder inside a file
    st.cache_resource.clear()
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "misconfigured" in at.error[0].value and "cannot write there" in at.error[0].value


def test_the_app_shows_the_problem_instead_of_a_traceback(monkeypatch, tmp_path, routed):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.support.paths import APP

    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "a-file"))
    monkeypatch.delenv("CFCORE_DATA", raising=False)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and "CFCORE_CACHE" in at.error[0].value and "is a file" in at.error[0].value
    st.cache_resource.clear()


def test_the_app_clears_the_chart_code_placeholder(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CFCORE_DATA", str(tmp_path / "missing"))  # the Data page stops with an error message
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.session_state["_chart_code_requested"] is True
    assert not at.get("plotly_chart")
