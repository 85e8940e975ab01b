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
import json
import math
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore import constants as C
from cfcore.config import FACTOR_LINKS, FACTOR_METHODS, TrainConfig, model_parameters
from cfcore.data.errors import DataError
from cfcore.data.npz import NpzError, read_npz
from cfcore.data.read import Limits, check_csv_shape
from cfcore.data.validate import has_duplicate_pairs
from cfcore.runs.embeddings import EMBEDDINGS_FILE, SET_NAMES, Embeddings, embeddings_from_arrays, implicit_sets
from cfcore.runs.errors import RunError
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
from cfcore.safezip import ZIP_READ_ERRORS, UnsafeZipError, check_nested_zip

RUN_FILES = ("model.keras", "config.json", "result.json", "history.csv", "users.csv", "movies.csv", "ratings.npz",
             EMBEDDINGS_FILE)


RUN_LIMITS = Limits(C.UPLOAD_MAX_FILE_BYTES, C.UPLOAD_MAX_RATING_ROWS, C.UPLOAD_MAX_MOVIE_ROWS)

NPZ_ARRAYS = ("user", "movie", "rating", "val_rows")

KERAS_MEMBERS = {"metadata.json", "config.json", "model.weights.h5"}

MODEL_CLASSES = {"simple_dot": "SimpleDot", "dot_with_bias": "DotWithBias", "simple_embedding": "SimpleEmbedding",
                 "svdpp": "SVDpp", **dict.fromkeys(FACTOR_METHODS, "FactorModel")}


USERS_COLUMNS = ["index", "userId"]

MOVIES_COLUMNS = ["index", "movieId", "title", "genres", "num_ratings", "mean_rating"]

# What a run from before embeddings.npz hears: the server never opens the HDF5 weights it would need.
OLDER_RUN = ("this run was saved by an older version of the app, without the embeddings.npz this server reads (it "
             "never opens a model's HDF5 weights); convert it on your own machine with 'python -m cfcore "
             "upgrade-run OLD.zip --out NEW.zip' and load NEW.zip")


# Room for the HDF5 file's own structure next to the weights themselves.
_H5_OVERHEAD_BYTES = 1024 * 1024

_NESTED_MAX_MEMBERS = 8

# A model's config.json and metadata.json are well under 1 KB; padding them is how a small zip filled a disk.
_KERAS_JSON_MAX_BYTES = 64 * 1024


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
        embeddings = _read_embeddings(folder / EMBEDDINGS_FILE, config, declared, n_users, n_movies, train_pairs)
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


def check_model_file(path: Path, config: TrainConfig, n_users: int, n_movies: int, n_train: int = 0) -> dict:
    """Check ``model.keras`` before Keras opens it: its members, its class, and sizes that fit the run.

    The model's declared users, movies and embedding size must be the run's own (users.csv, movies.csv,
    config.json), and its weights file no bigger than those weights need: an 18 KB zip declaring 40 million
    users took gigabytes before Keras refused it.

    Returns:
        The model's declared settings (its ``config`` object: sizes, rating range, ...).
    """
    where = "model.keras"
    limit = C.RUN_ZIP_MAX_FILE_BYTES["model.keras"]
    try:
        check_nested_zip(path, where, KERAS_MEMBERS, _NESTED_MAX_MEMBERS, limit)
        with zipfile.ZipFile(path) as archive:
            for small in ("config.json", "metadata.json"):
                size = archive.getinfo(small).file_size if small in archive.namelist() else 0
                if size > _KERAS_JSON_MAX_BYTES:
                    raise RunError(f"{where}: its {small} is {size:,} bytes; a model's is under 1 KB")
            info = archive.getinfo("config.json")
            declared = json.loads(archive.read(info).decode("utf-8"))
            weights = archive.getinfo("model.weights.h5").file_size
    except RunError:
        raise
    except UnsafeZipError as err:
        raise RunError(str(err)) from None
    except KeyError:
        raise RunError(f"{where}: missing config.json or model.weights.h5") from None
    except (*ZIP_READ_ERRORS, json.JSONDecodeError) as err:
        raise RunError(f"{where}: unreadable ({type(err).__name__})") from None
    expected = f"cfcore>{MODEL_CLASSES[config.model]}"
    sizes = declared.get("config") if isinstance(declared, dict) else None
    registered = declared.get("registered_name") if isinstance(declared, dict) else None
    if not isinstance(sizes, dict) or registered != expected:
        raise RunError(f"{where}: declares {str(registered)[:60]!r}, not the cfcore {config.model} model that "
                       "config.json names; it was refused unopened")
    wanted = {"n_users": n_users, "n_movies": n_movies, "embedding_dim": config.embedding_dim}
    if config.model == "svdpp":  # its rated sets hold each training rating once from each side
        wanted.update(n_user_links=n_train, n_movie_links=n_train)
    for key, value in wanted.items():
        if sizes.get(key) != value or isinstance(sizes.get(key), bool):
            raise RunError(f"{where}: declares {key}={str(sizes.get(key))[:20]}, but the run has {value:,}")
    if config.model in FACTOR_METHODS and (sizes.get("method") != config.model
                                           or sizes.get("link") != FACTOR_LINKS[config.model]):
        raise RunError(f"{where}: declares the method {str(sizes.get('method'))[:20]!r} with the link "
                       f"{str(sizes.get('link'))[:20]!r}; a {config.model} run's is {FACTOR_LINKS[config.model]!r}")
    parameters = model_parameters(n_users, n_movies, config.embedding_dim, config.model)
    if parameters > C.MAX_MODEL_PARAMETERS:
        raise RunError(f"{where}: {parameters:,} weights, over the limit of {C.MAX_MODEL_PARAMETERS:,}")
    # SVD++'s rated sets: int32 arrays of the training pairs and the row starts, once from each side.
    sets = 4 * (2 * n_train + n_users + n_movies + 2) if config.model == "svdpp" else 0
    # Float32 weights, and room for an optimizer's two slots per weight should a file carry them.
    if weights > 3 * parameters * 4 + sets + _H5_OVERHEAD_BYTES:
        raise RunError(f"{where}: its weights file is {weights:,} bytes, more than {parameters:,} weights need")
    return sizes


