"""Checks for zip archives from untrusted sources (uploaded data and run zips).

The rules: read at most a bounded number of input bytes; refuse archives with
too many members before parsing their central directory; refuse members whose
names could escape the target folder (absolute paths, drive letters, ``..``),
links and other special files, encrypted members and unusual compression;
check the declared sizes, and count the bytes actually written while
extracting, since declared sizes can lie (zip bombs). CRCs are checked by
:mod:`zipfile` as each member is read to its end.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CHUNK = 1 << 16

# Stored and deflate are what every common zip tool writes; other methods only add attack surface.
ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

# What a corrupt or hostile archive can raise from inside zipfile/zlib.
ZIP_READ_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError,
    struct.error, UnicodeDecodeError, ValueError, OSError, OverflowError,
)


class UnsafeZipError(ValueError):
    """An archive is unreadable or breaks one of the safety rules; the message says which."""


def read_limited(source: bytes | BinaryIO, max_bytes: int, label: str) -> bytes:
    """Read an upload into memory, refusing more than ``max_bytes``.

    Args:
        source: The bytes, or a binary file object (e.g. Streamlit's UploadedFile).
        max_bytes: Largest accepted input.
        label: Name used in error messages.

    Raises:
        UnsafeZipError: for text input or input over the limit.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        raw = bytes(source)
    elif hasattr(source, "read"):
        raw = source.read(max_bytes + 1)
        if not isinstance(raw, bytes | bytearray):
            raise UnsafeZipError(f"{label}: expected binary data, got {type(raw).__name__}")
        raw = bytes(raw)
    else:
        raise UnsafeZipError(f"{label}: expected bytes or a binary file, got {type(source).__name__}")
    if len(raw) > max_bytes:
        raise UnsafeZipError(f"{label}: the file is over the limit of {max_bytes:,} bytes")
    return raw


def declared_entry_count(fileobj: BinaryIO) -> int | None:
    """Number of members the end-of-central-directory record declares (None: no such record).

    Read before :class:`zipfile.ZipFile` parses the whole central directory, so a
    file claiming millions of members is refused without building millions of objects.
    A ZIP64 archive declares 0xFFFF here, which is over any limit this project uses.
    """
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    start = max(0, size - _EOCD_SIZE - _MAX_COMMENT)
    fileobj.seek(start)
    tail = fileobj.read()
    fileobj.seek(0)
    # The last signature wins, as in zipfile itself.
    pos = tail.rfind(_EOCD_SIGNATURE)
    if pos < 0 or len(tail) - pos < _EOCD_SIZE:
        return None
    _sig, _disk, _cd_disk, _on_disk, total, _cd_size, _cd_offset, _comment = struct.unpack(
        "<4s4H2LH", tail[pos : pos + _EOCD_SIZE]
    )
    return int(total)


def open_archive(fileobj: BinaryIO, label: str, max_members: int) -> zipfile.ZipFile:
    """Open a zip after checking it is one and does not declare too many members.

    Raises:
        UnsafeZipError: for something that is not a zip, or too many members.
    """
    count = declared_entry_count(fileobj)
    if count is None:
        raise UnsafeZipError(f"{label}: not a zip archive, or a cut one")
    if count > max_members:
        raise UnsafeZipError(f"{label}: the archive has {count:,} members, over the limit of {max_members}")
    try:
        archive = zipfile.ZipFile(fileobj)
    except ZIP_READ_ERRORS as err:
        raise UnsafeZipError(f"{label}: not a readable zip archive ({_first_line(err)})") from None
    if len(archive.infolist()) > max_members:
        archive.close()
        raise UnsafeZipError(f"{label}: the archive has too many members (limit {max_members})")
    return archive


def name_problem(name: str) -> str | None:
    """Why a member name is unsafe to extract anywhere, or None when it is fine."""
    if not name:
        return "has an empty name"
    if _CONTROL.search(name):
        return "has control characters in its name"
    if name.startswith(("/", "\\")):
        return "has an absolute path (it would be written outside the target folder)"
    if _DRIVE.match(name):
        return "has a drive letter (it would be written outside the target folder)"
    if ".." in re.split(r"[/\\]", name):
        return "would be written outside the target folder ('..' in its path)"
    return None


def type_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member cannot be extracted as a plain file or folder, or None."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "is a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is not a regular file"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in ALLOWED_METHODS:
        return f"uses compression method {info.compress_type}; only stored and deflate are supported"
    return None


def check_member(info: zipfile.ZipInfo, label: str) -> None:
    """Raise :class:`UnsafeZipError` if a member's name or type is unsafe."""
    problem = name_problem(info.filename) or type_problem(info)
    if problem:
        raise UnsafeZipError(f"{label}: member {info.filename!r} {problem}")


def copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, max_bytes: int, label: str) -> int:
    """Extract one member to a new file, counting the bytes actually produced.

    Args:
        archive: The open archive.
        info: The member (already checked).
        dest: A path that must not exist yet (never follows an existing link).
        max_bytes: Most bytes this member may produce.
        label: Name used in error messages.

    Returns:
        Bytes written.

    Raises:
        UnsafeZipError: if the member is corrupt (CRC, truncated) or produces more than ``max_bytes``.
    """
    if info.file_size > max_bytes:
        raise UnsafeZipError(
            f"{label}: member {info.filename!r} declares {info.file_size:,} bytes, over the limit of {max_bytes:,}"
        )
    written = 0
    try:
        with archive.open(info) as src, open(dest, "xb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise UnsafeZipError(
                        f"{label}: member {info.filename!r} expands past the limit of {max_bytes:,} bytes"
                    )
                out.write(chunk)
    except UnsafeZipError:
        raise
    except zipfile.BadZipFile as err:
        reason = "CRC mismatch" if "CRC" in str(err) else _first_line(err)
        raise UnsafeZipError(f"{label}: corrupt member {info.filename!r} ({reason})") from None
    except FileExistsError:
        raise UnsafeZipError(f"{label}: member {info.filename!r} appears more than once") from None
    except ZIP_READ_ERRORS as err:
        if isinstance(err, OSError) and not isinstance(err, EOFError) and err.filename is not None:
            raise  # a problem writing to our own disk, not a property of the archive
        raise UnsafeZipError(f"{label}: corrupt member {info.filename!r} ({_first_line(err)})") from None
    return written


