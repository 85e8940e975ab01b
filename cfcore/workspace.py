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
:data:`PROTECTED_S` are deleted, least recently seen first); workspaces unseen for ``ttl_seconds`` are deleted.
No Streamlit and no TensorFlow here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cfcore.child import process_exists

try:
    import fcntl
except ImportError:  # Windows: one server process per state folder there
    fcntl = None

_LOG = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
RUN_ID_PATTERN = re.compile(r"\d{13}-[0-9a-f]{8}")
JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# A store sweeps for expired workspaces at most this often when new ones are made (and after each training).
_SWEEP_EVERY_S = 3600.0
# last_seen is written at most this often per workspace (every rerun would otherwise write a file).
_TOUCH_EVERY_S = 60.0
# Identifies this server process in job records.
SERVER_TOKEN = uuid.uuid4().hex
HOST = socket.gethostname()
# A record from another machine is a training that machine's server still runs while it keeps being updated
# (every epoch, and at least every cfcore.trainer.jobs.HEARTBEAT_S); older than this, its server is gone.
STALE_S = 120.0
# A workspace opened this recently is never deleted to make room for another visitor: the newcomer is refused.
PROTECTED_S = 24 * 3600.0
# "Share this run" links one workspace may keep.
MAX_SHARES = 10


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link a file of an unchanging run folder, or copy it where the disk cannot link."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class WorkspaceLock:
    """One workspace's lock for the threads of this process and, through ``flock`` on its ``.lock`` file, for the
    other server processes (replicas) using the same state folder. Reentrant within a thread."""

    def __init__(self, folder: Path):
        self._folder = folder
        self._threads = threading.RLock()
        self._depth = 0
        self._file = None

    def __enter__(self) -> WorkspaceLock:
        self._threads.acquire()
        if self._depth == 0 and fcntl is not None and self._folder.is_dir():
            try:
                self._file = open(self._folder / ".lock", "a+b")  # noqa: SIM115 - held until __exit__
                fcntl.flock(self._file, fcntl.LOCK_EX)
            except OSError:  # a full or read-only disk: the threads' lock still holds
                self._file = None
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self._threads.release()


class WorkspaceError(ValueError):
    """A workspace operation that cannot be done (full, unknown run); the message says why."""


def new_id() -> str:
    """A fresh workspace id: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


_last_run_ms = [0]
_run_id_lock = threading.Lock()


def new_run_id() -> str:
    """A run folder name that sorts by creation time (strictly increasing within this process)."""
    with _run_id_lock:
        _last_run_ms[0] = max(int(time.time() * 1000), _last_run_ms[0] + 1)
        return f"{_last_run_ms[0]:013d}-{secrets.token_hex(4)}"


def _write_json(path: Path, value) -> None:
    """Write ``value`` under a temporary name, then rename it: a reader sees the old file or the new one whole.

    Raises:
        WorkspaceError: when the disk is full or the folder cannot be written (the temporary file is removed).
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_text(json.dumps(value, indent=1))
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise WorkspaceError(f"could not save ({err.strerror or type(err).__name__}); the server's disk may be "
                             "full. What is already saved stays available") from None


