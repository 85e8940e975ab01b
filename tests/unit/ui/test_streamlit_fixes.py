"""ui.streamlit_fixes: the chart and widget code the browser fetches early."""

from __future__ import annotations

import json


def _chart_code_script():
    import streamlit as st

    from ui.streamlit_fixes import start_loading_chart_code

    slot = start_loading_chart_code()
    st.write("placeholder kept" if slot is not None else "no placeholder")


def _widget_code_script():
    from ui.streamlit_fixes import preload_widget_code

    preload_widget_code()


def test_chart_code_is_requested_once_per_session_with_an_invisible_chart():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_chart_code_script).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and at.markdown[0].value == "placeholder kept"
    spec = json.loads(charts[0].proto.spec)
    assert spec["layout"]["height"] <= 10 and spec["data"][0]["marker"]["opacity"] == 0
    at.run()
    assert not at.get("plotly_chart") and at.markdown[0].value == "no placeholder"


def test_every_widget_chunk_name_is_a_file_of_the_installed_streamlit():
    """A Streamlit upgrade that renames a chunk makes this fail instead of silently preloading nothing."""
    from ui.streamlit_fixes import WIDGET_CHUNKS, widget_chunk_files

    files = widget_chunk_files()
    for name in WIDGET_CHUNKS:
        assert any(f.startswith(f"{name}.") for f in files), name
    assert all(f.endswith(".js") for f in files)


def test_widget_code_is_preloaded_once_per_session_from_the_sidebar():
    from streamlit.testing.v1 import AppTest

    from ui.streamlit_fixes import widget_chunk_files

    at = AppTest.from_function(_widget_code_script).run()
    assert not at.exception
    [html] = at.sidebar.get("html")
    body = html.proto.body
    assert "<script>" in body and all(f'"{name}"' in body for name in widget_chunk_files())
    assert not at.main.get("html")
    at.run()
    assert not at.sidebar.get("html")
