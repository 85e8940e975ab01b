"""The one owner of every session-state key, and of the workspace behind them.

A browser session is a view of a *workspace* (:mod:`cfcore.workspaces.workspace`), named by the ``ws`` query parameter,
which this module keeps in the URL on every run: reload, or open the link in another tab, and the same workspace
opens. A missing, malformed or unknown value opens a fresh workspace (never anyone else's).

Session keys (all set here):
    ``ws_id``           this session's workspace id
    ``dataset``         the active :class:`~cfcore.data.dataset.Dataset` (None before one is chosen)
    ``split_settings``  the Data page's validation fraction and split seed
    ``active_run``      the name of the active run
    ``share_config``, ``share_user``, ``share_movie``, ``share_view``  what a shared link asked for, read once
    ``_restored``       the workspace's saved choices have been put into this session
    ``_dataset_choice`` the dataset chosen, kept for a workspace that saves it with its first save
    ``_sidebar_dataset_line``  how this run's sidebar shows a newly chosen dataset (:func:`show_dataset_with`)
    ``data_source``, ``data_loaded_key``  the Data page's choice, set here too when a workspace is restored
The widget values in :data:`PERSISTED_WIDGETS` (and keys starting with :data:`PERSISTED_PREFIXES`) are saved to
the workspace after each run (:func:`save_workspace`) and restored in a new session.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from cfcore import constants as C
from cfcore import settings, share
from cfcore.analysis.baselines import diverged
from cfcore.config import kind_name, settings_summary
from cfcore.data.dataset import Dataset
from cfcore.data.dataset_file import read_dataset_file, save_dataset_file
from cfcore.data.errors import DataError
from cfcore.runs.errors import RunError
from cfcore.runs.run import Run
from cfcore.text import md
from cfcore.workspaces.disk import WorkspaceError
from cfcore.workspaces.ids import free_name, new_run_id
from cfcore.workspaces.workspace import Workspace
from ui import services
from ui.streamlit_fixes import leave_pages_folder_mode

_LOG = logging.getLogger(__name__)
WS_PARAM = "ws"
SHARED_RUN_PARAM = "shared_run"
DEFAULT_SPLIT = {"val_fraction": 0.2, "seed": C.DEFAULT_SEED}
PERSISTED_WIDGETS = ("rec_user", "rec_min_ratings", "rec_top", "rec_movie", "rec_you_movies", "emb_movie",
                     "data_val_fraction", "data_split_seed", "emb_centered", "emb_min_ratings", "emb_projection",
                     "emb_perplexity", "emb_tsne_seed", "emb_colour", "chart_image_format", "bey_method", "bey_dim",
                     "bey_seed", "bey_min_ratings")
PERSISTED_PREFIXES = ("rec_you_rating_",)
_DATASET_LINE = "_sidebar_dataset_line"
_LINK_GONE = "_linked_workspace_gone"


# -- the workspace ----------------------------------------------------------------------


def init_session() -> None:
    """Open this session's workspace and create every key the pages rely on (idempotent; app.py calls it first)."""
    leave_pages_folder_mode()
    workspace = _open_workspace()
    services.job_caps().seen(workspace.id, client_address())
    if st.query_params.get(WS_PARAM) != workspace.id:
        st.query_params[WS_PARAM] = workspace.id  # kept in the URL across page switches and reruns
    st.session_state.setdefault("dataset", None)
    st.session_state.setdefault("active_run", None)
    st.session_state.setdefault("split_settings", dict(DEFAULT_SPLIT))
    if "share_config" not in st.session_state:
        # A shared link's settings, read once: page switches clear the URL afterwards.
        st.session_state.setdefault("share_user", share.read_id(st.query_params, share.USER_KEY))
        st.session_state.setdefault("share_movie", share.read_id(st.query_params, share.MOVIE_KEY))
        st.session_state["share_config"] = share.params_to_config_overrides(st.query_params)
        st.session_state["share_view"] = share.params_to_view(st.query_params)
        st.session_state["share_config_notes"] = share.config_link_notes(st.query_params)
    if not st.session_state.get("_restored"):
        st.session_state["_restored"] = True
        _restore(workspace)
    _take_shared_run(workspace)


