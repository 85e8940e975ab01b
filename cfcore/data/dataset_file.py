"""A :class:`~cfcore.data.dataset.Dataset` as one ``.npz`` file: how the server hands data to the trainer process, and
how a workspace keeps an uploaded dataset across restarts.

Plain arrays only (no pickles): the rating rows in their order (a split's row numbers refer to it), the id maps
and the movies' titles and genres. Reading it back gives a dataset with the same fingerprint.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore.data.dataset import Dataset
from cfcore.data.errors import DataError

_ARRAYS = ("userId", "movieId", "rating", "user", "movie", "index_to_user", "index_to_movie", "title", "genres",
           "source")


def save_dataset_file(dataset: Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to ``path`` (atomically: a temporary name, then a rename); an existing file is kept,
    since the name carries the data's fingerprint."""
    target = Path(path)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    ratings, movies = dataset.ratings, dataset.movies
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as fh:
        np.savez_compressed(
            fh,
            userId=ratings["userId"].to_numpy(dtype=np.int64),
            movieId=ratings["movieId"].to_numpy(dtype=np.int64),
            rating=ratings["rating"].to_numpy(dtype=np.float32),
            user=ratings["user"].to_numpy(dtype=np.int32),
            movie=ratings["movie"].to_numpy(dtype=np.int32),
            index_to_user=np.asarray(dataset.index_to_user, dtype=np.int64),
            index_to_movie=np.asarray(dataset.index_to_movie, dtype=np.int64),
            title=movies["title"].astype(str).to_numpy(dtype=str),
            genres=movies["genres"].astype(str).to_numpy(dtype=str),
            source=np.array(dataset.source or ""),
        )
    os.replace(temporary, target)
    return target


def read_dataset_file(path: str | Path) -> Dataset:
    """The dataset :func:`save_dataset_file` wrote.

    Raises:
        DataError: when the file is missing, unreadable or not one of these files.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            if set(archive.files) != set(_ARRAYS):
                raise DataError(f"{path}: not a cfcore dataset file")
            arrays = {name: archive[name] for name in _ARRAYS}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: unreadable dataset file ({type(err).__name__})") from None
    ratings = pd.DataFrame({name: arrays[name] for name in ("userId", "movieId", "rating", "user", "movie")})
    counts = np.bincount(arrays["movie"], minlength=len(arrays["index_to_movie"]))
    sums = np.bincount(arrays["movie"], weights=arrays["rating"].astype(np.float64), minlength=len(counts))
    movies = pd.DataFrame({
        "movieId": arrays["index_to_movie"],
        "title": arrays["title"].astype(object),
        "genres": arrays["genres"].astype(object),
        "num_ratings": counts.astype(np.int64),
        "mean_rating": np.divide(sums, counts, out=np.full(len(counts), np.nan), where=counts > 0),
    })
    return Dataset(ratings, movies, arrays["index_to_user"], arrays["index_to_movie"], str(arrays["source"]))
