"""The Compare page's run management: hide, delete or share a run, and download it."""

from __future__ import annotations

import streamlit as st

from cfcore import share
from cfcore.runs.run import Run
from cfcore.text import md
from ui import state


def show(all_runs: dict[str, Run], active: Run, hidden: set[str]) -> None:
    """The menu of runs (the active one first chosen), what can be done to the one picked, and its downloads."""
    st.subheader("Manage runs")
    picked = st.selectbox("Run", list(all_runs), index=list(all_runs).index(active.name), key="cmp_manage",
                          format_func=lambda name: state.run_label(all_runs[name], all_runs))
    run = all_runs[picked]
    left, middle, right = st.columns(3)
    if left.toggle("Hide from the charts", value=picked in hidden, key=f"cmp_hide_{picked}") != (picked in hidden):
        state.set_hidden(picked, picked not in hidden)
        st.rerun()
    if middle.button("Delete this run", key="cmp_delete", icon=":material/delete:"):
        st.session_state["cmp_confirm_delete"] = picked
    if right.button("Share this run", key="cmp_share", icon=":material/share:"):
        token = state.share_run_token(picked)
        st.session_state["cmp_share_link"] = (picked, f"{(st.context.url or '').split('?')[0]}?"
                                                      f"{state.SHARED_RUN_PARAM}={token}")
    if st.session_state.get("cmp_confirm_delete") == picked:
        st.warning(f"Delete **{md(picked)}** from this workspace and from the server's disk? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", key="cmp_delete_yes", type="primary"):
            state.delete_run(picked)
            st.session_state.pop("cmp_confirm_delete")
            st.rerun()
        if no.button("Keep it", key="cmp_delete_no"):
            st.session_state.pop("cmp_confirm_delete")
            st.rerun()
    link = st.session_state.get("cmp_share_link")
    if link and link[0] == picked:
        st.markdown("A read-only link to a copy of this one run: whoever opens it gets the copy in their own "
                    "workspace and sees nothing else of yours.")
        st.code(link[1], language=None)
    st.caption("Your workspace's own link (the address bar) is private: anyone with it can see and change all "
               "these runs. Share runs with the button above instead.")

    st.subheader(f"Download {md(run.name)}")
    a, b, c = st.columns(3)
    a.download_button("Model (.keras)", lambda: share.model_bytes(run), "model.keras", "application/zip",
                      key="cmp_download_model", on_click="ignore")
    b.download_button("History (CSV)", lambda: share.history_csv_bytes(run), "history.csv", "text/csv",
                      key="cmp_download_history", on_click="ignore")
    c.download_button("Whole run (zip, loads below)", lambda: share.run_zip_bytes(run), "run.zip",
                      "application/zip", key="cmp_download_run", on_click="ignore")

