"""Run zips: a saved run directory as one file, and loading one from a stranger safely.

A run zip holds the files :func:`cfcore.training.save.save_run` writes, optionally
inside one top folder. Loading treats it as hostile: see :mod:`cfcore.safezip`
for the archive rules; on top of those only the known run files are accepted,
each under its own size limit, and every file is checked against the run
schema (:mod:`cfcore.runs.folder`) before NumPy opens anything. The learned arrays
come from ``embeddings.npz``; the model's HDF5 weights are never opened here (a
run zip from an older version, without that file, is refused with the command
that converts it). The extracted files live only for
the load, in this process's scratch folder; :func:`sweep_scratch` removes what
a crashed process left.

No TensorFlow: a run is read as arrays (:mod:`cfcore.runs`).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cfcore import constants as C
from cfcore.child import process_exists
from cfcore.data.read import upload_limits
from cfcore.runs.embeddings import EMBEDDINGS_FILE
from cfcore.runs.errors import RunError
from cfcore.runs.folder import OLDER_RUN, RunFiles, read_run_files
from cfcore.runs.run import load_run
from cfcore.safezip import UnsafeZipError, check_member, copy_member, open_archive, read_limited

if TYPE_CHECKING:
    from cfcore.runs.run import Run

RUN_ZIP_FILES = tuple(C.RUN_ZIP_MAX_FILE_BYTES)
_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$")
SCRATCH_PREFIX = "cfcore-runzip-"
# Folders earlier versions extracted into, one per session, that were never removed.
_LEGACY_PREFIX = "cfcore-session-"


class RunZipError(ValueError):
    """A run zip is unreadable, unsafe or not a cfcore run; the message says why."""


def export_run_zip(run_dir: str | Path, top: str = "") -> bytes:
    """Zip a run directory written by :func:`cfcore.training.save.save_run`.

    Args:
        run_dir: The run folder.
        top: The zip's top folder (letters, digits, ``._-``); default the run folder's name.

    Returns:
        The zip file's bytes: the eight run files inside one folder.

    Raises:
        RunZipError: if the folder is missing any run file.
    """
    folder = Path(run_dir)
    missing = [name for name in RUN_ZIP_FILES if not (folder / name).is_file()]
    if missing:
        raise RunZipError(f"{folder} is not a cfcore run directory (missing {', '.join(missing)})")
    top = next((name for name in (top, folder.name) if name and _SAFE_FOLDER.match(name)), "run")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in RUN_ZIP_FILES:
            archive.writestr(f"{top}/{name}", (folder / name).read_bytes())
    return buffer.getvalue()


def load_run_zip(
    data: bytes | BinaryIO,
    dest_root: str | Path,
    max_bytes: int = C.RUN_ZIP_MAX_EXTRACTED_BYTES,
    *,
    max_input_bytes: int = C.RUN_ZIP_MAX_INPUT_BYTES,
) -> Path:
    """Validate a run zip and extract it into a new, uniquely named folder under ``dest_root``.

    Args:
        data: The zip's bytes or a binary file object (an upload).
        dest_root: Folder under which a fresh subfolder is created; nothing is
            written anywhere else.
        max_bytes: Most bytes the whole archive may extract to.
        max_input_bytes: Largest accepted zip file.

    Returns:
        The extracted run folder, ready for :func:`cfcore.runs.run.load_run`.

    Raises:
        RunZipError: for anything that is not a safe, complete run zip; nothing
            is left behind on failure.
    """
    return _extract_checked(data, dest_root, max_bytes, max_input_bytes)[0]


def extract_older_run_zip(data: bytes | BinaryIO, dest_root: str | Path) -> Path:
    """:func:`load_run_zip` for a run zip of an older version, which may lack ``embeddings.npz``: every other file
    is checked; the trainer's side then gives it one (:func:`cfcore.training.save.upgrade_run`)."""
    return _extract_checked(data, dest_root, older=True)[0]