def _open_workspace() -> Workspace:
    store = services.store()
    mine = st.session_state.get("ws_id")
    # This session's workspace: saved already, or new and not yet saved (its folder comes with its first save).
    current = store.open(mine) or store.unsaved(mine, client_address())
    asked = st.query_params.get(WS_PARAM)
    if current is not None and asked in (None, current.id):
        return current
    workspace = store.open(asked)
    if workspace is None:
        workspace = store.begin(client_address())
        if asked:
            st.session_state[_LINK_GONE] = True  # said once, at the top of the page (:func:`say_if_link_was_gone`)
    if st.session_state.get("ws_id") not in (None, workspace.id):
        # Another workspace's link in this tab: start over from that workspace's saved state.
        for key in ("dataset", "active_run", "_restored"):
            st.session_state.pop(key, None)
    st.session_state["ws_id"] = workspace.id
    return workspace


def say_if_link_was_gone() -> None:
    """Once, when this session's link named a workspace that does not exist: that it is gone and a new one began."""
    if st.session_state.pop(_LINK_GONE, False):
        days = settings.workspace_ttl_days()
        st.warning(f"The workspace in this link no longer exists: workspaces nobody opens for {days:g} "
                   f"{'day' if days == 1 else 'days'} are deleted, or the link was never a workspace's. "
                   "A new, empty workspace was started for you; its own link is now in the address bar.",
                   icon=":material/link_off:")


def workspace() -> Workspace:
    """This session's workspace (see :meth:`cfcore.workspaces.store.WorkspaceStore.create`: a new one has no folder
    until it saves something)."""
    init_session()
    return services.store().open(st.session_state["ws_id"]) or _open_workspace()


def workspace_id() -> str:
    """This session's workspace id: the owner of its training jobs."""
    return workspace().id


def client_address() -> str:
    """The visitor's address: Streamlit's, or behind a proxy on this machine (deploy/nginx.conf) the address the
    proxy saw, which it passes in ``X-Real-IP``; "" when unknown (a test, a script)."""
    try:
        address = st.context.ip_address or ""
        if address in ("127.0.0.1", "::1", "localhost"):
            address = str(st.context.headers.get("X-Real-Ip") or address)
    except Exception:  # noqa: BLE001 - outside a browser session (AppTest) there is no context
        return ""
    return address[:64]


def workspace_link() -> str:
    """The link that opens this workspace (private: anyone with it can see and change its runs)."""
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{WS_PARAM}={workspace().id}"


def _restore(space: Workspace) -> None:
    saved = space.state()
    space.touch()
    for key, value in saved.get("widgets", {}).items():
        if key in PERSISTED_WIDGETS or key.startswith(PERSISTED_PREFIXES):
            st.session_state.setdefault(key, value)
    split = saved.get("split")
    if isinstance(split, dict) and {"val_fraction", "seed"} <= set(split):
        st.session_state["split_settings"] = {"val_fraction": float(split["val_fraction"]), "seed": int(split["seed"])}
    names = space.run_names()
    if saved.get("active_run") in names:
        st.session_state["active_run"] = names[saved["active_run"]]
    choice = saved.get("dataset")
    try:
        st.session_state["dataset"] = _dataset_from_choice(space, choice)
    except (DataError, RunError, WorkspaceError):
        st.session_state["dataset"] = None  # the Data page offers the choices again
        return
    if st.session_state["dataset"] is not None:
        # The Data page's own keys, so it shows this choice instead of loading its default over it.
        if choice["kind"] == "path":
            path = str(choice.get("path", "")) or services.configured_data_path()
            st.session_state["data_loaded_key"] = ("path", path)
        else:
            st.session_state["data_source"] = "upload"
            st.session_state["data_loaded_key"] = ("restored", choice.get("fingerprint"))