def check_nested_zip(path: Path, label: str, allowed: set[str], max_members: int, max_bytes: int) -> None:
    """Check a zip stored inside an archive (``.keras``, ``.npz``) before a library opens it.

    Only names in ``allowed`` (flat, no folders), at most ``max_members``, and at
    most ``max_bytes`` declared in total: :mod:`zipfile` never returns more than a
    member's declared size, so this bounds what the library can decompress.
    """
    with open(path, "rb") as fh, open_archive(fh, label, max_members) as archive:
        seen: set[str] = set()
        total = 0
        for info in archive.infolist():
            check_member(info, label)
            if info.filename not in allowed:
                raise UnsafeZipError(
                    f"{label}: unexpected member {info.filename!r} (expected {', '.join(sorted(allowed))})"
                )
            if info.filename in seen:
                raise UnsafeZipError(f"{label}: member {info.filename!r} appears more than once")
            seen.add(info.filename)
            total += info.file_size
        if total > max_bytes:
            raise UnsafeZipError(f"{label}: declares {total:,} bytes, over the limit of {max_bytes:,}")


def extract_all(path: Path, target: Path, label: str, max_members: int, max_bytes: int) -> Path:
    """Extract every member of the zip at ``path`` under ``target`` (a MovieLens release, a learner's data zip),
    folders kept. Every member is checked before anything is written; at most ``max_bytes`` are written in all,
    counted as they are produced.

    Raises:
        UnsafeZipError: for an archive that breaks a rule, or is corrupt; ``target`` may then hold part of it.
    """
    target = Path(target).resolve()
    with open(path, "rb") as fh, open_archive(fh, label, max_members) as archive:
        members = archive.infolist()
        for info in members:
            check_member(info, label)
            if not (target / info.filename.replace("\\", "/")).resolve().is_relative_to(target):
                raise UnsafeZipError(f"{label}: member {info.filename!r} would be written outside the target folder")
        total = sum(info.file_size for info in members)
        if total > max_bytes:
            raise UnsafeZipError(f"{label}: would extract to {total:,} bytes, over the limit of {max_bytes:,}")
        target.mkdir(parents=True, exist_ok=True)
        written = 0
        for info in members:
            dest = target / info.filename.replace("\\", "/")
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            written += copy_member(archive, info, dest, max_bytes - written, label)
    return target


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__
