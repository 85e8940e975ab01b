"""Reading an ``.npz`` file that came from outside: plain arrays only, each checked from its header first.

An ``.npz`` is a zip of ``.npy`` members. Before NumPy allocates anything, the archive passes
:func:`cfcore.safezip.check_nested_zip` (known names, bounded sizes), and each member's header is read and handed
to the caller's check (its shape and dtype). A member must hold exactly its header and its data: a shorter one is
truncated, a longer one carries padding that would cost disk and memory for nothing. Object arrays (pickles) are
never read.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cfcore.safezip import ZIP_READ_ERRORS, UnsafeZipError, check_nested_zip

# A header check: (array name, shape, dtype) -> None, raising NpzError when they do not fit.
HeaderCheck = Callable[[str, tuple, np.dtype], None]
# Text arrays (a link's name) are read; anything wider per item is not a cfcore array.
_MAX_ITEM_BYTES = 64
# More members than any cfcore .npz holds is refused before the archive's directory is read.
_MAX_MEMBERS = 16


class NpzError(ValueError):
    """An ``.npz`` file is unreadable or holds arrays other than those expected; the message says why."""


def read_npz(path: str | Path, where: str, names: Iterable[str], check: HeaderCheck, max_bytes: int,
             required: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, every member checked before it is read.

    Args:
        path: The file.
        where: Its name in messages ("ratings.npz").
        names: The arrays it may hold.
        check: Called with each member's name, shape and dtype before its data is read.
        max_bytes: Most bytes its members may declare in total.
        required: The arrays it must hold (default: all of ``names``).

    Returns:
        The arrays by name.

    Raises:
        NpzError: naming the file, the member and what is wrong.
    """
    names = tuple(names)
    arrays: dict[str, np.ndarray] = {}
    try:
        check_nested_zip(Path(path), where, {f"{name}.npy" for name in names}, _MAX_MEMBERS, max_bytes)
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename[:-4]
                with archive.open(info) as fh:
                    shape, dtype, header_bytes = _read_header(fh, info.filename, where)
                    check(name, shape, dtype)
                    if dtype.hasobject or dtype.itemsize > _MAX_ITEM_BYTES or dtype.kind not in "biufU":
                        raise NpzError(f"{where}: {info.filename} must hold plain numbers, not {str(dtype)[:40]}")
                    data_bytes = math.prod(shape) * dtype.itemsize
                    if header_bytes + data_bytes > info.file_size:
                        raise NpzError(f"{where}: {info.filename} claims more data than it holds")
                    if header_bytes + data_bytes < info.file_size:
                        extra = info.file_size - header_bytes - data_bytes
                        raise NpzError(f"{where}: {info.filename} holds {extra:,} bytes after its array; refused")
                with archive.open(info) as fh:
                    arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
    except NpzError:
        raise
    except UnsafeZipError as err:
        raise NpzError(str(err)) from None
    except ZIP_READ_ERRORS as err:
        raise NpzError(f"{where}: unreadable ({type(err).__name__}: {str(err)[:120]})") from None
    missing = [name for name in (names if required is None else required) if name not in arrays]
    if missing:
        raise NpzError(f"{where}: missing array(s) {', '.join(missing)}")
    return arrays


def _read_header(fh: BinaryIO, member: str, where: str) -> tuple[tuple, np.dtype, int]:
    """A member's shape, dtype and header length (refusing .npy versions other than 1.0 and 2.0)."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise NpzError(f"{where}: {member} has unsupported .npy version {version}")
    except NpzError:
        raise
    except ZIP_READ_ERRORS as err:
        raise NpzError(f"{where}: {member} is not a .npy array ({str(err)[:120]})") from None
    return tuple(int(n) for n in shape), dtype, fh.tell()
