"""The active-model menu: the sidebar's, or the page's own in presenter mode, where the sidebar is shut."""

from __future__ import annotations

import math

import streamlit as st

from cfcore.config import kind_name, settings_summary
from ui import state


def picker(key: str, labelled: bool = False) -> None:
    """The menu of this workspace's runs under ``key`` (its label shown when ``labelled``: no heading above it);
    choosing one makes it the active model. A line under it says what the active run is."""
    all_runs, active = state.runs(), state.active_run()
    if active is None:
        st.caption("None yet (Train page).")
        return
    st.session_state[key] = active.name
    st.selectbox("Active model", list(all_runs), key=key, on_change=lambda: state.set_active_run(st.session_state[key]),
                 format_func=lambda name: state.run_label(all_runs[name], all_runs),
                 label_visibility="visible" if labelled else "collapsed")
    rmse = active.result.best_val_rmse
    score = f"; validation RMSE {rmse:.3f}" if active.embeddings.predicts_ratings and math.isfinite(rmse) else ""
    st.caption(f"{kind_name(active.config.model)}, {settings_summary(active.config)}{score}.")
