"""The files of a run folder, read and checked against their schema without Keras.

A run folder (written by :func:`cfcore.training.save.save_run`, or extracted from a
stranger's run zip) holds eight files. Before anything uses them, every file is
checked here: JSON against its schema, CSVs for their exact columns and sizes,
the arrays of ``ratings.npz`` and ``embeddings.npz`` from their ``.npy`` headers
before NumPy allocates them, and the model's declared sizes against the run's
own users and movies. The learned arrays come from ``embeddings.npz`` alone:
``model.keras`` is a download for people who use Keras, and its HDF5 weights are
never opened here. A run's dataset obeys the same limits as an upload.
No TensorFlow, Keras or h5py import here.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore import constants as C
from cfcore.config import TrainConfig
from cfcore.data.errors import DataError
from cfcore.data.npz import NpzError, read_npz
from cfcore.data.read import Limits, check_csv_shape
from cfcore.data.validate import has_duplicate_pairs
from cfcore.runs.arrays_file import read_embeddings
from cfcore.runs.embeddings import EMBEDDINGS_FILE, Embeddings
from cfcore.runs.errors import RunError
from cfcore.runs.model_file import check_model_file
from cfcore.runs.schema import (
    HISTORY_NUMBERS,
    as_boolean,
    as_integer,
    as_number,
    as_rmse,
    as_text,
    check_history,
    read_config,
    read_json,
)

RUN_FILES = ("model.keras", "config.json", "result.json", "history.csv", "users.csv", "movies.csv", "ratings.npz",
             EMBEDDINGS_FILE)


RUN_LIMITS = Limits(C.UPLOAD_MAX_FILE_BYTES, C.UPLOAD_MAX_RATING_ROWS, C.UPLOAD_MAX_MOVIE_ROWS)


NPZ_ARRAYS = ("user", "movie", "rating", "val_rows")


USERS_COLUMNS = ["index", "userId"]


MOVIES_COLUMNS = ["index", "movieId", "title", "genres", "num_ratings", "mean_rating"]


# What a run from before embeddings.npz hears: the server never opens the HDF5 weights it would need.
OLDER_RUN = ("this run was saved by an older version of the app, without the embeddings.npz this server reads (it "
             "never opens a model's HDF5 weights); convert it on your own machine with 'python -m cfcore "
             "upgrade-run OLD.zip --out NEW.zip' and load NEW.zip")


@dataclass
class RunFiles:
    """A run folder's contents, checked (everything but the model's weights)."""

    config: TrainConfig
    history: list[dict]
    best_epoch: int
    best_val_rmse: float
    train_seconds: float
    stopped_by_user: bool
    stopped_early: bool
    name: str
    source: str
    index_to_user: np.ndarray
    movies: pd.DataFrame
    user: np.ndarray
    movie: np.ndarray
    rating: np.ndarray
    val_rows: np.ndarray
    embeddings: Embeddings | None = field(repr=False)


def read_run_files(directory: str | Path, limits: Limits = RUN_LIMITS, *, with_embeddings: bool = True) -> RunFiles:
    """Check every file of a run folder and return what they hold.

    Args:
        directory: The run folder.
        limits: Size limits for the run's dataset (those of an upload by default).
        with_embeddings: False checks everything but ``embeddings.npz`` and leaves ``RunFiles.embeddings`` None (a run
            of an older version, before the trainer gives it one: :func:`cfcore.training.save.upgrade_run`).

    Returns:
        The checked :class:`RunFiles`; the model file is checked but not loaded.

    Raises:
        RunError: naming the file and what is wrong with it.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise RunError(f"run directory not found: {folder}")
    wanted = RUN_FILES if with_embeddings else tuple(name for name in RUN_FILES if name != EMBEDDINGS_FILE)
    missing = [name for name in wanted if not (folder / name).is_file()]
    if missing == [EMBEDDINGS_FILE]:
        raise RunError(OLDER_RUN)
    if missing:
        raise RunError(f"{folder} is not a cfcore run directory (missing {', '.join(missing)})")
    for name, limit in C.RUN_ZIP_MAX_FILE_BYTES.items():
        if not (folder / name).is_file():
            continue
        size = (folder / name).stat().st_size
        if size > limit:
            raise RunError(f"{name}: {size:,} bytes, over the limit of {limit:,}")
    config = read_config(folder / "config.json")
    info = read_json(folder / "result.json")
    history = check_history(info.get("history"), config)
    _check_history_csv(folder / "history.csv", history)
    index_to_user = _read_users(folder / "users.csv", limits)
    movies = _read_movies(folder / "movies.csv", limits)
    user, movie, rating, val_rows = _read_ratings(folder / "ratings.npz", limits)
    n_users, n_movies = len(index_to_user), len(movies)
    if len(user) and (int(user.max()) >= n_users or int(movie.max()) >= n_movies):
        raise RunError("ratings.npz: refers to users or movies that are not in users.csv and movies.csv")
    n_train = len(user) - len(val_rows)
    declared = check_model_file(folder / "model.keras", config, n_users, n_movies, n_train)
    train_pairs = None
    if config.model == "svdpp":  # its rated sets must be exactly these
        training = np.ones(len(user), dtype=bool)
        training[val_rows] = False
        train_pairs = np.column_stack([user[training], movie[training]])
    embeddings = None
    if with_embeddings:
        embeddings = read_embeddings(folder / EMBEDDINGS_FILE, config, declared, n_users, n_movies, train_pairs)
    # The counts shown next to titles come from the ratings themselves, not from what the file claims.
    counts = np.bincount(movie, minlength=n_movies)
    sums = np.bincount(movie, weights=rating.astype(np.float64), minlength=n_movies)
    movies["num_ratings"] = counts.astype(np.int64)
    movies["mean_rating"] = np.divide(sums, counts, out=np.full(n_movies, np.nan), where=counts > 0)
    best_epoch = as_integer(info.get("best_epoch", 0), "result.json: best_epoch", 0, len(history))
    best_val_rmse = as_rmse(info.get("best_val_rmse", math.nan), "result.json: best_val_rmse")
    if best_epoch and not math.isclose(best_val_rmse, history[best_epoch - 1]["val_rmse"], rel_tol=1e-9):
        raise RunError(f"result.json: best_val_rmse {best_val_rmse:g} is not the val_rmse of epoch {best_epoch}")
    dataset_info = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    return RunFiles(
        config=config,
        history=history,
        best_epoch=best_epoch,
        best_val_rmse=best_val_rmse,
        train_seconds=max(0.0, as_number(info.get("train_seconds", 0.0), "result.json: train_seconds")),
        stopped_by_user=as_boolean(info.get("stopped_by_user", False), "result.json: stopped_by_user"),
        stopped_early=as_boolean(info.get("stopped_early", False), "result.json: stopped_early"),
        name=as_text(info.get("name") or config.model, "result.json: name"),
        source=as_text(dataset_info.get("source", "run"), "result.json: dataset.source"),
        index_to_user=index_to_user,
        movies=movies,
        user=user,
        movie=movie,
        rating=rating,
        val_rows=val_rows,
        embeddings=embeddings,
    )


