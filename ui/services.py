"""The composition root: the server's long-lived objects, one per process, built from the environment.

The workspace store, the trainer process and the training manager above it, the cache of loaded runs, the
shared built-in datasets. Pages reach them through :mod:`ui.state`; nothing here holds anything of one session.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import streamlit as st

from cfcore import settings
from cfcore.analysis.projection import ProjectionJobs
from cfcore.data.dataset import Dataset
from cfcore.data.sources import load_dataset
from cfcore.runs.cache import RunCache
from cfcore.runs.folder import content_hash
from cfcore.text import server_text
from cfcore.trainer.backend import backend_train_fn
from cfcore.trainer.caps import JobCaps
from cfcore.trainer.jobs import Job
from cfcore.trainer.local import LocalTrainer
from cfcore.trainer.manager import TrainingManager
from cfcore.workspaces.store import WorkspaceStore

_LOG = logging.getLogger(__name__)

# One trainer process per server, whatever Streamlit's caches do (clearing them must not orphan a process
# holding a gigabyte): a plain module-level singleton.
_trainer_lock = threading.Lock()
_trainer = None


@st.cache_resource(show_spinner=False)
def _server_start() -> str | None:
    """Once per server process: check the environment and sweep what crashed processes left; the problem, or None."""
    from cfcore.runs.zip import sweep_scratch

    sweep_scratch()
    try:
        checked = settings.check_environment()
    except settings.SettingsError as err:
        return str(err)
    try:
        (checked.state_dir / "workspaces").mkdir(parents=True, exist_ok=True)
        probe = checked.state_dir / f".write-probe-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        return f"{settings.STATE_DIR_ENV_VAR}={checked.state_dir}: cannot write there ({err.strerror or err})"
    return None


def check_server_settings() -> None:
    """Stop the page with a readable message when the server's environment cannot be used (app.py calls it)."""
    problem = _server_start()
    if problem is not None:
        st.error(f"This server is misconfigured: {server_text(problem)}. Fix the variable and restart the app.")
        st.stop()


def trainer():
    """The process's trainer backend (started on first use, pre-warmed by the Train and Under the hood pages):
    the local trainer process, or with ``CFCORE_RAY_ADDRESS`` a Ray cluster (:mod:`cfcore.trainer.ray`, imported
    only then)."""
    global _trainer
    with _trainer_lock:
        if _trainer is None:
            address = settings.ray_address()
            if address:
                from cfcore.trainer.ray import RayTrainer

                _trainer = RayTrainer(address)
            else:
                _trainer = LocalTrainer(idle_seconds=settings.trainer_idle_seconds())
        return _trainer


def store() -> WorkspaceStore:
    """The workspace store for the configured state folder (``CFCORE_STATE_DIR``)."""
    return _store(os.environ.get(settings.STATE_DIR_ENV_VAR, ""))


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(configured: str) -> WorkspaceStore:
    # Keyed by the variable's text (resolving the folder on every call cost a realpath per widget).
    root = settings.state_folder()
    workspaces = WorkspaceStore(root, max_bytes=settings.state_max_mb() * 2**20,
                                ttl_seconds=settings.workspace_ttl_days() * 86400,
                                max_runs=settings.workspace_max_runs(),
                                max_workspace_bytes=settings.workspace_max_mb() * 2**20,
                                max_new_per_hour=settings.client_new_workspaces_per_hour())
    (root / "workspaces").mkdir(parents=True, exist_ok=True)
    workspaces.sweep()
    return workspaces


@st.cache_resource(show_spinner=False)
def job_caps() -> JobCaps:
    """One cap per workspace over every kind of background job (trainings, maps, measurements), one per client
    address on a public server (``CFCORE_CLIENT_MAX_JOBS``), and which workspaces still have a page open."""
    return JobCaps(max_per_client=settings.client_max_jobs())


@st.cache_resource(show_spinner=False)
def training_manager() -> TrainingManager:
    """The process-wide manager; a job's owner is its workspace's id."""
    backend = trainer()
    return TrainingManager(
        caps=job_caps(),
        max_concurrent=settings.max_trainings(), max_seconds=settings.max_train_seconds(),
        train_fn=backend_train_fn(backend, settings.state_folder() / "datasets"), on_change=_record_job,
        capacity=getattr(backend, "capacity", None),  # a cluster's CPUs; the local trainer has CFCORE_MAX_TRAININGS
        join=True,  # both backends run the compiled loop, which is deterministic (tests/unit/training/test_engine.py)
    )


