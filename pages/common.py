"""Shared helpers for the pages: session state, the training manager, data loading, the sidebar.

Not a page. Session keys: ``"dataset"`` (Dataset | None), ``"runs"`` (dict name -> Run, insertion
ordered), ``"active_run"`` (str | None), ``"session_id"`` (this session's owner id for training jobs),
``"train_job"`` (id of this session's queued/running job, or None), ``"split_settings"`` (the Data
page's validation fraction and split seed, read by the Train page).
Nothing here imports TensorFlow: the Data page must stay light.
"""

from __future__ import annotations

import math
import os
import uuid
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cfcore import constants as C
from cfcore import settings, share
from cfcore.data import DataError, Dataset, load_dataset
from cfcore.heap import HeapJanitor
from cfcore.trainer.jobs import TrainingManager
from cfcore.text import md
from pages.streamlit_fixes import (
    hand_over_the_gil_sooner,
    keep_keras_state_between_reruns,
    leave_pages_folder_mode,
    runtime_session_manager,
    shut_down_expired_sessions,
)

if TYPE_CHECKING:
    from cfcore.runs import Run

keep_keras_state_between_reruns()
hand_over_the_gil_sooner()

DEFAULT_SPLIT = {"val_fraction": 0.2, "seed": C.DEFAULT_SEED}

# The sidebar's training line only needs to be roughly current; the Train page polls faster.
SIDEBAR_POLL_SECONDS = 2.0


def init_session() -> None:
    """Create the session keys every page relies on (idempotent); route through app.py (see above)."""
    leave_pages_folder_mode()
    st.session_state.setdefault("session_id", uuid.uuid4().hex)
    st.session_state.setdefault("dataset", None)
    st.session_state.setdefault("runs", {})
    st.session_state.setdefault("active_run", None)
    st.session_state.setdefault("train_job", None)
    st.session_state.setdefault("split_settings", dict(DEFAULT_SPLIT))
    if "share_config" not in st.session_state:
        # A shared link's settings, read once: page switches clear the URL afterwards.
        st.session_state.setdefault("share_user", share.read_id(st.query_params, share.USER_KEY))
        st.session_state.setdefault("share_movie", share.read_id(st.query_params, share.MOVIE_KEY))
        st.session_state["share_config"] = share.params_to_config_overrides(st.query_params)


@st.cache_resource(show_spinner=False)
def _server_start() -> str | None:
    """Once per server process: check the environment and sweep what crashed processes left; the problem, or None."""
    from cfcore.runzip import sweep_scratch

    sweep_scratch()
    try:
        settings.check_environment()
    except settings.SettingsError as err:
        return str(err)
    return None


def check_server_settings() -> None:
    """Stop the page with a readable message when the server's environment cannot be used (app.py calls it)."""
    problem = _server_start()
    if problem is not None:
        st.error(f"This server is misconfigured: {problem}. Fix the variable and restart the app.")
        st.stop()


def intro(text: str) -> None:
    """The 2-3 sentences under a page title that say what the learner is looking at and why."""
    init_session()  # every page calls this first: the place to route through app.py
    st.markdown(text)


def session_id() -> str:
    """This browser session's owner id for training jobs (a uuid kept in session state)."""
    init_session()
    return st.session_state["session_id"]


# -- dataset ------------------------------------------------------------------------


def current_dataset() -> Dataset | None:
    """The session's active dataset, or None before one is loaded."""
    init_session()
    return st.session_state["dataset"]


def set_dataset(dataset: Dataset) -> None:
    """Make ``dataset`` the session's active dataset (runs keep the data they were trained on).

    The sidebar, drawn before the page, is updated in place: no second script run just to show it.
    """
    init_session()
    st.session_state["dataset"] = dataset
    slot = _this_runs_sidebar_slot()
    if slot is not None:
        _show_dataset(slot, dataset)


def configured_data_path() -> str:
    """The folder or zip named by ``CFCORE_DATA``, or "" when it is not set."""
    return os.environ.get(C.DATA_ENV_VAR, "").strip()


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_dataset_cached(path: str) -> Dataset:
    # Keyed by path: the built-in copy ("" = CFCORE_DATA, the cache, or a download) and configured folders
    # are shared across sessions. Uploads never come through here; they live in one session's state.
    # One shared object, not a copy per session (st.cache_data would unpickle ~6 MB for every visitor):
    # nothing in the app modifies a Dataset after it is built.
    return load_dataset(path or None)