def _dataset_from_choice(space: Workspace, choice: Any) -> Dataset | None:
    if not isinstance(choice, dict):
        return None
    if choice.get("kind") == "path":
        return services.run_cache().share(services.load_path_dataset(str(choice.get("path", ""))))
    if choice.get("kind") == "file":
        return services.run_cache().share(read_dataset_file(space.dataset_file(str(choice.get("fingerprint", "")))))
    return None


def save_workspace() -> None:
    """Save this run's widget selections and split settings to the workspace when they changed (app.py calls
    it after every page run, also one that ended with a rerun or stop)."""
    if "ws_id" not in st.session_state:
        return
    widgets = {key: _plain(value) for key, value in st.session_state.to_dict().items()
               if isinstance(key, str) and (key in PERSISTED_WIDGETS or key.startswith(PERSISTED_PREFIXES))}
    widgets = {key: value for key, value in widgets.items() if value is not None}
    split = st.session_state.get("split_settings")
    snapshot = (widgets, split)
    if st.session_state.get("_saved_snapshot") == snapshot:
        return
    space = services.store().open(st.session_state["ws_id"])
    if space is None:  # nothing saved yet: selections alone do not make a workspace
        return
    changes = {"widgets": widgets, "split": split}
    if space.state().get("dataset") is None and st.session_state.get("_dataset_choice"):
        changes["dataset"] = st.session_state["_dataset_choice"]  # chosen before the workspace had a folder
    try:
        space.update(**changes)
    except WorkspaceError as err:  # a full disk: the page keeps working, the selections are saved next time
        _LOG.warning("could not save workspace %s: %s", space.id[:6], err)
        return
    st.session_state["_saved_snapshot"] = snapshot


def _plain(value: Any) -> Any:
    """A widget value as JSON (numbers, text, lists of them), or None when it is something else."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple) and all(isinstance(item, int | float | str) for item in value):
        return list(value)
    try:
        return int(value) if float(value).is_integer() else float(value)
    except (TypeError, ValueError):
        return None


# -- the dataset ---------------------------------------------------------------------------


def current_dataset() -> Dataset | None:
    """The session's active dataset, or None before one is loaded."""
    init_session()
    return st.session_state["dataset"]


def set_dataset(dataset: Dataset, path: str | None = None) -> None:
    """Make ``dataset`` the active one and remember the choice in the workspace: ``path`` for a dataset loaded
    from a path ("" = the built-in copy); otherwise (an upload, a loaded run's data) the data itself is saved
    in the workspace, so a restart brings it back."""
    init_session()
    st.session_state["dataset"] = dataset
    space = workspace()
    if path is not None:
        choice = {"kind": "path", "path": path}
    else:
        space.ensure()
        save_dataset_file(dataset, space.dataset_file(dataset.fingerprint))
        choice = {"kind": "file", "fingerprint": dataset.fingerprint}
    st.session_state["_dataset_choice"] = choice
    if space.exists or path is None:  # a dataset on the server's disk alone does not make a workspace
        space.update(dataset=choice)
    show = st.session_state.get(_DATASET_LINE)
    if show is not None:
        show(dataset)


def show_dataset_with(show: Callable[[Dataset | None], None] | None) -> None:
    """What :func:`set_dataset` calls to show the new dataset in the sidebar drawn in this script run: the
    sidebar sets it, app.py clears it once the page has run (a fragment's rerun has no sidebar to write to)."""
    st.session_state[_DATASET_LINE] = show


def split_settings() -> dict[str, Any]:
    """The validation fraction and split seed chosen on the Data page."""
    init_session()
    return st.session_state["split_settings"]


def set_split_settings(val_fraction: float, seed: int) -> None:
    init_session()
    st.session_state["split_settings"] = {"val_fraction": float(val_fraction), "seed": int(seed)}


# -- runs ------------------------------------------------------------------------------------


def runs() -> dict[str, Run]:
    """This workspace's runs by name, oldest first; a run folder that cannot be read is left out and named in
    :func:`unreadable_runs`."""
    space = workspace()
    out, broken = {}, []
    for run_id, name in space.run_names().items():
        try:
            run = services.run_cache().get(space.run_dir(run_id))
        except RunError as err:
            broken.append(f"{run_id}: {err}")
            continue
        run.name = name
        out[name] = run
    st.session_state["_unreadable_runs"] = broken
    return out


def unreadable_runs() -> list[str]:
    """The run folders the last :func:`runs` call skipped, each with the reason."""
    return list(st.session_state.get("_unreadable_runs", []))


def run_id_of(name: str) -> str | None:
    """The run folder id of the run called ``name``."""
    return next((run_id for run_id, known in workspace().run_names().items() if known == name), None)


def hidden_run_names() -> set[str]:
    names = workspace().run_names()
    return {names[run_id] for run_id in workspace().hidden_runs() if run_id in names}


def active_run() -> Run | None:
    """The run the analysis pages use, or None before any training."""
    all_runs = runs()
    name = st.session_state["active_run"]
    if name not in all_runs:
        saved = workspace().state().get("active_run")
        name = workspace().run_names().get(saved) if saved else None
        name = name if name in all_runs else next(reversed(all_runs), None)
        st.session_state["active_run"] = name
    return all_runs.get(name) if name else None


def set_active_run(name: str) -> None:
    """Make the run called ``name`` the active one (in this session and the workspace).

    Raises:
        KeyError: if this workspace has no run of that name.
    """
    run_id = run_id_of(name)
    if run_id is None:
        raise KeyError(f"no run named {name!r}; this workspace has: {', '.join(runs()) or 'none'}")
    st.session_state["active_run"] = name
    workspace().update(active_run=run_id)


def next_run_name(model: str, taken: set[str] | None = None, exclude: str = "") -> str:
    """ "Dot + biases #2" (the kind's readable name): the first number not used by a run (but run ``exclude``,
    the one being named) or a training under way in this workspace."""
    from cfcore.trainer.spec import FINISHED_STATES

    used = {name for run_id, name in workspace().run_names().items() if run_id != exclude} | set(taken or ())
    used |= {job.name for job in services.training_manager().jobs(workspace_id()) if job.state not in FINISHED_STATES}
    return free_name(f"{kind_name(model)} #1", used)


def new_run_dir():
    """A fresh run folder path in this workspace, for a training to save into.

    Raises:
        WorkspaceError: when the workspace is full.
    """
    space = workspace()
    space.check_room()
    return space.run_dir(new_run_id())


def keep_zip_run(data) -> tuple[str, bool]:
    """Load a run zip into this workspace; ``(name, True)`` for a new run, ``(existing name, False)`` when the
    same zip is already here (same content hash). The new run becomes the active one.

    Raises:
        RunZipError, WorkspaceError: for a zip that cannot be loaded or a full workspace.
    """
    from cfcore.data.read import upload_limits
    from cfcore.runs.folder import content_hash
    from cfcore.runs.zip import RunZipError, load_run_from_zip

    space = workspace()
    space.check_room()
    run_id = new_run_id()
    try:
        run = load_run_from_zip(data, space.run_dir(run_id), max_bytes=space.room_bytes(),
                                max_input_bytes=upload_limits().max_file_bytes)
    except RunZipError as err:
        if "would extract to" in str(err):
            raise RunZipError(f"{err} (the room left in this workspace and on the server); delete some runs on the "
                              "Compare page first") from None
        raise
    return _register(space, run_id, run, content_hash(space.run_dir(run_id)))