def _record_job(job: Job, event: str) -> None:
    """Keep a workspace's record of its trainings: a job file while it runs (so a restart shows it as
    interrupted, with its curve), the finished run registered by name, and for a Train-page run the active model."""
    workspace = store().open(job.owner)
    if workspace is None:
        return
    if event in ("started", "epoch"):
        workspace.record_job(job.id, job.name, job.config.to_dict(), list(job.history))
        return
    if job.run is not None and job.run.path is not None:
        run_id = Path(job.run.path).name
        workspace.register_run(run_id, job.name, content_hash(job.run.path))
        if job.purpose == "train":
            workspace.update(active_run=run_id)
        run_cache().put(job.run.path, job.run)  # the arrays are in memory already: no tab loads them again
    workspace.drop_job(job.id)
    store().sweep_if_due(busy={other.owner for other in training_manager().active_jobs()})


@st.cache_resource(show_spinner=False)
def projections() -> ProjectionJobs:
    """t-SNE maps for every session of this server, each computed once in a child process, one at a time (the
    trainer needs the other core); any session asking for the same map gets the same job."""
    return ProjectionJobs(max_running=1, caps=job_caps())


@st.cache_resource(show_spinner=False)
def onehot_costs():
    """Measurements of a Dense layer on one-hot vectors against a lookup, for every session of this server, each
    made once per set of sizes in a child process (TensorFlow stays out of the server)."""
    from cfcore.analysis.onehot import CostJobs

    return CostJobs(caps=job_caps())


def onehot_linear(dataset: Dataset, split):
    """The linear model on one-hot vectors beside the bias baseline, on this split (once per dataset and split)."""
    from cfcore.analysis.onehot import onehot_linear as fit

    return _onehot_linear_cached(dataset.fingerprint, split_key(split), dataset, split, fit)


def split_key(split) -> str:
    """What identifies a split's held-out rows (a run loaded from elsewhere may hold other rows for one seed)."""
    import hashlib

    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(split.val_rows, dtype=np.int64).tobytes()).hexdigest()[:24]


@st.cache_data(show_spinner=False, max_entries=16)
def _onehot_linear_cached(fingerprint: str, rows: str, _dataset, _split, _fit):
    return _fit(_split, _dataset.n_users, _dataset.n_movies)


@st.cache_resource(show_spinner=False)
def run_cache() -> RunCache:
    """Runs loaded from workspace folders, shared by every session of this server; a run unused for
    ``CFCORE_TRAINER_IDLE_SECONDS`` is let go, as the trainer is: an idle server hands its memory back."""
    return RunCache(idle_seconds=settings.trainer_idle_seconds())


def configured_data_path() -> str:
    """The folder or zip named by ``CFCORE_DATA``, or "" when it is not set."""
    return os.environ.get(settings.DATA_ENV_VAR, "").strip()


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_dataset_cached(path: str) -> Dataset:
    # Keyed by path: the built-in copy ("" = CFCORE_DATA, the cache, or a download) and configured folders
    # are shared across sessions. Uploads never come through here; they live in one workspace.
    # One shared object, not a copy per session: nothing in the app modifies a Dataset after it is built.
    return load_dataset(path or None)


def load_path_dataset(path: str = "") -> Dataset:
    """Load (once per process) the dataset at ``path``; "" means ``CFCORE_DATA`` or the built-in copy.

    Raises:
        DataError: with a readable message (offline, missing files, bad data).
    """
    return _load_dataset_cached(path or configured_data_path())


def bias_baseline_rmse(dataset: Dataset, split) -> float:
    """Validation RMSE of the biases-only baseline on this split (computed once per dataset and split)."""
    from cfcore.analysis.baselines import bias_baseline

    return _bias_baseline_cached(dataset.fingerprint, split_key(split), dataset, split,
                                 bias_baseline)


@st.cache_data(show_spinner=False, max_entries=16)
def _bias_baseline_cached(fingerprint: str, rows: str, _dataset, _split, _fn) -> float:
    return float(_fn(_split, _dataset.n_users, _dataset.n_movies).val_rmse)
