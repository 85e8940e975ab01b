"""Presenter mode, for a projector: larger text, chart labels of at least 14 px, the sidebar shut and the active
model chosen at the top of the page instead. On with the sidebar's toggle or a link with ``?present=1``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ui import active_model

if TYPE_CHECKING:
    import plotly.graph_objects as go

KEY = "present"
PARAM = "present"
# Streamlit sizes text and widgets in rem: a 20 px root makes everything 1.25 times larger.
ROOT_FONT_PX = 20
CHART_FONT_PX = 16


def on() -> bool:
    return bool(st.session_state.get(KEY))


def read_link() -> bool:
    """Whether presenter mode is on, taking ``?present=1`` (or ``=0``) from the link when there is one; app.py
    calls it before ``st.set_page_config``, whose sidebar state depends on it."""
    value = st.query_params.get(PARAM)
    if value in ("1", "0"):
        st.session_state[KEY] = value == "1"
    return on()


def follow_toggle() -> None:
    """Keep the link in step with the sidebar's toggle."""
    if on():
        st.query_params[PARAM] = "1"
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


def apply() -> None:
    """In presenter mode: the larger font, and the active-model menu at the top of the page."""
    if not on():
        return
    st.query_params[PARAM] = "1"  # kept across page switches, like the workspace id
    st.html(f"<style>html {{ font-size: {ROOT_FONT_PX}px; }}</style>")
    left, _ = st.columns([3, 2])  # a run's name and RMSE at 20 px, uncut on a 1024 px projector
    with left:
        active_model.picker("present_active_run", labelled=True)


def figure(fig: go.Figure) -> go.Figure:
    """``fig`` as a projector needs it: a copy with every text at :data:`CHART_FONT_PX` px or more (figures are
    shared between sessions, so the original stays as it is)."""
    if not on():
        return fig
    import plotly.graph_objects as go

    big = go.Figure(fig)
    big.update_layout(font={"size": CHART_FONT_PX}, title_font_size=CHART_FONT_PX + 2)
    big.update_xaxes(tickfont_size=CHART_FONT_PX, title_font_size=CHART_FONT_PX)
    big.update_yaxes(tickfont_size=CHART_FONT_PX, title_font_size=CHART_FONT_PX)
    return big
