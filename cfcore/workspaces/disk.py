"""A workspace's files on disk: atomic JSON writes, folder sizes with hard links counted once, hard links of
unchanging run files, and the lock that serialises one workspace's writes across threads and server processes."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: one server process per state folder there
    fcntl = None


class WorkspaceError(ValueError):
    """A workspace operation that cannot be done (full, unknown run); the message says why."""


def write_json(path: Path, value) -> None:
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


def read_json(path: Path) -> dict | None:
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


def link_or_copy(source: str, target: str) -> None:
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