def _extract_checked(data: bytes | BinaryIO, dest_root: str | Path, max_bytes: int = C.RUN_ZIP_MAX_EXTRACTED_BYTES,
                     max_input_bytes: int = C.RUN_ZIP_MAX_INPUT_BYTES, *, older: bool = False
                     ) -> tuple[Path, RunFiles]:
    """:func:`load_run_zip`, also returning the checked files, so loading need not read them again."""
    label = _label(data)
    try:
        raw = read_limited(data, max_input_bytes, label)
        with open_archive(io.BytesIO(raw), label, C.RUN_ZIP_MAX_MEMBERS) as archive:
            top, plan = _plan(archive, label, max_bytes, optional={EMBEDDINGS_FILE} if older else set())
            root = Path(dest_root)
            root.mkdir(parents=True, exist_ok=True)
            workdir = Path(tempfile.mkdtemp(prefix="runzip-", dir=root))
            try:
                run_dir = workdir / (top if top and _SAFE_FOLDER.match(top) else "run")
                run_dir.mkdir()
                budget = max_bytes
                for info, name in plan:
                    limit = min(C.RUN_ZIP_MAX_FILE_BYTES[name], budget)
                    budget -= copy_member(archive, info, run_dir / name, limit, label)
                files = read_run_files(run_dir, upload_limits(), with_embeddings=not older)
            except RunError as err:
                shutil.rmtree(workdir, ignore_errors=True)
                raise RunZipError(f"{label}: {err}") from None
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
    except UnsafeZipError as err:
        raise RunZipError(str(err)) from None
    return run_dir, files


def load_run_from_zip(data: bytes | BinaryIO, keep_at: str | Path | None = None,
                      max_bytes: int = C.RUN_ZIP_MAX_EXTRACTED_BYTES,
                      max_input_bytes: int = C.RUN_ZIP_MAX_INPUT_BYTES) -> Run:
    """Extract a run zip (see :func:`load_run_zip`) into this process's :func:`scratch_root`, load it as a
    :class:`~cfcore.runs.run.Run`, then move the checked folder to ``keep_at`` (a workspace's run folder, which
    must not exist yet) or remove it.

    Args:
        data: The zip's bytes or a binary file object (an upload).
        keep_at: Where the run folder should live from now on; None keeps nothing on disk (``run.path`` None).
            It appears there whole or not at all (moved in under a temporary name, then renamed).
        max_bytes: Most bytes the zip may declare it extracts to (a workspace's room left): refused before
            anything is written.
        max_input_bytes: Largest accepted zip file (a visitor's upload: ``CFCORE_UPLOAD_MAX_MB``, checked here
            whatever the browser's uploader let through).

    Raises:
        RunZipError: for an unsafe archive or a broken run.
    """
    label = _label(data)
    try:
        folder, files = _extract_checked(data, scratch_root(), min(max_bytes, C.RUN_ZIP_MAX_EXTRACTED_BYTES),
                                         max_input_bytes)
        try:
            run = load_run(folder, files)
            if keep_at is not None:
                target = Path(keep_at)
                _move_whole(folder, target)
            run.path = None if keep_at is None else target
        except OSError as err:
            raise RunZipError(f"{label}: could not keep the run ({err.strerror or type(err).__name__}); the "
                              "server's disk may be full") from None
        except Exception as err:  # a hostile file can make a reader raise nearly anything
            raise RunZipError(f"{label}: {_load_failure(err, folder)}") from None
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)  # nothing of a stranger's zip stays in scratch
    finally:
        with contextlib.suppress(OSError):
            scratch_root().rmdir()  # unless another load is under way
    return run


