"""Where the data comes from: an explicit folder or zip, ``CFCORE_DATA``, the cache, or a download."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from cfcore import constants as C
from cfcore import settings
from cfcore.data.cache import check_folder, extract_once, is_usable_copy
from cfcore.data.dataset import Dataset, build_dataset
from cfcore.data.download import DownloadError, download_dataset
from cfcore.data.errors import DataError
from cfcore.data.layouts import layout_of
from cfcore.data.read import Limits, read_movies, read_ratings


def resolve_data_path(path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Find the folder holding the data: explicit path, ``CFCORE_DATA``, cache, download."""
    chosen = path if path not in (None, "") else os.environ.get(settings.DATA_ENV_VAR) or None
    if chosen is not None:
        candidate = Path(chosen).expanduser()
        if not candidate.exists():
            raise DataError(f"data path not found: {candidate}")
        if candidate.is_file():
            if not zipfile.is_zipfile(candidate):
                raise DataError(f"{candidate}: not a folder or a .zip archive")
            candidate = extract_once(candidate)
        return check_folder(candidate)
    if not download:
        folder = settings.cache_dir() / C.DATASET_NAME
        if is_usable_copy(folder):
            return check_folder(folder)
        raise DownloadError(f"no dataset configured and none downloaded yet into {settings.cache_dir()}")
    return download_dataset()


def load_dataset(
    path: str | os.PathLike | None = None, *, limits: Limits = Limits(), download: bool = True
) -> Dataset:
    """Load a MovieLens-format dataset from the first source that is available.

    Args:
        path: A folder or ``.zip``; ``None`` falls back to ``CFCORE_DATA``, the
            cache, and finally a download from GroupLens.
        limits: File size and row limits.
        download: Whether a download may be attempted.

    Returns:
        The indexed :class:`Dataset`.

    Raises:
        DataError: with a readable message for any problem.
    """
    folder = resolve_data_path(path, download=download)
    ratings_name, movies_name = layout_of(folder) or (C.RATINGS_FILE, C.MOVIES_FILE)
    ratings = read_ratings(folder / ratings_name, ratings_name, limits)
    movies = read_movies(folder / movies_name, movies_name, limits)
    return build_dataset(ratings, movies, str(folder))