def _read_csv(path: Path, columns: list[str], max_rows: int, dtype: dict) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        check_csv_shape(raw, path.name)
    except DataError as err:
        raise RunError(str(err)) from None
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip().lstrip("\ufeff").split(",")
    if header != columns:
        raise RunError(f"{path.name}: the header must be {','.join(columns)}")
    if raw.count(b"\n") > max_rows + 1:
        raise RunError(f"{path.name}: more than {max_rows:,} rows, over the limit of {max_rows:,}")
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=dtype, keep_default_na=False, engine="c")
    except (ValueError, pd.errors.ParserError, OverflowError) as err:
        first = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise RunError(f"{path.name}: not readable ({first})") from None
    if frame.empty:
        raise RunError(f"{path.name}: no rows")
    if not np.array_equal(frame["index"].to_numpy(), np.arange(len(frame))):
        raise RunError(f"{path.name}: the index column must count 0, 1, 2, ...")
    return frame


def _check_ids(ids: np.ndarray, name: str) -> None:
    if ids.min() < 0 or ids.max() > 2**31 - 1 or len(np.unique(ids)) != len(ids):
        raise RunError(f"{name}: ids must be distinct whole numbers from 0 to {2**31 - 1}")


def _read_users(path: Path, limits: Limits) -> np.ndarray:
    frame = _read_csv(path, USERS_COLUMNS, limits.max_rating_rows, {"index": np.int64, "userId": np.int64})
    ids = frame["userId"].to_numpy(dtype=np.int64)
    _check_ids(ids, path.name)
    return ids


