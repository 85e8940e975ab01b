"""The files of a run folder, read and checked against their schema without Keras.

A run folder (written by :func:`cfcore.training.save_run`, or extracted from a
stranger's run zip) holds seven files. Before anything uses them, and before
Keras opens the model, every file is checked here: JSON against its schema,
CSVs for their exact columns and sizes, the ratings arrays from their ``.npy``
headers before NumPy allocates them, and the model's declared sizes against the
run's own users and movies. A run's dataset obeys the same limits as an upload.
No TensorFlow import here.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from cfcore import constants as C
from cfcore.config import FACTOR_METHODS, RUN_KINDS, ConfigError, TrainConfig, model_parameters
from cfcore.data import DataError, Limits, check_csv_shape, has_duplicate_pairs
from cfcore.safezip import ZIP_READ_ERRORS, UnsafeZipError, check_nested_zip

RUN_FILES = ("model.keras", "config.json", "result.json", "history.csv", "users.csv", "movies.csv", "ratings.npz")
RUN_LIMITS = Limits(C.UPLOAD_MAX_FILE_BYTES, C.UPLOAD_MAX_RATING_ROWS, C.UPLOAD_MAX_MOVIE_ROWS)
NPZ_ARRAYS = ("user", "movie", "rating", "val_rows")
KERAS_MEMBERS = {"metadata.json", "config.json", "model.weights.h5"}
MODEL_CLASSES = {"simple_dot": "SimpleDot", "dot_with_bias": "DotWithBias", "simple_embedding": "SimpleEmbedding",
                 "svdpp": "SVDpp", **dict.fromkeys(FACTOR_METHODS, "FactorModel")}
# The link each factors method's model uses (cfcore.factors); a run's model must declare its method's.
FACTOR_LINKS = {"svd": "identity", "autorec": "sigmoid", "implicit": "logistic"}
USERS_COLUMNS = ["index", "userId"]
MOVIES_COLUMNS = ["index", "movieId", "title", "genres", "num_ratings", "mean_rating"]
HISTORY_NUMBERS = ("loss", "val_loss", "train_rmse", "val_rmse", "seconds")
# Longest text kept from a run's own JSON (a name, a dataset's source).
MAX_TEXT_CHARS = 200
# Room for the HDF5 file's own structure next to the weights themselves.
_H5_OVERHEAD_BYTES = 1024 * 1024
_NESTED_MAX_MEMBERS = 8


class RunError(ValueError):
    """A run directory is missing, incomplete, unreadable or breaks the run schema; the message says why."""


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
    weights: dict = field(repr=False, default_factory=dict)


def read_run_files(directory: str | Path, limits: Limits = RUN_LIMITS) -> RunFiles:
    """Check every file of a run folder and return what they hold.

    Args:
        directory: The run folder.
        limits: Size limits for the run's dataset (those of an upload by default).

    Returns:
        The checked :class:`RunFiles`; the model file is checked but not loaded.

    Raises:
        RunError: naming the file and what is wrong with it.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise RunError(f"run directory not found: {folder}")
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise RunError(f"{folder} is not a cfcore run directory (missing {', '.join(missing)})")
    for name, limit in C.RUN_ZIP_MAX_FILE_BYTES.items():
        size = (folder / name).stat().st_size
        if size > limit:
            raise RunError(f"{name}: {size:,} bytes, over the limit of {limit:,}")
    config = _read_config(folder / "config.json")
    info = _read_json(folder / "result.json")
    history = _check_history(info.get("history"), config)
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
    weights = read_weights(folder / "model.keras", config, declared, n_users, n_movies, train_pairs)
    # The counts shown next to titles come from the ratings themselves, not from what the file claims.
    counts = np.bincount(movie, minlength=n_movies)
    sums = np.bincount(movie, weights=rating.astype(np.float64), minlength=n_movies)
    movies["num_ratings"] = counts.astype(np.int64)
    movies["mean_rating"] = np.divide(sums, counts, out=np.full(n_movies, np.nan), where=counts > 0)
    best_epoch = _integer(info.get("best_epoch", 0), "result.json: best_epoch", 0, len(history))
    best_val_rmse = _rmse(info.get("best_val_rmse", math.nan), "result.json: best_val_rmse")
    if best_epoch and not math.isclose(best_val_rmse, history[best_epoch - 1]["val_rmse"], rel_tol=1e-9):
        raise RunError(f"result.json: best_val_rmse {best_val_rmse:g} is not the val_rmse of epoch {best_epoch}")
    dataset_info = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    return RunFiles(
        config=config,
        history=history,
        best_epoch=best_epoch,
        best_val_rmse=best_val_rmse,
        train_seconds=max(0.0, _number(info.get("train_seconds", 0.0), "result.json: train_seconds")),
        stopped_by_user=_boolean(info.get("stopped_by_user", False), "result.json: stopped_by_user"),
        stopped_early=_boolean(info.get("stopped_early", False), "result.json: stopped_early"),
        name=_text(info.get("name") or config.model, "result.json: name"),
        source=_text(dataset_info.get("source", "run"), "result.json: dataset.source"),
        index_to_user=index_to_user,
        movies=movies,
        user=user,
        movie=movie,
        rating=rating,
        val_rows=val_rows,
        weights=weights,
    )


