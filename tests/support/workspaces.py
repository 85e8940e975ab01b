"""Workspaces made for a test: runs and data in this test's state folder (``CFCORE_STATE_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path


def seed_workspace(runs: dict[str, Path] | None = None, active: str | None = None, dataset=None) -> str:
    """A workspace in this test's state folder holding copies of ``runs`` (name -> run folder); the active run
    is ``active`` (default: the first) and its data the active dataset (or ``dataset``). Returns its id, for
    ``at.query_params["ws"]``."""
    import shutil

    from cfcore.data.dataset_file import save_dataset_file
    from cfcore.runs.folder import content_hash
    from cfcore.runs.run import load_run
    from cfcore.workspaces.ids import new_run_id
    from cfcore.workspaces.store import WorkspaceStore

    store = WorkspaceStore(os.environ["CFCORE_STATE_DIR"])
    space = store.create()
    ids = {}
    for name, folder in (runs or {}).items():
        run_id = new_run_id()
        shutil.copytree(folder, space.run_dir(run_id))
        space.register_run(run_id, name, content_hash(folder))
        ids[name] = run_id
    if ids:
        active = active or next(iter(ids))
        dataset = dataset or load_run(space.run_dir(ids[active])).dataset
        space.update(active_run=ids[active])
    if dataset is not None:
        save_dataset_file(dataset, space.dataset_file(dataset.fingerprint))
        space.update(dataset={"kind": "file", "fingerprint": dataset.fingerprint})
    return space.id


def workspace_run_names(ws_id: str) -> list[str]:
    """The run names of a workspace, oldest first, as its folder holds them."""
    from cfcore.workspaces.store import WorkspaceStore

    space = WorkspaceStore(os.environ["CFCORE_STATE_DIR"]).open(ws_id)
    return list(space.run_names().values()) if space is not None else []


def dead_pid() -> int:
    """The id of a process of this machine that has ended (as a server that has since stopped left it)."""
    import subprocess
    import sys

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid
