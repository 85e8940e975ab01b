"""Workspaces: what a learner makes (runs, the dataset choice, selections), kept on disk under an unguessable id.

On disk, under the state folder (``CFCORE_STATE_DIR``)::

    workspaces/<id>/workspace.json     dataset choice, active run, selections, run names, last seen
    workspaces/<id>/runs/<run id>/     run folders (cfcore.training.save.save_run's format), renamed in when complete
    workspaces/<id>/datasets/<fp>.npz  an uploaded dataset (cfcore.data.dataset_file)
    workspaces/<id>/jobs/<job id>.json a training under way: its settings and curve so far
    shared/<token>/                    a run copied for a read-only "share this run" link

An id is ``secrets.token_urlsafe(24)`` (192 bits) and must match :data:`ID_PATTERN` before it touches a path;
anything else (malformed, unknown, made up) opens nothing. A new workspace's folder is made by its first save.
Every write is atomic (a temporary name, then a rename), and one workspace's writes are serialised across server
processes. Caps: ``max_runs`` runs and ``max_workspace_bytes`` per workspace, its shared runs counted; the whole
store at most ``max_bytes``, every byte under the state folder counted (to make room only workspaces unseen for
:data:`cfcore.workspaces.store.PROTECTED_S` are deleted, least recently seen first); workspaces unseen for
``ttl_seconds`` are deleted.
No Streamlit and no TensorFlow here.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cfcore.child import process_exists
from cfcore.workspaces.disk import WorkspaceError, WorkspaceLock, folder_bytes, read_json, write_json
from cfcore.workspaces.ids import JOB_ID_PATTERN, RUN_ID_PATTERN, free_name

_LOG = logging.getLogger(__name__)

# last_seen is written at most this often per workspace (every rerun would otherwise write a file).
_TOUCH_EVERY_S = 60.0

# Identifies this server process in job records.
SERVER_TOKEN = uuid.uuid4().hex

HOST = socket.gethostname()

# A record from another machine is a training that machine's server still runs while it keeps being updated
# (every epoch, and at least every cfcore.trainer.manager.HEARTBEAT_S); older than this, its server is gone.
STALE_S = 120.0


@dataclass
class JobRecord:
    """A training that was under way, as its job file tells it."""

    job_id: str
    name: str
    config: dict
    history: list
    server: str
    started: float
    host: str = ""
    pid: int = 0
    updated: float = 0.0

    @property
    def interrupted(self) -> bool:
        """Whether the server that ran it is gone (so the training is): not this process, and on this machine a
        process that no longer exists, on another machine a record not updated for :data:`STALE_S`."""
        if self.server == SERVER_TOKEN:
            return False
        if self.host == HOST:
            return not process_exists(self.pid)
        return time.time() - self.updated > STALE_S


class Store(Protocol):
    """What a :class:`Workspace` needs of the store that holds it (:class:`cfcore.workspaces.store.WorkspaceStore`):
    its folder, its caps, the workspace's lock, admission of a new workspace and the shared runs' room."""

    root: Path
    max_bytes: int
    max_runs: int
    max_workspace_bytes: int

    def lock_for(self, ws_id: str) -> WorkspaceLock: ...

    def admit(self, workspace: Workspace) -> None: ...

    def shares_of(self, ws_id: str) -> list[Path]: ...

    def used_bytes(self) -> int: ...

    def check_room(self, more_bytes: int = 0) -> None: ...


class Workspace:
    """One workspace's folder. Safe for the sessions of one server process and for other server processes
    sharing the state folder (:class:`WorkspaceLock`)."""

    def __init__(self, store: Store, ws_id: str, client: str = ""):
        self.store, self.id, self.client = store, ws_id, client
        self.folder = store.root / "workspaces" / ws_id
        self._lock = store.lock_for(ws_id)

    @property
    def exists(self) -> bool:
        """Whether it has saved anything yet: a new workspace's folder is made by its first save."""
        return (self.folder / "workspace.json").is_file()

    def ensure(self) -> None:
        """Make the workspace's folder now, ahead of files written into it (a run, an uploaded dataset).

        Raises:
            WorkspaceError: when its client address has started too many workspaces lately, or the disk fails.
        """
        if not self.exists:
            self.update()

    # -- workspace.json -------------------------------------------------------------

    def state(self) -> dict:
        """The workspace's saved choices (a copy): ``dataset``, ``active_run``, ``runs`` (id -> name, hidden,
        hash), ``widgets`` (selections), ``last_seen``."""
        value = read_json(self.folder / "workspace.json") or {}
        value.setdefault("runs", {})
        value.setdefault("widgets", {})
        return value

    def update(self, **changes) -> dict:
        """Merge ``changes`` into workspace.json (atomically) and return the new state; the first save makes the
        workspace's folder (see :meth:`cfcore.workspaces.store.WorkspaceStore.create`)."""
        with self._lock:
            if not self.exists:
                self.store.admit(self)
                self.runs_dir.mkdir(parents=True, exist_ok=True)
                changes = {"created": time.time(), **changes}
            value = self.state()
            value.update(changes)
            value["last_seen"] = time.time()
            write_json(self.folder / "workspace.json", value)
            return value

    def touch(self) -> None:
        """Mark the workspace as used now (at most once a minute; a full disk only delays it). A workspace that
        saved nothing yet stays without a folder."""
        if self.exists and time.time() - float(self.state().get("last_seen", 0)) > _TOUCH_EVERY_S:
            try:
                self.update()
            except WorkspaceError:
                _LOG.warning("could not mark workspace %s as seen", self.id[:6])

    # -- runs -------------------------------------------------------------------------

    @property
    def runs_dir(self) -> Path:
        return self.folder / "runs"

    def run_ids(self) -> list[str]:
        """Complete run folders, oldest first (temporary folders of saves under way are not runs)."""
        try:
            names = [entry.name for entry in os.scandir(self.runs_dir) if entry.is_dir()]
        except OSError:
            return []
        return sorted(name for name in names if RUN_ID_PATTERN.fullmatch(name))

    def run_dir(self, run_id: str) -> Path:
        if not RUN_ID_PATTERN.fullmatch(run_id or ""):
            raise WorkspaceError(f"not a run id: {str(run_id)[:40]!r}")
        return self.runs_dir / run_id

    def used_bytes(self) -> int:
        """Disk this workspace uses: its folder and the runs it shared (a shared copy of a run still here is a
        hard link, so it counts once)."""
        return folder_bytes(self.folder, *self.store.shares_of(self.id))

    def room_bytes(self) -> int:
        """How many more bytes this workspace may write: what its own cap and the store's both leave (0 or more)."""
        store = self.store
        return max(0, min(store.max_workspace_bytes - self.used_bytes(), store.max_bytes - store.used_bytes()))

    def check_room(self, more_runs: int = 1, more_bytes: int = 0) -> None:
        """Raise :class:`WorkspaceError` when ``more_runs`` more runs, or ``more_bytes`` more bytes, would pass the
        workspace's caps or the store's."""
        count = len(self.run_ids()) + len(self.job_records(live_only=True))
        max_runs, max_bytes = self.store.max_runs, self.store.max_workspace_bytes
        if count + more_runs > max_runs:
            raise WorkspaceError(f"this workspace has {count} runs, the most it can keep is {max_runs}; delete some "
                                 "on the Compare page first")
        used = self.used_bytes()
        if used + more_bytes > max_bytes:
            wanted = f"{used / 2**20:,.0f} MB" + (f" and needs {more_bytes / 2**20:,.1f} MB more" if more_bytes
                                                  else "")
            raise WorkspaceError(f"this workspace uses {wanted}, over its {max_bytes / 2**20:,.0f} MB; delete some "
                                 "runs on the Compare page first")
        self.store.check_room(more_bytes)
        self.ensure()  # whatever passed these checks is about to be written here

    def register_run(self, run_id: str, name: str, content_hash: str = "") -> str:
        """Record a run folder's display name (and content hash) in workspace.json; returns the name given, which
        is ``name`` or, when another run of this workspace has it, its model's next free number ("SVD #3")."""
        with self._lock:
            runs = self.state()["runs"]
            taken = {str(info.get("name")) for other, info in runs.items() if other != run_id}
            runs[run_id] = {"name": free_name(name, taken), "hidden": False, "hash": content_hash}
            self.update(runs=runs)
            return runs[run_id]["name"]

    def run_names(self) -> dict[str, str]:
        """Run id -> display name for every complete run folder; a folder workspace.json does not know (a crash
        between save and record) is recorded now under its model's next free name."""
        known = self.state()["runs"]
        for run_id in self.run_ids():
            if not known.get(run_id, {}).get("name"):
                model = str((read_json(self.runs_dir / run_id / "config.json") or {}).get("model") or "run")[:40]
                try:
                    self.register_run(run_id, f"{model} #1")
                except WorkspaceError:  # a full disk: name it for now, record it later
                    known[run_id] = {"name": free_name(f"{model} #1", {str(i.get("name")) for i in known.values()})}
                else:
                    known = self.state()["runs"]
        return {run_id: str(known[run_id]["name"]) for run_id in self.run_ids()}

    def hidden_runs(self) -> set[str]:
        return {run_id for run_id, info in self.state()["runs"].items() if info.get("hidden")}

    def set_hidden(self, run_id: str, hidden: bool) -> None:
        with self._lock:
            runs = self.state()["runs"]
            if run_id in runs:
                runs[run_id]["hidden"] = bool(hidden)
                self.update(runs=runs)

    def run_with_hash(self, content_hash: str) -> str | None:
        """The id of a run already here with this content hash, or None."""
        for run_id, info in self.state()["runs"].items():
            if content_hash and info.get("hash") == content_hash and (self.runs_dir / run_id).is_dir():
                return run_id
        return None

    def delete_run(self, run_id: str) -> None:
        """Delete a run folder from disk and forget it."""
        folder = self.run_dir(run_id)
        with self._lock:
            trash = folder.with_name(f"{run_id}.deleting")
            if folder.is_dir():
                os.replace(folder, trash)  # gone from the listing at once, even if removing takes a while
                shutil.rmtree(trash, ignore_errors=True)
            state = self.state()
            state["runs"].pop(run_id, None)
            self.update(runs=state["runs"],
                        active_run=None if state.get("active_run") == run_id else state.get("active_run"))

    # -- uploaded datasets ------------------------------------------------------------------

    def dataset_file(self, fingerprint: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", fingerprint or ""):
            raise WorkspaceError("not a dataset fingerprint")
        return self.folder / "datasets" / f"{fingerprint}.npz"

    # -- trainings under way -----------------------------------------------------------------

    def record_job(self, job_id: str, name: str, config: dict, history: list) -> None:
        """Write (or update) the job file of a training under way."""
        self.ensure()
        folder = self.folder / "jobs"
        folder.mkdir(parents=True, exist_ok=True)
        previous = read_json(folder / f"{job_id}.json") or {}
        write_json(folder / f"{job_id}.json", {"job_id": job_id, "name": name, "config": config,
                                                "history": history, "server": SERVER_TOKEN, "host": HOST,
                                                "pid": os.getpid(), "updated": time.time(),
                                                "started": previous.get("started", time.time())})

    def drop_job(self, job_id: str) -> None:
        if JOB_ID_PATTERN.fullmatch(job_id or ""):
            (self.folder / "jobs" / f"{job_id}.json").unlink(missing_ok=True)

    def job_records(self, live_only: bool = False) -> list[JobRecord]:
        """Job files, oldest first; ``live_only`` leaves out the ones a restart interrupted."""
        records = []
        try:
            paths = sorted((self.folder / "jobs").glob("*.json"))
        except OSError:
            return []
        for path in paths:
            value = read_json(path)
            if value is None or not JOB_ID_PATTERN.fullmatch(str(value.get("job_id", ""))):
                continue
            try:
                record = JobRecord(str(value["job_id"]), str(value.get("name", ""))[:200], dict(value["config"]),
                                   list(value.get("history", [])), str(value.get("server", "")),
                                   float(value.get("started", 0)), str(value.get("host", "")),
                                   int(value.get("pid", 0)), float(value.get("updated", 0)))
            except (KeyError, TypeError, ValueError):
                continue
            if not (live_only and record.interrupted):
                records.append(record)
        return sorted(records, key=lambda record: record.started)