def keep_folder_run(folder) -> tuple[str, bool]:
    """Copy a run folder (one in ``CFCORE_RUNS_DIR``) into this workspace; as :func:`keep_zip_run`.

    Raises:
        RunError, WorkspaceError: for a folder that is not a valid run, or a full workspace.
    """
    from cfcore.runs.folder import content_hash, copy_run_folder
    from cfcore.runs.run import load_run

    space = workspace()
    digest = content_hash(folder)
    existing = space.run_with_hash(digest)
    if existing is not None:
        return space.run_names()[existing], False
    space.check_room()
    run = load_run(folder)  # checked before anything is copied, and loaded once
    run.path = copy_run_folder(folder, space.run_dir(new_run_id()))
    services.run_cache().put(run.path, run)
    return _register(space, run.path.name, run, digest)


def _register(space: Workspace, run_id: str, run: Run, digest: str) -> tuple[str, bool]:
    import shutil

    existing = space.run_with_hash(digest)
    if existing is not None and existing != run_id:
        shutil.rmtree(space.run_dir(run_id), ignore_errors=True)
        return space.run_names()[existing], False
    name = space.register_run(run_id, next_run_name(run.config.model, exclude=run_id), digest)
    if current_dataset() is None:
        set_dataset(run.dataset)
    set_active_run(name)
    return name, True


def delete_run(name: str) -> None:
    """Delete the run called ``name`` from the workspace and from disk."""
    run_id = run_id_of(name)
    if run_id is not None:
        services.run_cache().forget(workspace().run_dir(run_id))
        workspace().delete_run(run_id)
    if st.session_state.get("active_run") == name:
        st.session_state["active_run"] = None


def set_hidden(name: str, hidden: bool) -> None:
    run_id = run_id_of(name)
    if run_id is not None:
        workspace().set_hidden(run_id, hidden)


def share_run_token(name: str) -> str:
    """A read-only link token for a copy of the run called ``name``."""
    run_id = run_id_of(name)
    if run_id is None:
        raise KeyError(name)
    return services.store().share_run(workspace(), run_id, name)


def _take_shared_run(space: Workspace) -> None:
    """A "share this run" link: copy that one run into this session's own workspace, once."""
    token = st.query_params.get(SHARED_RUN_PARAM)
    if not token:
        return
    del st.query_params[SHARED_RUN_PARAM]
    shared = services.store().shared_run(token)
    if shared is None:
        st.session_state["_shared_run_notice"] = ("error", "That shared-run link is not valid (or has expired).")
        return
    try:
        name, new = keep_folder_run(shared[0])
    except (RunError, WorkspaceError) as err:
        st.session_state["_shared_run_notice"] = ("error", f"The shared run could not be added: {md(err)}")
        return
    st.session_state["_shared_run_notice"] = (
        "success", f"Added **{md(shared[1])}** to your workspace as **{md(name)}**; it is now the active model."
        if new else f"That run is already in your workspace as **{md(name)}**.")


def shared_run_notice() -> tuple[str, str] | None:
    """What happened to a shared-run link this session opened, once."""
    return st.session_state.pop("_shared_run_notice", None)


def run_label(run: Run, others: Mapping[str, Run] | None = None) -> str:
    """ "name · 0.874" (its best validation RMSE) for menus and the sidebar, short enough for the sidebar at 150%
    zoom; then, when ``others`` holds a run of the same kind with other
    settings, this run's settings in a few words (" · fast preset, seed 43"), so the two can be told apart."""
    rmse = run.result.best_val_rmse
    label = f"{run.name} · {rmse:.3f}" if math.isfinite(rmse) else run.name
    label = f"{label} (diverged)" if diverged(run) else label
    mine = settings_summary(run.config)
    if any(other.config.model == run.config.model and settings_summary(other.config) != mine
           for other in (others or {}).values()):
        label += f" · {mine}"
    return label