# Which arrays an embeddings.npz holds, by the kind of model (cfcore.training.build.embedding_arrays writes them).
_TABLES = ("user", "movie")

_BIASES = ("user_bias", "movie_bias", "global_offset", "min_rating", "max_rating", "link")

_SVDPP = ("rated", "rater", *SET_NAMES)


def embedding_names(model: str) -> tuple[str, ...]:
    """The arrays a run of ``model`` keeps in its embeddings.npz."""
    if model == "svdpp":
        return (*_TABLES, *_BIASES, *_SVDPP)
    return (*_TABLES, *_BIASES) if model == "dot_with_bias" or model in FACTOR_METHODS else _TABLES


def _read_embeddings(path: Path, config: TrainConfig, declared: dict, n_users: int, n_movies: int,
                     train_pairs: np.ndarray | None = None) -> Embeddings:
    """The learned arrays of ``embeddings.npz``, each checked from its header against the run's sizes, then as
    numbers: finite tables, the model's own link and rating range, and (SVD++, given ``train_pairs``, the run's
    training ``(user, movie)`` pairs) rated sets that are exactly the run's training ratings.

    Raises:
        RunError: when an array is missing or not the shape or kind the run needs.
    """
    where = EMBEDDINGS_FILE
    dim, links = config.embedding_dim, 0 if train_pairs is None else len(train_pairs)
    shapes = {"user": (n_users, dim), "movie": (n_movies, dim), "user_bias": (n_users,), "movie_bias": (n_movies,),
              "rated": (n_movies, dim), "rater": (n_users, dim), "global_offset": (), "min_rating": (),
              "max_rating": (), "link": (), "user_splits": (n_users + 1,), "movie_splits": (n_movies + 1,),
              "user_movies": (links,), "movie_users": (links,)}
    kinds = {**dict.fromkeys(SET_NAMES, "iu"), "link": "U"}

    def check(name: str, shape: tuple, dtype: np.dtype) -> None:
        if dtype.kind not in kinds.get(name, "f"):
            raise NpzError(f"{where}: {name} must hold {'integers' if name in SET_NAMES else 'numbers'}, "
                           f"not {dtype}")
        if shape != shapes[name]:
            if name in SET_NAMES:
                raise NpzError(f"{where}: SVD++'s {name} is {shape}, not {shapes[name]} integers")
            raise NpzError(f"{where}: the {name.replace('_', ' ')} table is {shape}, not {shapes[name]}")

    names = embedding_names(config.model)
    try:
        arrays = read_npz(path, where, names, check, C.RUN_ZIP_MAX_FILE_BYTES[where])
    except NpzError as err:
        raise RunError(str(err)) from None
    for name in (*_TABLES, "user_bias", "movie_bias", "rated", "rater", "global_offset"):
        if name in arrays and not np.isfinite(arrays[name]).all():
            raise RunError(f"{where}: the {name.replace('_', ' ')} table holds values that are not finite numbers")
    if "link" in arrays:
        link = FACTOR_LINKS.get(config.model, "sigmoid")
        if str(arrays["link"]) != link:
            raise RunError(f"{where}: the link is {str(arrays['link'])[:20]!r}; a {config.model} run's is {link!r}")
        low, high = float(arrays["min_rating"]), float(arrays["max_rating"])
        if not (math.isfinite(low) and math.isfinite(high) and low < high) or (
                (low, high) != (declared.get("min_rating"), declared.get("max_rating"))):
            raise RunError(f"{where}: the rating range {low:g} to {high:g} is not the model's "
                           f"({str(declared.get('min_rating'))[:20]} to {str(declared.get('max_rating'))[:20]})")
    if config.model == "svdpp":
        _check_sets([arrays[name] for name in SET_NAMES], n_users, n_movies, train_pairs)
    return embeddings_from_arrays(arrays)


def _check_sets(arrays: list[np.ndarray], n_users: int, n_movies: int, train_pairs: np.ndarray | None) -> None:
    """SVD++'s four rated-set arrays: row starts from 0 to the number of links that never fall, members that are
    real movies (users), and (given ``train_pairs``) exactly the sets of the run's training ratings: a file that
    smuggled held-out ratings into them would pass off a leak as a model."""
    where = EMBEDDINGS_FILE
    links = len(arrays[1])
    for splits, members, other in ((arrays[0], arrays[1], n_movies), (arrays[2], arrays[3], n_users)):
        if splits[0] != 0 or splits[-1] != links or (np.diff(splits) < 0).any() or (
                len(members) and (members.min() < 0 or members.max() >= other)):
            raise RunError(f"{where}: SVD++'s rated sets do not fit the run's users and movies")
    if train_pairs is not None:
        expected = implicit_sets(train_pairs, n_users, n_movies)
        if not all(np.array_equal(mine, theirs) for mine, theirs in zip(arrays, expected, strict=True)):
            raise RunError(f"{where}: SVD++'s rated sets are not the run's training ratings")


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
