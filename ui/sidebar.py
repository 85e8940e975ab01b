"""The sidebar on every page: the active dataset, the active model (switchable) and this workspace's training."""

from __future__ import annotations

import streamlit as st

from cfcore.data.dataset import Dataset
from cfcore.text import md
from ui import active_model, job_panel, presenter, state
from ui.page import IMAGE_FORMAT_KEY, dataset_label

# The sidebar's training line only needs to be roughly current; the Train page polls faster.
SIDEBAR_POLL_SECONDS = 2.0


def _show_dataset(slot, dataset: Dataset | None) -> None:
    if dataset is None:
        slot.caption("None loaded yet (Data page).")
    else:
        slot.caption(f"{md(dataset_label(dataset))}  \n{dataset.n_users:,} users · {dataset.n_movies:,} movies · "
                     f"{dataset.n_ratings:,} ratings")


def sidebar(page_title: str = "") -> None:
    """Draw the sidebar (app.py calls it before the page, called ``page_title``; it calls
    :func:`ui.state.show_dataset_with` with None once the page has run).

    Drawn before the page, not after ``page.run()``: a page that calls ``st.stop()`` leaves Streamlit 1.67's
    script in its STOP state, where every later element call raises again (``ScriptRequests.on_scriptrunner_yield``
    "remains stopped"), so a sidebar drawn after such a page would be missing.
    """
    state.init_session()
    job_panel.collect_finished("train")
    with st.sidebar:
        st.markdown("**Dataset**")
        slot = st.empty()
        _show_dataset(slot, state.current_dataset())
        # A page that loads data later in this run updates the line in place (no second run just to show it).
        state.show_dataset_with(lambda dataset: _show_dataset(slot, dataset))
        st.markdown("**Active model**")
        active_model.picker("sidebar_active_run")
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
