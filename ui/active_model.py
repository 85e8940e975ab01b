"""The active-model menu: the sidebar's, or the page's own in presenter mode, where the sidebar is shut."""

from __future__ import annotations

import streamlit as st

from ui import state


def picker(key: str) -> None:
    """The menu of this workspace's runs under ``key``; choosing one makes it the active model."""
    all_runs, active = state.runs(), state.active_run()
    if active is None:
        st.caption("None yet (Train page).")
        return
    st.session_state[key] = active.name
    st.selectbox("Active model", list(all_runs), key=key, on_change=lambda: state.set_active_run(st.session_state[key]),
                 format_func=lambda name: state.run_label(all_runs[name]), label_visibility="collapsed")
