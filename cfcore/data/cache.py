"""Extracted data on disk: a zip extracted safely, and a manifest that says an extraction finished intact.

A folder counts as a usable copy only when it holds both files with their headers and every file is as the
manifest recorded it (size and SHA-256), so a cut or edited copy is extracted again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from cfcore import constants as C
from cfcore import settings
from cfcore.data.errors import DataError
from cfcore.data.layouts import RATINGS_FILES, layout_of
from cfcore.safezip import UnsafeZipError, extract_all


def _find_data_folder(root: Path) -> Path | None:
    """The folder at or one level below ``root`` that holds a ratings file."""
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if layout_of(folder) is not None:
            return folder
    return None


def safe_extract_zip(
    archive: str | os.PathLike, target: str | os.PathLike, max_bytes: int = C.MAX_EXTRACTED_BYTES
) -> Path:
    """Extract a data zip so that nothing lands outside ``target``, by :mod:`cfcore.safezip`'s rules (the run
    zips' too): no absolute paths, ``..`` members, links or special files, at most
    :data:`cfcore.constants.DATA_ZIP_MAX_MEMBERS` members and ``max_bytes`` extracted.

    Raises:
        DataError: for a corrupt or hostile archive, or a folder that cannot be written (``target`` may then hold
            part of the archive: callers remove it).
    """
    name = Path(archive).name
    try:
        return extract_all(Path(archive), Path(target), name, C.DATA_ZIP_MAX_MEMBERS, max_bytes)
    except UnsafeZipError as err:
        raise DataError(str(err)) from None
    except OSError as err:
        raise DataError(f"{name}: could not extract it ({err.strerror or type(err).__name__})") from None


def check_folder(folder: Path) -> Path:
    found = _find_data_folder(folder)
    if found is None:
        raise DataError(f"{folder}: no {C.RATINGS_FILE} found in this folder or one level below (nor another "
                        f"release's {' or '.join(RATINGS_FILES[1:])})")
    ratings, movies = layout_of(found)
    if not (found / movies).is_file():
        raise DataError(f"{found}: has {ratings} but no {movies}")
    return found


_MANIFEST = ".complete"


def _file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_manifest(folder: Path) -> None:
    """Record every extracted file's size and SHA-256 in ``.complete``: the mark that an extraction finished."""
    files = {str(p.relative_to(folder)): [p.stat().st_size, _file_digest(p)]
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != _MANIFEST}
    (folder / _MANIFEST).write_text(json.dumps(files, indent=0))


def _manifest_matches(folder: Path) -> bool:
    """Whether ``folder`` holds exactly what its manifest recorded (a cut or edited file does not)."""
    try:
        files = json.loads((folder / _MANIFEST).read_text())
        if not isinstance(files, dict) or not files:
            return False
        for name, (size, digest) in files.items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != size or _file_digest(path) != digest:
                return False
    except (OSError, ValueError, TypeError):
        return False
    return True


def extract_once(archive: Path) -> Path:
    """Extract a user-provided zip into the cache, keyed by its content hash; re-extract a damaged copy."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    target = settings.cache_dir() / "extracted" / digest
    if not _manifest_matches(target):
        shutil.rmtree(target, ignore_errors=True)
        try:
            safe_extract_zip(archive, target)
        except BaseException:  # a half extraction is never left to be believed
            shutil.rmtree(target, ignore_errors=True)
            raise
        write_manifest(target)
    return target


def has_both_files(folder: Path) -> bool:
    """True when a cached extraction holds both files with the expected header."""
    try:
        found = check_folder(folder)
        with open(found / C.RATINGS_FILE, encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        with open(found / C.MOVIES_FILE, encoding="utf-8") as fh:
            movie_header = fh.readline().strip().split(",")
    except (DataError, OSError, UnicodeDecodeError):
        return False
    return set(C.RATINGS_COLUMNS) <= set(header) and set(C.MOVIES_COLUMNS) <= set(movie_header)


def is_usable_copy(folder: Path) -> bool:
    """A finished download: both files with their headers, and every file as its manifest recorded it."""
    return has_both_files(folder) and _manifest_matches(folder)
