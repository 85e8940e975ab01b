"""The sidebar on every page: the active dataset, the active model (switchable) and this workspace's training."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cfcore.data.dataset import Dataset
from cfcore.text import md
from ui import job_panel, presenter, state
from ui.page import IMAGE_FORMAT_KEY, dataset_label

# The sidebar's training line only needs to be roughly current; the Train page polls faster.
SIDEBAR_POLL_SECONDS = 2.0
_SLOT_KEY = "_sidebar_dataset_slot"


def _run_marker() -> object | None:
    # A fresh object for every script run (Streamlit's per-run cursor table), so a slot drawn in an earlier
    # run (or by a page run without app.py's sidebar) is never written to.
    ctx = get_script_run_ctx()
    return ctx.cursors if ctx is not None else None


def refresh_dataset(dataset: Dataset | None) -> None:
    """Update the sidebar's dataset line in place (it is drawn before the page): no second run just to show it."""
    marker, slot = st.session_state.get(_SLOT_KEY, (None, None))
    if marker is not None and marker is _run_marker():
        _show_dataset(slot, dataset)


def _show_dataset(slot, dataset: Dataset | None) -> None:
    if dataset is None:
        slot.caption("None loaded yet (Data page).")
    else:
        slot.caption(f"{md(dataset_label(dataset))}  \n{dataset.n_users:,} users · {dataset.n_movies:,} movies · "
                     f"{dataset.n_ratings:,} ratings")


def active_model_picker(key: str) -> None:
    """The active-model menu (the sidebar's, or the page's own in presenter mode, where the sidebar is shut)."""
    all_runs, active = state.runs(), state.active_run()
    if active is None:
        st.caption("None yet (Train page).")
        return
    st.session_state[key] = active.name
    st.selectbox("Active model", list(all_runs), key=key, on_change=lambda: state.set_active_run(st.session_state[key]),
                 format_func=lambda name: state.run_label(all_runs[name]), label_visibility="collapsed")


def sidebar(page_title: str = "") -> None:
    """Draw the sidebar (app.py calls it before the page, called ``page_title``)."""
    state.init_session()
    job_panel.collect_finished("train")
    with st.sidebar:
        st.markdown("**Dataset**")
        slot = st.empty()
        _show_dataset(slot, state.current_dataset())
        st.session_state[_SLOT_KEY] = (_run_marker(), slot)
        st.markdown("**Active model**")
        active_model_picker("sidebar_active_run")
        job = job_panel.current_job("train")
        if job is not None and page_title == "Train":
            # The page's own panel shows this training live; a second, slower poller here lagged it by
            # two epochs and, ending a moment after it, asked for a fragment the panel's rerun had removed.
            st.caption(f"Training {md(job.name)}: its progress is on this page.")
        elif job is not None:
            _training_status(job.id)
        st.toggle("Presenter mode", key=presenter.KEY, on_change=presenter.follow_toggle,
                  help="For a projector: larger text and chart labels, the sidebar shut (the active model is then "
                       "chosen at the top of each page). The link gets ?present=1, so you can open it that way.")
        st.radio("Chart images", ["png", "svg"], key=IMAGE_FORMAT_KEY, horizontal=True, format_func=str.upper,
                 help="What the camera button above every chart saves: a 1920x1080 PNG (for slides and the "
                      "projector) or an SVG (for print; any size).")


@st.fragment(run_every=SIDEBAR_POLL_SECONDS)
def _training_status(job_id: str) -> None:
    """A line about this workspace's running job, kept fresh on every page; reruns the app when the job ends."""
    job = job_panel.job(job_id)
    if job is None or job.finished:
        st.rerun()  # the full run collects the finished run (it becomes the active model)
    if job.state == "queued":
        st.caption(f"Training queued: position {job.queue_position()}.")
    else:
        progress = job.progress
        where = f"epoch {progress.epoch} of {progress.epochs}" if progress else "starting"
        st.caption(f"Training {md(job.name)}: {where}.")