# -- JSON files ---------------------------------------------------------------------


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise RunError(f"{path.name}: not valid JSON ({type(err).__name__})") from None
    if not isinstance(value, dict):
        raise RunError(f"{path.name}: expected a JSON object, not {type(value).__name__}")
    return value


def _read_config(path: Path) -> TrainConfig:
    values = _read_json(path)
    if values.get("model") not in RUN_KINDS:
        shown = str(values.get("model"))[:40]
        raise RunError(f"config.json: unknown model {shown!r}; a run holds one of {', '.join(RUN_KINDS)}")
    try:
        return TrainConfig.from_dict(values).validate()
    except (ConfigError, TypeError) as err:
        raise RunError(f"config.json: {err}") from None


def _check_history(rows: object, config: TrainConfig) -> list[dict]:
    if not isinstance(rows, list) or not rows:
        raise RunError("result.json: history must be a list with one entry per epoch run (found none)")
    if len(rows) > config.epochs:
        raise RunError(f"result.json: history has {len(rows)} epochs, more than the run's {config.epochs}")
    history = []
    for number, row in enumerate(rows, start=1):
        where = f"result.json: history entry {number}"
        if not isinstance(row, dict):
            raise RunError(f"{where} is not an object")
        if _integer(row.get("epoch"), f"{where}: epoch", 1, config.epochs) != number:
            raise RunError(f"{where}: epoch must be {number}")
        clean = {"epoch": number}
        for key in HISTORY_NUMBERS:
            clean[key] = _number(row.get(key, math.nan), f"{where}: {key}", allow_nan=True)
        clean["complete"] = _boolean(row.get("complete", True), f"{where}: complete")
        history.append(clean)
    return history