def _move_whole(folder: Path, target: Path) -> None:
    """Move ``folder`` to ``target`` under a temporary name first (a copy when scratch and the store are on two
    file systems), so a full disk or a crash never leaves part of a run under its final name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.tmp-move")
    try:
        shutil.move(folder, temporary)
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def scratch_root() -> Path:
    """This process's folder for run zips being loaded (``cfcore-runzip-<pid>`` in the system temp folder)."""
    return Path(tempfile.gettempdir()) / f"{SCRATCH_PREFIX}{os.getpid()}"


def sweep_scratch(temp_dir: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders of processes that are gone, and earlier versions' per-session folders.

    Returns:
        The folders removed.
    """
    root = Path(temp_dir or tempfile.gettempdir())
    removed = []
    for folder in root.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX)
        if pid.isdigit() and not process_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    for folder in root.glob(f"{_LEGACY_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _label(data: object) -> str:
    name = getattr(data, "name", None)
    return Path(name).name if isinstance(name, str) and name else "run zip"


def _plan(archive: zipfile.ZipFile, label: str, max_bytes: int, optional: set[str]) -> tuple[str | None, list]:
    """Check every member and pair each file with its run-file name; return (top folder, plan). Files in
    ``optional`` may be missing."""
    members = archive.infolist()
    tops: set[str | None] = set()
    plan: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    declared = 0
    for info in members:
        check_member(info, label)
        parts = info.filename.split("/")
        if info.is_dir():
            if len(parts) != 2:
                raise RunZipError(f"{label}: unexpected folder {info.filename!r}; a run zip has at most one folder")
            tops.add(parts[0])
            continue
        if len(parts) > 2:
            raise RunZipError(f"{label}: unexpected nested path {info.filename!r}; {_expected()}")
        top, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        if "\\" in info.filename or name not in C.RUN_ZIP_MAX_FILE_BYTES:
            raise RunZipError(f"{label}: unexpected file {info.filename!r}; {_expected()}")
        if name in seen:
            raise RunZipError(f"{label}: {name!r} appears more than once")
        seen.add(name)
        tops.add(top)
        limit = C.RUN_ZIP_MAX_FILE_BYTES[name]
        if info.file_size > limit:
            raise RunZipError(
                f"{label}: {name} would extract to {info.file_size:,} bytes, over its limit of {limit:,}"
            )
        declared += info.file_size
        plan.append((info, name))
    if len(tops) > 1:
        shown = ", ".join(sorted(repr(t) if t else "(top level)" for t in tops))
        raise RunZipError(f"{label}: files are spread over several folders ({shown}); {_expected()}")
    if declared > max_bytes:
        raise RunZipError(f"{label}: would extract to {declared:,} bytes, over the limit of {max_bytes:,}")
    missing = [name for name in RUN_ZIP_FILES if name not in seen and name not in optional]
    if missing == [EMBEDDINGS_FILE]:
        raise RunZipError(f"{label}: {OLDER_RUN}")
    if missing:
        raise RunZipError(f"{label}: not a complete cfcore run (missing {', '.join(missing)})")
    return next(iter(tops)), plan


def _expected() -> str:
    return f"a run zip holds only {', '.join(RUN_ZIP_FILES)} (optionally inside one folder)"


def _load_failure(err: Exception, folder: Path) -> str:
    # The temporary folder's path means nothing to the person who uploaded the file.
    text = str(err).replace(f"{folder}: ", "").replace(str(folder), "the run")
    if "arbitrary code" in text or "safe_mode" in text or "`Lambda`" in text:
        return (
            "the model contains Python code (such as a Lambda layer); it was refused because loading it "
            "could run arbitrary code"
        )
    if "Could not locate" in text:
        return "the model refers to classes or functions that are not part of cfcore or Keras; it was refused"
    if isinstance(err, KeyError):
        text = f"missing column or key {text}"
    unwrapped = re.fullmatch(r"could not read the run \((.*)\)", text, flags=re.DOTALL)
    detail = unwrapped.group(1) if unwrapped else text
    detail = detail.strip().splitlines()[0][:240] if detail.strip() else type(err).__name__
    return f"not a usable cfcore run ({detail})"
