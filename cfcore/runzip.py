"""Run zips: a saved run directory as one file, and loading one from a stranger safely.

A run zip holds the files :func:`cfcore.training.save_run` writes, optionally
inside one top folder. Loading treats it as hostile: see :mod:`cfcore.safezip`
for the archive rules; on top of those only the known run files are accepted,
each under its own size limit, and the two nested zips (``model.keras``,
``ratings.npz``) are checked before Keras or NumPy open them. The model itself
is loaded with Keras safe mode on, so a model carrying Python code (a
``Lambda`` layer) is refused rather than run.

No TensorFlow import at module level: only :func:`load_run_from_zip` needs it.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from cfcore import constants as C
from cfcore.safezip import (
    ZIP_READ_ERRORS,
    UnsafeZipError,
    check_member,
    check_nested_zip,
    copy_member,
    open_archive,
    read_limited,
)

if TYPE_CHECKING:
    from cfcore.training import Run

RUN_ZIP_FILES = tuple(C.RUN_ZIP_MAX_FILE_BYTES)
_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$")
_KERAS_MEMBERS = {"metadata.json", "config.json", "model.weights.h5"}
_NPZ_ARRAYS = ("user", "movie", "rating", "val_rows")
# Only the known names pass; the count limit just stops a huge directory before the names are read.
_NESTED_MAX_MEMBERS = 8


class RunZipError(ValueError):
    """A run zip is unreadable, unsafe or not a cfcore run; the message says why."""


def export_run_zip(run_dir: str | Path) -> bytes:
    """Zip a run directory written by :func:`cfcore.training.save_run`.

    Args:
        run_dir: The run folder; its name becomes the zip's top folder.

    Returns:
        The zip file's bytes: the seven run files inside one folder.

    Raises:
        RunZipError: if the folder is missing any run file.
    """
    folder = Path(run_dir)
    missing = [name for name in RUN_ZIP_FILES if not (folder / name).is_file()]
    if missing:
        raise RunZipError(f"{folder} is not a cfcore run directory (missing {', '.join(missing)})")
    top = folder.name if _SAFE_FOLDER.match(folder.name) else "run"
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
        The extracted run folder, ready for :func:`cfcore.training.load_run`.

    Raises:
        RunZipError: for anything that is not a safe, complete run zip; nothing
            is left behind on failure.
    """
    label = _label(data)
    try:
        raw = read_limited(data, max_input_bytes, label)
        with open_archive(io.BytesIO(raw), label, C.RUN_ZIP_MAX_MEMBERS) as archive:
            top, plan = _plan(archive, label, max_bytes)
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
                _check_model_file(run_dir / "model.keras", label)
                _check_ratings_file(run_dir / "ratings.npz", label)
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
    except UnsafeZipError as err:
        raise RunZipError(str(err)) from None
    return run_dir


def load_run_from_zip(data: bytes | BinaryIO, dest_root: str | Path) -> Run:
    """Extract a run zip (see :func:`load_run_zip`) and load it as a :class:`~cfcore.training.Run`.

    The extracted folder stays under ``dest_root`` as the run's ``path``; on
    any failure it is removed.

    Raises:
        RunZipError: for an unsafe archive, a broken run, or a model Keras
            refuses to load (for example one holding Python code).
    """
    label = _label(data)
    folder = load_run_zip(data, dest_root)
    try:
        from cfcore.training import load_run  # lazy: TensorFlow is heavy

        return load_run(folder)
    except Exception as err:  # a hostile file can make Keras or h5py raise nearly anything
        shutil.rmtree(folder.parent, ignore_errors=True)
        raise RunZipError(f"{label}: {_load_failure(err, folder)}") from None


def _label(data: object) -> str:
    name = getattr(data, "name", None)
    return Path(name).name if isinstance(name, str) and name else "run zip"


def _plan(archive: zipfile.ZipFile, label: str, max_bytes: int) -> tuple[str | None, list]:
    """Check every member and pair each file with its run-file name; return (top folder, plan)."""
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
    missing = [name for name in RUN_ZIP_FILES if name not in seen]
    if missing:
        raise RunZipError(f"{label}: not a complete cfcore run (missing {', '.join(missing)})")
    return next(iter(tops)), plan


def _expected() -> str:
    return f"a run zip holds only {', '.join(RUN_ZIP_FILES)} (optionally inside one folder)"


def _check_model_file(path: Path, label: str) -> None:
    # Exactly Keras's three members: any extra one makes Keras extract "assets" into the system temp folder.
    limit = C.RUN_ZIP_MAX_FILE_BYTES["model.keras"]
    check_nested_zip(path, f"{label}: model.keras", _KERAS_MEMBERS, _NESTED_MAX_MEMBERS, limit)


def _check_ratings_file(path: Path, label: str) -> None:
    """Check ratings.npz: plain numeric 1-D arrays that fit together, without trusting headers."""
    where = f"{label}: ratings.npz"
    allowed = {f"{key}.npy" for key in _NPZ_ARRAYS}
    limit = C.RUN_ZIP_MAX_FILE_BYTES["ratings.npz"]
    check_nested_zip(path, where, allowed, _NESTED_MAX_MEMBERS, limit)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as fh:
                    # Check the header's claimed shape against the member size before NumPy allocates it.
                    _check_npy_header(fh, info, where)
                with archive.open(info) as fh:
                    arrays[info.filename[:-4]] = np.lib.format.read_array(fh, allow_pickle=False)
    except UnsafeZipError:
        raise
    except ZIP_READ_ERRORS as err:
        raise UnsafeZipError(f"{where}: unreadable ({type(err).__name__}: {str(err)[:120]})") from None
    missing = [key for key in _NPZ_ARRAYS if key not in arrays]
    if missing:
        raise UnsafeZipError(f"{where}: missing array(s) {', '.join(missing)}")
    user, movie, rating, val_rows = (arrays[key] for key in _NPZ_ARRAYS)
    if not (len(user) == len(movie) == len(rating)) or len(val_rows) > len(user):
        raise UnsafeZipError(f"{where}: the arrays have inconsistent lengths")
    for key in ("user", "movie", "val_rows"):
        if arrays[key].dtype.kind not in "iu":
            raise UnsafeZipError(f"{where}: {key} must hold integers, not {arrays[key].dtype}")
        if len(arrays[key]) and arrays[key].min() < 0:
            raise UnsafeZipError(f"{where}: {key} holds negative indices")
    if rating.dtype.kind != "f" or not np.isfinite(rating).all():
        raise UnsafeZipError(f"{where}: rating must hold finite numbers")
    if len(val_rows) and (val_rows.max() >= len(user) or len(np.unique(val_rows)) != len(val_rows)):
        raise UnsafeZipError(f"{where}: val_rows must be distinct row numbers below {len(user)}")


def _check_npy_header(fh: BinaryIO, info: zipfile.ZipInfo, where: str) -> None:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise UnsafeZipError(f"{where}: {info.filename} has unsupported .npy version {version}")
    except UnsafeZipError:
        raise
    except ZIP_READ_ERRORS as err:
        raise UnsafeZipError(f"{where}: {info.filename} is not a .npy array ({str(err)[:120]})") from None
    if dtype.hasobject or len(shape) != 1:
        raise UnsafeZipError(f"{where}: {info.filename} must be a 1-D numeric array")
    if shape[0] * dtype.itemsize > info.file_size:
        raise UnsafeZipError(f"{where}: {info.filename} claims more data than it holds")


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