def load_path_dataset(path: str = "") -> Dataset:
    """Load (once per process) the dataset at ``path``; "" means ``CFCORE_DATA`` or the built-in copy.

    Raises:
        DataError: with a readable message (offline, missing files, bad data).
    """
    return _load_dataset_cached(path or configured_data_path())


def split_settings() -> dict[str, Any]:
    """The validation fraction and split seed chosen on the Data page."""
    init_session()
    return st.session_state["split_settings"]


def load_default_dataset_button(key: str) -> None:
    """For pages that need data when none is loaded: a button that loads the default source."""
    st.info("No dataset is loaded yet. Choose one on the Data page, or load the default here.")
    page_link("pages/data.py", "Go to Data", ":material/database:")
    if st.button("Load the default dataset", key=key, type="primary"):
        with st.spinner("Loading MovieLens ml-latest-small (downloading it the first time)..."):
            try:
                set_dataset(load_path_dataset())
                st.session_state["data_loaded_key"] = ("path", configured_data_path())  # as the Data page keys it
            except DataError as err:
                st.error(str(err))
                return
        st.rerun()


# -- runs ---------------------------------------------------------------------------


def runs() -> dict[str, Run]:
    """This session's trained runs, oldest first."""
    init_session()
    return st.session_state["runs"]


def active_run() -> Run | None:
    """The run the analysis pages use, or None before any training."""
    init_session()
    name = st.session_state["active_run"]
    return runs().get(name) if name else None


def set_active_run(name: str) -> None:
    """Make the run called ``name`` the active one.

    Raises:
        KeyError: if this session has no run of that name.
    """
    if name not in runs():
        raise KeyError(f"no run named {name!r}; this session has: {', '.join(runs()) or 'none'}")
    st.session_state["active_run"] = name


def add_run(run: Run) -> str:
    """Keep ``run`` under a unique name ("dot_with_bias #2"), make it active, return the name."""
    existing = runs()
    base = run.config.model
    number = 1 + sum(1 for name in existing if name.split(" #")[0] == base)
    name = f"{base} #{number}"
    while name in existing:
        number += 1
        name = f"{base} #{number}"
    run.name = name
    existing[name] = run
    st.session_state["active_run"] = name
    return name


def run_label(run: Run) -> str:
    """ "name · val RMSE 0.874" for menus and the sidebar."""
    rmse = run.result.best_val_rmse
    return f"{run.name} · val RMSE {rmse:.3f}" if math.isfinite(rmse) else run.name


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """``st.page_link`` that degrades to plain text when the page is not registered (a page run on its own)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.markdown(f"Open **{label.removeprefix('Go to ')}** from the menu.")


def require_run() -> Run | None:
    """The active run; when there is none, say how to get one and return None."""
    run = active_run()
    if run is None:
        st.info("This page needs a trained model. Train one on the Train page: the *fast* preset takes seconds.")
        page_link("pages/train.py", "Go to Train", ":material/model_training:")
    return run


# -- training jobs ------------------------------------------------------------------


@st.cache_resource
def training_manager() -> TrainingManager:
    """The process-wide manager (shared by all sessions; each sees only its own jobs)."""
    # The janitor hands freed memory back to the OS after trainings and closed sessions (cfcore.heap); before
    # each pass it has Streamlit drop (and shut down) sessions closed longer than the reconnect window.
    session_mgr = runtime_session_manager()
    reap = shut_down_expired_sessions(session_mgr) if session_mgr is not None else None
    janitor = HeapJanitor(before_pass=reap)
    manager = TrainingManager(max_concurrent=settings.max_trainings(), janitor=janitor,
                              max_seconds=settings.max_train_seconds())
    janitor.busy = manager.busy  # no pass while trainings run: it would stall every page
    janitor.start()
    return manager


def current_job():
    """This session's queued or running job (a :class:`cfcore.trainer.jobs.Job`), or None."""
    init_session()
    return training_manager().get(st.session_state["train_job"], session_id())


