"""All workspaces under one state folder: opening and admitting them, the store's disk budget, eviction and
expiry, and the runs shared by a read-only link."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from cfcore.workspaces.disk import WorkspaceError, WorkspaceLock, folder_bytes, link_or_copy, read_json, write_json
from cfcore.workspaces.ids import ID_PATTERN, new_id
from cfcore.workspaces.workspace import Workspace

_LOG = logging.getLogger(__name__)

# A workspace opened this recently is never deleted to make room for another visitor: the newcomer is refused.
PROTECTED_S = 24 * 3600.0

# "Share this run" links one workspace may keep.
MAX_SHARES = 10

# A store sweeps for expired workspaces at most this often when new ones are made (and after each training).
_SWEEP_EVERY_S = 3600.0


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

    def lock_for(self, ws_id: str) -> WorkspaceLock:
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
            state = read_json(folder / "workspace.json") or {}
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
            shutil.copytree(source, temporary / "run", copy_function=link_or_copy)
            write_json(temporary / "share.json", {"name": name, "created": time.time(), "owner": workspace.id,
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
        return {token: read_json(self.root / "shared" / token / "share.json") or {} for token in entries}

    def shared_run(self, token: object) -> tuple[Path, str] | None:
        """The shared run folder and its name for a link token, or None for anything else."""
        if not isinstance(token, str) or not ID_PATTERN.fullmatch(token):
            return None
        folder = self.root / "shared" / token
        info = read_json(folder / "share.json")
        if info is None or not (folder / "run").is_dir():
            return None
        return folder / "run", str(info.get("name", "shared run"))[:200]