def _read_movies(path: Path, limits: Limits) -> pd.DataFrame:
    dtype = {"index": np.int64, "movieId": np.int64, "title": str, "genres": str, "num_ratings": str,
             "mean_rating": str}
    frame = _read_csv(path, MOVIES_COLUMNS, limits.max_movie_rows, dtype)
    _check_ids(frame["movieId"].to_numpy(dtype=np.int64), path.name)
    titles = frame["title"].astype(str).str.strip()
    if (titles == "").any():
        raise RunError(f"{path.name}: line {int(np.flatnonzero(titles == '')[0]) + 2}: the title is empty")
    genres = frame["genres"].astype(str).str.strip().replace("", "(no genres listed)")
    return pd.DataFrame({"movieId": frame["movieId"].to_numpy(dtype=np.int64), "title": titles.to_numpy(),
                         "genres": genres.to_numpy()})


def _check_history_csv(path: Path, history: list[dict]) -> None:
    """history.csv (what a download of the history gives) must be result.json's history, row for row."""
    raw = path.read_bytes()
    try:
        check_csv_shape(raw, path.name)
        frame = pd.read_csv(io.BytesIO(raw))
    except (DataError, ValueError, pd.errors.ParserError) as err:
        raise RunError(f"history.csv: not readable ({str(err)[:120]})") from None
    expected = pd.DataFrame(history)
    if list(frame.columns) != list(expected.columns) or len(frame) != len(expected):
        raise RunError(f"history.csv: must hold the {len(expected)} epochs of result.json with the columns "
                       f"{','.join(expected.columns)}")
    for column in ("epoch", *HISTORY_NUMBERS):
        mine, theirs = frame[column].to_numpy(), expected[column].to_numpy(dtype=float)
        if mine.dtype.kind not in "iuf" or not np.allclose(mine, theirs, rtol=1e-6, equal_nan=True):
            raise RunError(f"history.csv: column {column} differs from result.json's history")


def _read_ratings(path: Path, limits: Limits) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four arrays of ratings.npz, each checked from its header before NumPy allocates it."""
    where = "ratings.npz"

    def check(name: str, shape: tuple, dtype: np.dtype) -> None:
        if len(shape) != 1 or dtype.itemsize > 8 or dtype.kind not in "iuf":
            raise NpzError(f"{where}: {name}.npy must be a 1-D numeric array")
        if shape[0] > limits.max_rating_rows:
            raise NpzError(f"{where}: {name}.npy declares {shape[0]:,} ratings, over the limit of "
                           f"{limits.max_rating_rows:,}")

    try:
        arrays = read_npz(path, where, NPZ_ARRAYS, check, C.RUN_ZIP_MAX_FILE_BYTES[where])
    except NpzError as err:
        raise RunError(str(err)) from None
    user, movie, rating, val_rows = (arrays[key] for key in NPZ_ARRAYS)
    if not (len(user) == len(movie) == len(rating)) or len(val_rows) >= len(user) or not len(val_rows):
        raise RunError(f"{where}: the arrays have inconsistent lengths (or no validation ratings)")
    for key in ("user", "movie", "val_rows"):
        if arrays[key].dtype.kind not in "iu":
            raise RunError(f"{where}: {key} must hold integers, not {arrays[key].dtype}")
        if arrays[key].min() < 0:
            raise RunError(f"{where}: {key} holds negative indices")
    if rating.dtype.kind != "f" or not np.isfinite(rating).all():
        raise RunError(f"{where}: rating must hold finite numbers")
    if rating.min() < C.SANE_RATING_MIN or rating.max() > C.SANE_RATING_MAX:
        raise RunError(f"{where}: ratings must lie from {C.SANE_RATING_MIN:g} to {C.SANE_RATING_MAX:g}")
    if val_rows.max() >= len(user) or len(np.unique(val_rows)) != len(val_rows):
        raise RunError(f"{where}: val_rows must be distinct row numbers below {len(user)}")
    if has_duplicate_pairs(user, movie):
        raise RunError(f"{where}: a user rates the same movie more than once")
    return (user.astype(np.int32), movie.astype(np.int32), rating.astype(np.float32), val_rows.astype(np.int64))


def copy_run_folder(source: str | Path, target: str | Path) -> Path:
    """Copy a run folder to ``target`` under a temporary name, then rename it: never a half copy."""

    target = Path(target)
    temporary = target.with_name(f"{target.name}.tmp-copy")
    shutil.rmtree(temporary, ignore_errors=True)
    shutil.copytree(source, temporary)
    os.replace(temporary, target)
    return target


def content_hash(directory: str | Path) -> str:
    """SHA-256 over a run folder's files (names and bytes): the same run loaded twice has the same hash."""
    digest = hashlib.sha256()
    for name in RUN_FILES:
        data = (Path(directory) / name).read_bytes()
        digest.update(name.encode() + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()