def collect_finished_job() -> str | None:
    """Move a finished job's run into the session (it becomes active); return its name.

    Called on every page through the sidebar, so a run that ends while the
    learner is elsewhere is picked up on their next click. A failed job's error
    is kept under ``"train_last_error"`` for the Train page, and the newest run's name under
    ``"train_last_run"``.
    """
    job = current_job()
    if job is None:
        st.session_state["train_job"] = None
        return None
    if not job.finished:
        return None
    name = None
    if job.error:
        st.session_state["train_last_error"] = job.error
    elif job.run is not None and job.run.result.history:
        name = add_run(job.run)
        st.session_state["train_last_run"] = name
        if job.time_limited:
            st.session_state["train_last_notice"] = (
                f"stopped: time limit. This server stops a training after {training_manager().max_seconds:,.0f} s; "
                "the epochs so far are kept. Fewer epochs or a bigger batch size fit in the limit.")
    else:
        st.session_state["train_last_notice"] = "The run was stopped before its first epoch ended; nothing to keep."
    training_manager().release(job.id, session_id())
    st.session_state["train_job"] = None
    return name


def bias_baseline_rmse(dataset: Dataset, split) -> float | None:
    """Validation RMSE of the biases-only baseline on this split, or None if ``cfcore.baselines`` is missing."""
    try:
        from cfcore.baselines import bias_baseline
    except ImportError:
        return None
    return _bias_baseline_cached(dataset.fingerprint, float(split.val_fraction), int(split.seed), dataset, split,
                                 bias_baseline)


@st.cache_data(show_spinner=False, max_entries=16)
def _bias_baseline_cached(fingerprint: str, val_fraction: float, seed: int, _dataset, _split, _fn) -> float:
    # Keyed by the data's fingerprint and the split, so it is computed once per dataset and split.
    return float(_fn(_split, _dataset.n_users, _dataset.n_movies).val_rmse)


# -- sidebar ------------------------------------------------------------------------


_SIDEBAR_SLOT_KEY = "_sidebar_dataset_slot"


def _run_marker() -> object | None:
    # A fresh object for every script run (Streamlit's per-run cursor table), so a slot drawn in an earlier
    # run (or by a page run without app.py's sidebar) is never written to.
    ctx = get_script_run_ctx()
    return ctx.cursors if ctx is not None else None


def _this_runs_sidebar_slot():
    marker, slot = st.session_state.get(_SIDEBAR_SLOT_KEY, (None, None))
    return slot if marker is not None and marker is _run_marker() else None


def _show_dataset(slot, dataset: Dataset | None) -> None:
    if dataset is None:
        slot.caption("None loaded yet (Data page).")
    else:
        slot.caption(f"{md(dataset_label(dataset))}  \n{dataset.n_users:,} users · {dataset.n_movies:,} movies · "
                     f"{dataset.n_ratings:,} ratings")


def _on_sidebar_pick() -> None:
    set_active_run(st.session_state["sidebar_active_run"])


def sidebar() -> None:
    """Active dataset, active model (switchable) and training status, on every page."""
    init_session()
    collect_finished_job()
    with st.sidebar:
        st.markdown("**Dataset**")
        slot = st.empty()
        _show_dataset(slot, current_dataset())
        st.session_state[_SIDEBAR_SLOT_KEY] = (_run_marker(), slot)
        st.markdown("**Active model**")
        all_runs = runs()
        if not all_runs:
            st.caption("None yet (Train page).")
        else:
            if st.session_state["active_run"] not in all_runs:
                st.session_state["active_run"] = next(iter(all_runs))
            st.session_state["sidebar_active_run"] = st.session_state["active_run"]
            st.selectbox(
                "Active model", list(all_runs), key="sidebar_active_run", on_change=_on_sidebar_pick,
                format_func=lambda name: run_label(all_runs[name]), label_visibility="collapsed",
            )
        job = current_job()
        if job is not None:
            _training_status(job.id)


@st.fragment(run_every=SIDEBAR_POLL_SECONDS)
def _training_status(job_id: str) -> None:
    """A line about this session's running job, kept fresh on every page; reruns the app when the job ends."""
    job = training_manager().get(job_id, session_id())
    if job is None or job.finished:
        st.rerun()  # the full run collects the finished run (it becomes the active model)
    if job.state == "queued":
        st.caption(f"Training queued: position {job.queue_position()}.")
    else:
        progress = job.progress
        where = f"epoch {progress.epoch} of {progress.epochs}" if progress else "starting"
        st.caption(f"Training {job.config.model}: {where}.")


def dataset_label(dataset: Dataset) -> str:
    """A short name for where a dataset came from."""
    source = dataset.source or "dataset"
    if source.startswith("upload"):
        return source
    return os.path.basename(source.rstrip("/\\")) or source
