"""The Compare page's loading of saved runs: from the server's runs folder (``CFCORE_RUNS_DIR``) or a run zip."""

from __future__ import annotations

import streamlit as st

from cfcore import settings, share
from cfcore.config import TrainConfig
from cfcore.runs.errors import RunError
from cfcore.runs.zip import RunZipError
from cfcore.text import count, md, server_text
from cfcore.workspaces.disk import WorkspaceError
from ui import state
from ui.page import remembered_tabs


def _loaded(name: str, new: bool) -> None:
    st.session_state["cmp_loaded"] = (name, new)
    st.rerun()


def _loaded_all(added: list[str], here: int, problems: list[str]) -> None:
    """After "Load all": the article's bias model becomes the active one (the best of them), else the best run
    loaded; the page reruns so the tables and charts show the new runs at once."""
    if added:
        runs = state.runs()
        loaded = [runs[name] for name in added if name in runs]
        article = [run for run in loaded if run.config.model == TrainConfig.model]  # the article's own model
        best = min(article or loaded, key=lambda run: run.result.best_val_rmse, default=None)
        if best is not None:
            state.set_active_run(best.name)
    st.session_state["cmp_loaded_all"] = (added, here, problems)
    st.rerun()


def _say_what_was_loaded() -> None:
    if "cmp_loaded" in st.session_state:
        name, new = st.session_state.pop("cmp_loaded")
        if new:
            st.success(f"Loaded **{md(name)}**; it is now the active model.")
        else:
            st.info(f"That run is already in this workspace as **{md(name)}**; nothing was added.")
    if "cmp_loaded_all" in st.session_state:
        added, here, problems = st.session_state.pop("cmp_loaded_all")
        active = st.session_state.get("active_run")
        active = f" The active model is now **{md(active)}**." if added and active else ""
        st.success(f"Added {count(len(added), 'run')}; {count(here, 'run')} {'was' if here == 1 else 'were'} "
                   f"here already.{active}")
        for problem in problems:
            st.error(md(problem))


def show() -> None:
    """What was just loaded, then the two ways to load a run, in tabs."""
    st.subheader("Load a saved run")
    _say_what_was_loaded()
    root = share.runs_root()
    if root is None and settings.profile() == "public":  # a visitor cannot set the server's variables
        _from_zip()
        return
    folder_tab, zip_tab = remembered_tabs(["From the runs folder", "From a zip"], "cmp_load_tab")
    with zip_tab:
        _from_zip()
    with folder_tab:
        _from_folder(root)


def _from_folder(root) -> None:
    if root is None:
        st.caption(f"Set the environment variable {share.RUNS_DIR_ENV_VAR} to a folder of saved runs "
                   "(`python -m cfcore train ... --out FOLDER/name`) to list them here.")
    else:
        names = share.list_run_dirs(root)
        folder_label = (f"Runs in {root}" if settings.show_paths()
                        else f"Runs in the {share.RUNS_DIR_ENV_VAR} folder")
        choice = st.selectbox(folder_label, names, index=None, key="cmp_run_dir",
                              placeholder="Choose a run" if names else "No saved runs there yet")
        typed = st.text_input("Or a path inside that folder", key="cmp_run_path")
        load_one, load_all = st.columns(2)
        if load_one.button("Load run", key="cmp_load_dir", disabled=not (choice or typed.strip())):
            try:
                with st.spinner("Loading..."):
                    result = state.keep_folder_run(share.resolve_run_dir(root, typed.strip() or choice))
            except (share.RunsFolderError, RunError, WorkspaceError) as err:
                st.error(md(server_text(err)))
            else:
                _loaded(*result)
        if load_all.button(f"Load all {len(names)}", key="cmp_load_all", disabled=not names):
            added, problems = [], []
            with st.spinner("Loading..."):
                for folder_name in names:
                    try:
                        name, new = state.keep_folder_run(share.resolve_run_dir(root, folder_name))
                    except (share.RunsFolderError, RunError, WorkspaceError) as err:
                        problems.append(server_text(f"{folder_name}: {err}"))
                        if isinstance(err, WorkspaceError):
                            break
                    else:
                        added += [name] if new else []
            _loaded_all(added, len(names) - len(added) - len(problems), problems)


def _from_zip() -> None:
    upload = st.file_uploader('A run zip (the "Whole run" download above)', type="zip", key="cmp_upload",
                              max_upload_size=settings.upload_max_mb())
    if st.button("Load uploaded run", key="cmp_load_zip", disabled=upload is None):
        try:
            with st.spinner("Checking and loading..."):
                result = state.keep_zip_run(upload)  # checked in a scratch folder, then moved into the workspace
        except (RunZipError, WorkspaceError) as err:
            st.error(f"That zip could not be loaded: {md(server_text(err))}")
        else:
            _loaded(*result)