def _number(value: object, where: str, *, allow_nan: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RunError(f"{where} must be a number. Received: {str(value)[:40]!r}")
    number = float(value)
    if math.isinf(number) or (math.isnan(number) and not allow_nan):
        raise RunError(f"{where} must be a finite number. Received: {number}")
    return number


def _rmse(value: object, where: str) -> float:
    number = _number(value, where, allow_nan=True)
    if number < 0:
        raise RunError(f"{where} must not be negative. Received: {number}")
    return number


def _integer(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RunError(f"{where} must be a whole number from {low} to {high}. Received: {str(value)[:40]!r}")
    return int(value)


def _boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise RunError(f"{where} must be true or false. Received: {str(value)[:40]!r}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise RunError(f"{where} must be text. Received: {type(value).__name__}")
    return value.strip()[:MAX_TEXT_CHARS] or "run"


# -- CSV files ----------------------------------------------------------------------


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


# -- the ratings arrays -------------------------------------------------------------


def _read_ratings(path: Path, limits: Limits) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four arrays of ratings.npz, each checked from its header before NumPy allocates it."""
    where = "ratings.npz"
    allowed = {f"{key}.npy" for key in NPZ_ARRAYS}
    try:
        check_nested_zip(path, where, allowed, _NESTED_MAX_MEMBERS, C.RUN_ZIP_MAX_FILE_BYTES["ratings.npz"])
        arrays: dict[str, np.ndarray] = {}
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as fh:
                    _check_npy_header(fh, info, where, limits.max_rating_rows)
                with archive.open(info) as fh:
                    arrays[info.filename[:-4]] = np.lib.format.read_array(fh, allow_pickle=False)
    except RunError:
        raise
    except UnsafeZipError as err:
        raise RunError(str(err)) from None
    except ZIP_READ_ERRORS as err:
        raise RunError(f"{where}: unreadable ({type(err).__name__}: {str(err)[:120]})") from None
    missing = [key for key in NPZ_ARRAYS if key not in arrays]
    if missing:
        raise RunError(f"{where}: missing array(s) {', '.join(missing)}")
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


def _check_npy_header(fh: BinaryIO, info: zipfile.ZipInfo, where: str, max_rows: int) -> None:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise RunError(f"{where}: {info.filename} has unsupported .npy version {version}")
    except RunError:
        raise
    except ZIP_READ_ERRORS as err:
        raise RunError(f"{where}: {info.filename} is not a .npy array ({str(err)[:120]})") from None
    if dtype.hasobject or len(shape) != 1 or dtype.itemsize > 8:
        raise RunError(f"{where}: {info.filename} must be a 1-D numeric array")
    if shape[0] > max_rows:
        raise RunError(f"{where}: {info.filename} declares {shape[0]:,} ratings, over the limit of {max_rows:,}")
    if shape[0] * dtype.itemsize > info.file_size:
        raise RunError(f"{where}: {info.filename} claims more data than it holds")


# -- the model ----------------------------------------------------------------------


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
            info = archive.getinfo("config.json")
            if info.file_size > 64 * 1024:
                raise RunError(f"{where}: its config.json is {info.file_size:,} bytes; a model's is under 1 KB")
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


# Where Keras 3 keeps each table in ``model.weights.h5``: layers are named by class in the order the model
# creates them (cfcore.models), so the user table is always the first embedding. Checked by
# tests/test_runs.py against the live model for every model class.
_WEIGHT_PATHS = {
    "simple_dot": {"user": "layers/embedding/vars/0", "movie": "layers/embedding_1/vars/0"},
    "simple_embedding": {"user": "layers/gather_embedding/vars/0", "movie": "layers/gather_embedding_1/vars/0"},
    "dot_with_bias": {"user": "layers/embedding/vars/0", "movie": "layers/embedding_1/vars/0",
                      "user_bias": "layers/embedding_2/vars/0", "movie_bias": "layers/embedding_3/vars/0"},
}
_WEIGHT_PATHS.update(dict.fromkeys(FACTOR_METHODS, _WEIGHT_PATHS["dot_with_bias"]))
_WEIGHT_PATHS["svdpp"] = {**_WEIGHT_PATHS["dot_with_bias"], "rated": "layers/embedding_4/vars/0",
                          "rater": "layers/embedding_5/vars/0"}
# SVD++'s rated sets, in the order the model adds them, after the global offset (when it has one).
_SET_NAMES = ("user_splits", "user_movies", "movie_splits", "movie_users")


def read_weights(path: Path, config: TrainConfig, declared: dict, n_users: int, n_movies: int,
                 train_pairs: np.ndarray | None = None) -> dict:
    """The learned tables of a checked ``model.keras``, read with h5py (no Keras): keyword arguments for
    :class:`cfcore.runs.Embeddings`. ``train_pairs`` (SVD++): the run's training ``(user, movie)`` pairs, which
    its rated sets must be exactly.

    Raises:
        RunError: when a table is missing or not the shape the run needs.
    """
    import h5py  # Keras's own HDF5 reader; light next to TensorFlow

    where = "model.keras"
    rows = {"user": n_users, "movie": n_movies, "user_bias": n_users, "movie_bias": n_movies, "rated": n_movies,
            "rater": n_users}
    width = {"user": config.embedding_dim, "movie": config.embedding_dim, "user_bias": 1, "movie_bias": 1,
             "rated": config.embedding_dim, "rater": config.embedding_dim}
    out: dict = {}
    try:
        with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
            for key, inner in _WEIGHT_PATHS[config.model].items():
                table = h5.get(inner)
                if not isinstance(table, h5py.Dataset) or table.shape != (rows[key], width[key]):
                    shape = getattr(table, "shape", None)
                    raise RunError(f"{where}: the {key.replace('_', ' ')} table is {shape}, "
                                   f"not ({rows[key]}, {width[key]})")
                out[key] = np.asarray(table[()], dtype=np.float32)
            if "user_bias" in out:
                for key in ("user_bias", "movie_bias"):
                    out[key] = out[key][:, 0]
                offset = h5.get("vars/0")
                if declared.get("global_bias") and isinstance(offset, h5py.Dataset) and offset.shape == (1,):
                    out["global_offset"] = float(offset[0])
                out["min_rating"] = _number(declared.get("min_rating"), f"{where}: min_rating")
                out["max_rating"] = _number(declared.get("max_rating"), f"{where}: max_rating")
                if config.model in FACTOR_METHODS:
                    out["link"] = FACTOR_LINKS[config.model]
            if config.model == "svdpp":
                first = 1 if declared.get("global_bias") else 0
                sets = _read_sets(h5, first, n_users, n_movies, int(declared["n_user_links"]), train_pairs)
                from cfcore.runs import svdpp_embeddings

                whole = svdpp_embeddings(out.pop("user"), out.pop("movie"), out.pop("rated"), out.pop("rater"), sets,
                                         **out)
                out = vars(whole)
    except RunError:
        raise
    except (*ZIP_READ_ERRORS, OSError, KeyError, ValueError, TypeError) as err:
        raise RunError(f"{where}: could not read the weights ({type(err).__name__})") from None
    return out


def _read_sets(h5, first: int, n_users: int, n_movies: int, links: int,
               train_pairs: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """SVD++'s four rated-set arrays from ``vars/<first>`` on, each checked: row starts from 0 to ``links``
    that never fall, members that are real movies (users), and (given ``train_pairs``) exactly the sets of the
    run's training ratings: a file that smuggled held-out ratings into them would pass off a leak as a model."""
    import h5py

    from cfcore.runs import implicit_sets

    where = "model.keras"
    sizes = (n_users + 1, links, n_movies + 1, links)
    arrays = []
    for k, (name, size) in enumerate(zip(_SET_NAMES, sizes, strict=True)):
        table = h5.get(f"vars/{first + k}")
        if not isinstance(table, h5py.Dataset) or table.shape != (size,) or table.dtype.kind not in "iu":
            raise RunError(f"{where}: SVD++'s {name} is {getattr(table, 'shape', None)}, not ({size},) integers")
        arrays.append(np.asarray(table[()], dtype=np.int64))
    for splits, members, other in ((arrays[0], arrays[1], n_movies), (arrays[2], arrays[3], n_users)):
        if splits[0] != 0 or splits[-1] != links or (np.diff(splits) < 0).any() or (
                len(members) and (members.min() < 0 or members.max() >= other)):
            raise RunError(f"{where}: SVD++'s rated sets do not fit the run's users and movies")
    if train_pairs is not None:
        expected = implicit_sets(train_pairs, n_users, n_movies)
        if not all(np.array_equal(mine, theirs) for mine, theirs in zip(arrays, expected, strict=True)):
            raise RunError(f"{where}: SVD++'s rated sets are not the run's training ratings")
    return tuple(arrays)