def free_name(name: str, taken: set[str]) -> str:
    """``name``, or where it is taken the same model's first free number: "svd #2" -> "svd #3"."""
    if name not in taken:
        return name
    model = re.sub(r" #\d+$", "", name)
    number = 1
    while f"{model} #{number}" in taken:
        number += 1
    return f"{model} #{number}"


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def folder_bytes(*folders: Path) -> int:
    """Bytes of the files under ``folders`` (0 for one that is gone); a file hard-linked in several places (a
    shared run and its original) counts once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                try:
                    info = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_size
    return total


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


class Workspace:
    """One workspace's folder. Safe for the sessions of one server process and for other server processes
    sharing the state folder (:class:`WorkspaceLock`)."""

    def __init__(self, store: WorkspaceStore, ws_id: str, client: str = ""):
        self.store, self.id, self.client = store, ws_id, client
        self.folder = store.root / "workspaces" / ws_id
        self._lock = store._lock_for(ws_id)

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
        value = _read_json(self.folder / "workspace.json") or {}
        value.setdefault("runs", {})
        value.setdefault("widgets", {})
        return value

    def update(self, **changes) -> dict:
        """Merge ``changes`` into workspace.json (atomically) and return the new state; the first save makes the
        workspace's folder (see :meth:`WorkspaceStore.create`)."""
        with self._lock:
            if not self.exists:
                self.store.admit(self)
                self.runs_dir.mkdir(parents=True, exist_ok=True)
                changes = {"created": time.time(), **changes}
            value = self.state()
            value.update(changes)
            value["last_seen"] = time.time()
            _write_json(self.folder / "workspace.json", value)
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
        is ``name`` or, when another run of this workspace has it, its model's next free number ("svd #3")."""
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
                model = str((_read_json(self.runs_dir / run_id / "config.json") or {}).get("model") or "run")[:40]
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
        previous = _read_json(folder / f"{job_id}.json") or {}
        _write_json(folder / f"{job_id}.json", {"job_id": job_id, "name": name, "config": config,
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
            value = _read_json(path)
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


class WorkspaceStore:
    """All workspaces under one state folder.

    Args:
        root: The state folder (``CFCORE_STATE_DIR``).
        max_bytes: The most disk all workspaces together may use (``CFCORE_STATE_MAX_MB``).
        ttl_seconds: Workspaces unseen this long are deleted (``CFCORE_WORKSPACE_TTL_DAYS``).
        max_runs: The most runs one workspace keeps (``CFCORE_WORKSPACE_MAX_RUNS``).
        max_workspace_bytes: The most disk one workspace may use (``CFCORE_WORKSPACE_MAX_MB``), the runs it
            shared included.
        max_shares: The most "share this run" links one workspace keeps.
        max_new_per_hour: How many new workspaces one client address may start saving in an hour
            (``CFCORE_CLIENT_NEW_WORKSPACES_PER_HOUR``; 0: no limit).
    """

    def __init__(self, root: str | Path, max_bytes: int = 2048 * 2**20, ttl_seconds: float = 14 * 86400,
                 max_runs: int = 50, max_workspace_bytes: int = 200 * 2**20, max_shares: int = MAX_SHARES,
                 max_new_per_hour: int = 0):
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.ttl_seconds = float(ttl_seconds)
        self.max_runs = int(max_runs)
        self.max_workspace_bytes = int(max_workspace_bytes)
        self.max_shares = int(max_shares)
        self.max_new_per_hour = int(max_new_per_hour)
        self._created_by_client: dict[str, list[float]] = {}
        self._locks: dict[str, WorkspaceLock] = {}
        self._locks_lock = threading.Lock()
        self._last_sweep = 0.0

    def _lock_for(self, ws_id: str) -> WorkspaceLock:
        with self._locks_lock:
            if ws_id not in self._locks:
                self._locks[ws_id] = WorkspaceLock(self.root / "workspaces" / ws_id)
            return self._locks[ws_id]

    def begin(self, client: str = "") -> Workspace:
        """A new, empty workspace for a visitor from address ``client`` (and, at most once an hour, a :meth:`sweep`
        of the old ones first). Nothing is written until it first saves something: a visitor who only looks
        costs no disk, and its id opens nothing until then."""
        if time.time() - self._last_sweep > _SWEEP_EVERY_S:
            self.sweep()
        return Workspace(self, new_id(), client)

    def create(self, client: str = "") -> Workspace:
        """A new workspace, saved at once (:meth:`begin`, then its first save)."""
        workspace = self.begin(client)
        workspace.ensure()
        return workspace

    def unsaved(self, ws_id: object, client: str = "") -> Workspace | None:
        """The workspace :meth:`begin` gave this session, before its first save (None for a malformed id). Only
        for the id the server itself handed out: a visitor's link opens through :meth:`open`."""
        return Workspace(self, ws_id, client) if isinstance(ws_id, str) and ID_PATTERN.fullmatch(ws_id) else None

    def admit(self, workspace: Workspace) -> None:
        """Let a new workspace make its folder, unless its client address started :attr:`max_new_per_hour`
        workspaces in the last hour (a public server's limit; 0: none).

        Raises:
            WorkspaceError: saying why and what to do instead.
        """
        if not self.max_new_per_hour or not workspace.client:
            return
        now = time.monotonic()
        with self._locks_lock:
            recent = [t for t in self._created_by_client.get(workspace.client, []) if now - t < 3600.0]
            if len(recent) >= self.max_new_per_hour:
                raise WorkspaceError(f"your network address started {len(recent)} workspaces in the last hour, the "
                                     "most it may; keep using one you have (its link is in the address bar)")
            self._created_by_client[workspace.client] = [*recent, now]

    def open(self, value: object) -> Workspace | None:
        """The workspace with id ``value``, or None when ``value`` is not a well-formed id of an existing one."""
        if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
            return None
        workspace = Workspace(self, value)
        if not (workspace.folder / "workspace.json").is_file():
            return None
        return workspace

    def ids(self) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(self.root / "workspaces")
                          if entry.is_dir() and ID_PATTERN.fullmatch(entry.name))
        except OSError:
            return []

    def delete(self, ws_id: str) -> None:
        """Delete a workspace and the runs it shared."""
        if ID_PATTERN.fullmatch(ws_id):
            for share in self.shares_of(ws_id):
                shutil.rmtree(share.parent, ignore_errors=True)
            shutil.rmtree(self.root / "workspaces" / ws_id, ignore_errors=True)

    def used_bytes(self) -> int:
        """Disk used by everything under the state folder: workspaces, shared runs, datasets handed to the
        trainer, scratch runs."""
        return folder_bytes(self.root)

    def check_room(self, more_bytes: int = 0) -> None:
        """Raise :class:`WorkspaceError` when ``more_bytes`` more would pass the store's size. Nobody's workspace
        is deleted to make room (see :meth:`sweep`): the newcomer waits."""
        used = self.used_bytes()
        if used + more_bytes > self.max_bytes:
            raise WorkspaceError(f"the server's storage is full ({used / 2**20:,.0f} of {self.max_bytes / 2**20:,.0f}"
                                 " MB); nothing more can be saved right now. Try again later, or delete runs you no "
                                 "longer need on the Compare page")

    def sweep(self, busy: Iterable[str] = (), now: float | None = None) -> list[str]:
        """Delete workspaces unseen for the TTL, then, while the store is over its size, the least recently seen of
        those unseen for :data:`PROTECTED_S`; never one in ``busy`` (a training is under way) and never one opened
        in the last :data:`PROTECTED_S` to make room for someone else. Returns the ids deleted."""
        now = time.time() if now is None else now
        self._last_sweep = time.time()
        busy = set(busy)
        seen = {}
        for ws_id in self.ids():
            folder = self.root / "workspaces" / ws_id
            state = _read_json(folder / "workspace.json") or {}
            try:  # a folder whose first save is under way has no workspace.json yet: its age is the folder's
                seen[ws_id] = float(state.get("last_seen") or folder.stat().st_mtime)
            except (OSError, TypeError, ValueError):
                seen[ws_id] = 0.0
        deleted = [ws_id for ws_id, last in seen.items() if now - last > self.ttl_seconds and ws_id not in busy]
        for ws_id in deleted:
            self.delete(ws_id)
        self._sweep_shared(now)
        total = self.used_bytes()
        for ws_id in sorted((w for w in seen if w not in deleted), key=seen.get):
            if total <= self.max_bytes or now - seen[ws_id] < PROTECTED_S:
                break
            if ws_id in busy:
                continue
            size = folder_bytes(self.root / "workspaces" / ws_id, *self.shares_of(ws_id))
            self.delete(ws_id)
            total -= size
            deleted.append(ws_id)
        return deleted

    def sweep_if_due(self, busy: Iterable[str] = (), every: float = 60.0) -> list[str]:
        """:meth:`sweep`, unless one ran in the last ``every`` seconds (a class's thirty finished runs made
        thirty sweeps of every workspace)."""
        if time.time() - self._last_sweep < every:
            return []
        return self.sweep(busy)

    def _sweep_shared(self, now: float) -> None:
        try:
            entries = list(os.scandir(self.root / "shared"))
        except OSError:
            return
        for entry in entries:
            try:
                old = now - entry.stat().st_mtime > self.ttl_seconds
            except OSError:
                continue
            if old:
                shutil.rmtree(entry.path, ignore_errors=True)

    # -- "share this run" ---------------------------------------------------------------

    def share_run(self, workspace: Workspace, run_id: str, name: str) -> str:
        """Keep one run for a read-only link; returns the link's token (which reveals nothing of the workspace).

        The same run shared again gets the same link. The copy is hard-linked to the run's files where the disk
        allows (a run folder never changes), and counts against the workspace's disk and its
        :attr:`max_shares` links.

        Raises:
            WorkspaceError: when the workspace has shared its most runs, or the copy would pass a disk cap.
        """
        shares = self._shares()
        for token, info in shares.items():
            if info.get("owner") == workspace.id and info.get("run_id") == run_id:
                return token
        mine = [token for token, info in shares.items() if info.get("owner") == workspace.id]
        if len(mine) >= self.max_shares:
            raise WorkspaceError(f"this workspace has shared {len(mine)} runs, the most it can; links to runs "
                                 "deleted here stop working when the workspace expires")
        source = workspace.run_dir(run_id)
        token = secrets.token_urlsafe(24)
        target = self.root / "shared" / token
        temporary = target.with_name(f".{token}.tmp")
        try:
            shutil.copytree(source, temporary / "run", copy_function=_link_or_copy)
            _write_json(temporary / "share.json", {"name": name, "created": time.time(), "owner": workspace.id,
                                                   "run_id": run_id})
            os.replace(temporary, target)
        except OSError as err:
            shutil.rmtree(temporary, ignore_errors=True)
            raise WorkspaceError(f"could not share the run ({err.strerror or type(err).__name__})") from None
        except WorkspaceError:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        try:
            workspace.check_room(more_runs=0)  # a copy where the disk could not link may pass a cap
        except WorkspaceError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return token

    def shares_of(self, ws_id: str) -> list[Path]:
        """The run folders this workspace shared."""
        return [self.root / "shared" / token / "run" for token, info in self._shares().items()
                if info.get("owner") == ws_id]

    def _shares(self) -> dict[str, dict]:
        try:
            entries = [entry.name for entry in os.scandir(self.root / "shared") if ID_PATTERN.fullmatch(entry.name)]
        except OSError:
            return {}
        return {token: _read_json(self.root / "shared" / token / "share.json") or {} for token in entries}

    def shared_run(self, token: object) -> tuple[Path, str] | None:
        """The shared run folder and its name for a link token, or None for anything else."""
        if not isinstance(token, str) or not ID_PATTERN.fullmatch(token):
            return None
        folder = self.root / "shared" / token
        info = _read_json(folder / "share.json")
        if info is None or not (folder / "run").is_dir():
            return None
        return folder / "run", str(info.get("name", "shared run"))[:200]
