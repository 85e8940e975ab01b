"""MovieLens-format data: finding, downloading, validating, indexing and splitting it.

Nothing here imports TensorFlow: the app's Data page must stay light. Downloading the
built-in dataset is :mod:`cfcore.download`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from cfcore import constants as C
from cfcore import settings


class DataError(ValueError):
    """Raised for any data problem a user can fix; the message says what and where."""


@dataclass(frozen=True)
class Limits:
    """Size limits applied while loading a ratings/movies pair."""

    max_file_bytes: int = C.MAX_FILE_BYTES
    max_rating_rows: int = C.MAX_RATING_ROWS
    max_movie_rows: int = C.MAX_MOVIE_ROWS


def upload_limits() -> Limits:
    """The limits on what a visitor uploads: ``CFCORE_UPLOAD_MAX_MB`` and ``CFCORE_UPLOAD_MAX_ROWS`` (by default
    the values of ``CFCORE_PROFILE``; see :mod:`cfcore.settings`)."""
    return Limits(settings.upload_max_mb() * 2**20, settings.upload_max_rows(), C.UPLOAD_MAX_MOVIE_ROWS)


Source = str | os.PathLike | bytes | BinaryIO
_MAX_ID = 2**31 - 1


# ---------------------------------------------------------------------------
# Reading and validating the two CSV files
# ---------------------------------------------------------------------------


def _read_bytes(source: Source, name: str, limits: Limits) -> bytes:
    if isinstance(source, bytes):
        raw = source
    elif hasattr(source, "read"):
        raw = source.read(limits.max_file_bytes + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{name}: file not found: {path}")
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise DataError(
                f"{name}: file is {size:,} bytes, over the limit of {limits.max_file_bytes:,} bytes"
            )
        raw = path.read_bytes()
    if len(raw) > limits.max_file_bytes:
        raise DataError(f"{name}: file is over the limit of {limits.max_file_bytes:,} bytes")
    return raw


def _decode(raw: bytes, name: str, encoding: str = "utf-8") -> str:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{name}: line {line} is not valid {encoding.upper()} text "
            f"(byte 0x{raw[err.start]:02x} at offset {err.start}); save the file as UTF-8"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DataError(f"{name}: line {line} contains a NUL byte; this is not a text CSV file")
    if not text.strip():
        raise DataError(f"{name}: the file is empty")
    return text.lstrip("\ufeff")


def check_csv_shape(raw: bytes, name: str, sep: bytes = b",") -> None:
    """Refuse a file with too many header columns or an overlong line before any parser sees it.

    A parser allocates per column and per field: a 7.9 MB file with a million header columns took minutes
    and gigabytes. Counting separators over-counts quoted ones, which only makes the check stricter.
    """
    first_end = raw.find(b"\n")
    header = raw[: first_end if first_end >= 0 else len(raw)]
    columns = header.count(sep) + 1
    if columns > C.MAX_CSV_COLUMNS:
        raise DataError(f"{name}: line 1 (header) has {columns:,} columns; at most {C.MAX_CSV_COLUMNS} are allowed")
    ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    lengths = np.diff(np.concatenate(([-1], ends, [len(raw)])))
    longest = int(lengths.argmax())
    if lengths[longest] - 1 > C.MAX_CSV_LINE_BYTES:
        raise DataError(
            f"{name}: line {longest + 1} is {int(lengths[longest]) - 1:,} bytes long, over the limit of "
            f"{C.MAX_CSV_LINE_BYTES:,} bytes per line"
        )


def _data_lines(raw: bytes) -> np.ndarray:
    """File line numbers (1-based) of the lines that hold anything but ASCII whitespace, as pandas reads them.

    Works on line-end positions: a list of every line of a 50 MB file cost about 200 MB, and byte-wide masks
    of the whole file another 50 MB each.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    if not len(data):
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(data == 10)
    returns = np.flatnonzero(data == 13)
    if len(returns):  # a carriage return ends a line too, unless a newline follows it ("\r\n" is one ending)
        after = returns + 1
        lone = returns[(after >= len(data)) | (data[np.minimum(after, len(data) - 1)] != 10)]
        ends = np.union1d(ends, lone)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    keep = starts < len(data)
    starts, stops = starts[keep], stops[keep]
    blank = starts == stops
    # Lines that start with whitespace are rare; only those are looked at one by one.
    maybe = np.flatnonzero(~blank & np.isin(data[np.minimum(starts, len(data) - 1)], _WHITESPACE))
    for line in maybe:
        blank[line] = not raw[starts[line]:stops[line]].strip()
    return np.flatnonzero(~blank).astype(np.int64) + 1


_WHITESPACE = np.frombuffer(b" \t\r\n\x0b\x0c", dtype=np.uint8)


def _parse_dat(text: str, names: list[str]) -> pd.DataFrame:
    rows = [line.split("::") for line in text.splitlines() if line.strip()]
    frame = pd.DataFrame(rows, columns=names) if rows else pd.DataFrame(columns=names)
    frame.attrs["lines"] = np.asarray(
        [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()], dtype=np.int64)
    return frame


def _read_csv_validated(raw: bytes, name: str, validate, max_rows: int, what: str,
                        chunk_rows: int | None = None) -> pd.DataFrame:
    """Parse a CSV file ``chunk_rows`` rows at a time, validating each chunk of strings as it comes.

    Args:
        raw: The file's bytes (already checked by :func:`_decode` and :func:`check_csv_shape`).
        name: File name used in error messages.
        validate: ``validate(frame_of_strings, name) -> typed frame`` (a chunk's ``attrs["lines"]`` holds
            each row's file line when the rows and lines correspond).
        max_rows: Most data rows accepted; parsing stops as soon as there are more.
        what: What a row is, for the row-limit message ("ratings").
        chunk_rows: Rows parsed as strings at once (default ``CSV_CHUNK_ROWS``); bounds the parser's memory
            (a 49 MB file read whole as strings peaked at 600 MB over the file's own size).

    Returns:
        The typed chunks concatenated, with ``attrs["lines"]`` when known.
    """
    lines = _data_lines(raw)
    parts: list[pd.DataFrame] = []
    header: list[str] | None = None
    offset = 0
    try:
        # header=None: a row with more fields than the header is an error instead of
        # pandas silently turning the first column into the index.
        reader = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, header=None,
                             encoding="utf-8-sig", chunksize=chunk_rows or C.CSV_CHUNK_ROWS)
        with reader:
            for chunk in reader:
                if header is None:
                    header = [str(col).strip() for col in chunk.iloc[0]]
                    _check_header(header, name)
                    chunk = chunk.iloc[1:]
                chunk = chunk.reset_index(drop=True)
                chunk.columns = header
                if chunk.empty:
                    continue
                if offset + len(chunk) > max_rows:
                    raise DataError(f"{name}: more than {max_rows:,} rows, over the limit of {max_rows:,} {what}")
                chunk.attrs["row_offset"] = offset
                # Quoted multi-line fields break the row/line correspondence; then errors say row + 2.
                if len(lines) >= offset + 1 + len(chunk):
                    chunk.attrs["lines"] = lines[offset + 1: offset + 1 + len(chunk)]
                parts.append(validate(chunk, name))
                offset += len(chunk)
    except (pd.errors.ParserError, ValueError, AssertionError) as err:
        if isinstance(err, DataError):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{name}: not a readable CSV file ({first})") from None
    if not parts:
        raise DataError(f"{name}: the file has a header but no data rows")
    typed = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    typed.attrs.pop("row_offset", None)
    if len(lines) == offset + 1:
        typed.attrs["lines"] = lines[1:]
    else:
        typed.attrs.pop("lines", None)
    return typed


def _check_header(header: list[str], name: str) -> None:
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise DataError(f"{name}: line 1: column {column!r} appears more than once in the header")
        seen.add(column)


def _require_columns(frame: pd.DataFrame, required: tuple[str, ...], name: str) -> None:
    missing = [col for col in required if col not in frame.columns]
    if missing:
        found = ", ".join(repr(c) for c in frame.columns[:10])
        raise DataError(
            f"{name}: line 1 (header): missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"expected {', '.join(required)} (found: {found})"
        )


def _line_of(frame: pd.DataFrame, position: int) -> int:
    """File line number of a data row (the header is line 1; blank lines count)."""
    lines = frame.attrs.get("lines")
    if lines is not None and len(lines) == len(frame):
        return int(lines[position])
    return int(position) + 2 + int(frame.attrs.get("row_offset", 0))


def _int_column(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    text = frame[column].astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce")
    as_float = values.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(as_float) | (as_float != np.floor(as_float))
    bad |= (as_float < 0) | (as_float > _MAX_ID)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        shown = text.iloc[pos] or "(empty)"
        raise DataError(
            f"{name}: column '{column}' line {_line_of(frame, pos)}: {shown[:40]!r} is not a valid id "
            f"(ids are whole numbers from 0 to {_MAX_ID})"
        )
    return as_float.astype(np.int64)


def validate_ratings(frame: pd.DataFrame, name: str = C.RATINGS_FILE) -> pd.DataFrame:
    """Check a raw ratings table and return it typed.

    Duplicate (userId, movieId) pairs are rejected: a user rates a movie once,
    and silently keeping one of two ratings would change the data behind the
    learner's back.

    Args:
        frame: Raw table with string cells and at least userId, movieId, rating.
        name: File name used in error messages.

    Returns:
        A frame with int64 ``userId``/``movieId``, float32 ``rating`` (and
        ``timestamp`` when present), in file order.
    """
    typed = _typed_ratings(frame, name)
    _reject_duplicate_ratings(typed, name)
    return typed


def _typed_ratings(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """:func:`validate_ratings` without the duplicate check, which needs the whole file."""
    _require_columns(frame, C.RATINGS_COLUMNS, name)
    users = _int_column(frame, "userId", name)
    movies = _int_column(frame, "movieId", name)
    text = frame["rating"].astype(str).str.strip()
    ratings = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(ratings)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        shown = text.iloc[pos] or "(empty)"
        raise DataError(
            f"{name}: column 'rating' line {_line_of(frame, pos)}: {shown[:40]!r} is not a number"
        )
    out_of_range = (ratings < C.SANE_RATING_MIN) | (ratings > C.SANE_RATING_MAX)
    if out_of_range.any():
        pos = int(np.flatnonzero(out_of_range)[0])
        raise DataError(
            f"{name}: column 'rating' line {_line_of(frame, pos)}: {ratings[pos]:g} is outside the "
            f"allowed range {C.SANE_RATING_MIN:g} to {C.SANE_RATING_MAX:g}"
        )
    typed = pd.DataFrame({"userId": users, "movieId": movies, "rating": ratings.astype(np.float32)})
    if "timestamp" in frame.columns:
        stamps = pd.to_numeric(frame["timestamp"].astype(str).str.strip(), errors="coerce")
        typed["timestamp"] = stamps.fillna(0).clip(lower=0, upper=2**62).astype(np.int64).to_numpy()
    typed.attrs.update(frame.attrs)
    return typed


def has_duplicate_pairs(users: np.ndarray, movies: np.ndarray) -> bool:
    """Whether any (user, movie) pair repeats: one sorted int64 key per rating (ids are below 2**31).

    pandas' ``duplicated`` on two columns peaked at 80 MB over the data for 1.6 million ratings; this at 13.
    """
    keys = np.sort(users.astype(np.int64) << 31 | movies.astype(np.int64))
    return bool(len(keys) > 1 and (keys[1:] == keys[:-1]).any())


def _reject_duplicate_ratings(typed: pd.DataFrame, name: str) -> None:
    users, movies = typed["userId"].to_numpy(), typed["movieId"].to_numpy()
    if has_duplicate_pairs(users, movies):
        dup = typed.duplicated(["userId", "movieId"], keep="first").to_numpy()
        pos = int(np.flatnonzero(dup)[0])
        user, movie = int(users[pos]), int(movies[pos])
        first = int(np.flatnonzero((users == user) & (movies == movie))[0])
        raise DataError(
            f"{name}: line {_line_of(typed, pos)}: user {user} rated movie {movie} twice "
            f"(first on line {_line_of(typed, first)}); keep one rating per user and movie"
        )


def validate_movies(frame: pd.DataFrame, name: str = C.MOVIES_FILE) -> pd.DataFrame:
    """Check a raw movies table and return it typed (movieId, title, genres)."""
    typed = _typed_movies(frame, name)
    _reject_duplicate_movies(typed, name)
    typed.attrs.clear()  # line numbers are for messages; pandas compares attrs when joining frames
    return typed


def _typed_movies(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    _require_columns(frame, C.MOVIES_COLUMNS, name)
    ids = _int_column(frame, "movieId", name)
    titles = frame["title"].astype(str).str.strip()
    empty = (titles == "").to_numpy()
    if empty.any():
        pos = int(np.flatnonzero(empty)[0])
        raise DataError(f"{name}: column 'title' line {_line_of(frame, pos)}: the title is empty")
    genres = frame["genres"].astype(str).str.strip().replace("", "(no genres listed)")
    typed = pd.DataFrame({"movieId": ids, "title": titles.to_numpy(), "genres": genres.to_numpy()})
    typed.attrs.update(frame.attrs)
    return typed


def _reject_duplicate_movies(typed: pd.DataFrame, name: str) -> None:
    dup = typed["movieId"].duplicated().to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"{name}: line {_line_of(typed, pos)}: movieId {int(typed['movieId'].iloc[pos])} appears more than once"
        )


_CLEAN_DTYPES = {"userId": np.int64, "movieId": np.int64, "rating": np.float64, "timestamp": np.int64}


def _read_clean_ratings_csv(raw: bytes, limits: Limits) -> pd.DataFrame | None:
    """The typed ratings of a clean file in one vectorised pass, or None to take the careful path.

    Clean: exactly the MovieLens header (with or without ``timestamp``; a UTF-8
    BOM is dropped, as the careful path does), one rating per line with no blank
    lines, whole-number ids (``1.0`` reads as 1 in both paths) and timestamps, and
    every value within the limits that :func:`validate_ratings` checks. Anything
    else (a stray space in the header, ``1.5`` as an id, a duplicate) is left to the
    careful path, which accepts what it can and names the line of what it cannot.
    The result equals ``validate_ratings`` of the same file (tested).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' cast warnings for junk: the careful path reports it
            frame = pd.read_csv(io.BytesIO(raw), dtype=_CLEAN_DTYPES, engine="c", float_precision="round_trip")
    except Exception:  # any oddity at all: the careful path reports it properly
        return None
    if not isinstance(frame.index, pd.RangeIndex):
        return None  # a row with more fields than the header made pandas use the first column as the index
    columns = list(frame.columns)
    if columns not in (list(C.RATINGS_COLUMNS), [*C.RATINGS_COLUMNS, "timestamp"]) or frame.empty:
        return None
    if len(frame) > limits.max_rating_rows or raw.count(b"\n") + (not raw.endswith(b"\n")) != len(frame) + 1:
        return None  # over the limit, or blank/multi-line rows that would shift the line numbers
    users, movies = frame["userId"].to_numpy(), frame["movieId"].to_numpy()
    ratings = frame["rating"].to_numpy()
    ids_ok = users.min() >= 0 and movies.min() >= 0 and users.max() <= _MAX_ID and movies.max() <= _MAX_ID
    ratings_ok = (np.isfinite(ratings).all() and ratings.min() >= C.SANE_RATING_MIN
                  and ratings.max() <= C.SANE_RATING_MAX)
    if not (ids_ok and ratings_ok) or has_duplicate_pairs(users, movies):
        return None
    typed = pd.DataFrame({"userId": users, "movieId": movies, "rating": ratings.astype(np.float32)})
    if "timestamp" in frame.columns:
        typed["timestamp"] = frame["timestamp"].clip(lower=0, upper=2**62).to_numpy()
    typed.attrs["lines"] = np.arange(2, len(typed) + 2, dtype=np.int64)
    return typed


def read_ratings(
    source: Source, name: str = C.RATINGS_FILE, limits: Limits = Limits()
) -> pd.DataFrame:
    """Read and validate a ratings file (CSV, or ``::``-separated ``ratings.dat``)."""
    raw = _read_bytes(source, name, limits)
    dat = name.endswith(".dat")
    check_csv_shape(raw, name, b"::" if dat else b",")
    if not dat and (clean := _read_clean_ratings_csv(raw, limits)) is not None:
        return clean
    return _read_ratings_carefully(raw, name, limits)


def _read_ratings_carefully(raw: bytes, name: str, limits: Limits) -> pd.DataFrame:
    """Parse every cell as text, then validate: slower, but accepts what it can and names bad lines."""
    if name.endswith(".dat"):
        frame = _parse_dat(_decode(raw, name, "latin-1"), ["userId", "movieId", "rating", "timestamp"])
        if len(frame) > limits.max_rating_rows:
            raise DataError(f"{name}: {len(frame):,} rows, over the limit of {limits.max_rating_rows:,} ratings")
        return validate_ratings(frame, name)
    _decode(raw, name)  # readable UTF-8 text, or an error naming the line
    typed = _read_csv_validated(raw, name, _typed_ratings, limits.max_rating_rows, "ratings")
    _reject_duplicate_ratings(typed, name)
    return typed


def read_movies(source: Source, name: str = C.MOVIES_FILE, limits: Limits = Limits()) -> pd.DataFrame:
    """Read and validate a movies file (CSV, or ``::``-separated ``movies.dat``)."""
    raw = _read_bytes(source, name, limits)
    dat = name.endswith(".dat")
    check_csv_shape(raw, name, b"::" if dat else b",")
    if dat:
        frame = _parse_dat(_decode(raw, name, "latin-1"), ["movieId", "title", "genres"])
        if len(frame) > limits.max_movie_rows:
            raise DataError(f"{name}: {len(frame):,} rows, over the limit of {limits.max_movie_rows:,} movies")
        return validate_movies(frame, name)
    _decode(raw, name)
    typed = _read_csv_validated(raw, name, _typed_movies, limits.max_movie_rows, "movies")
    _reject_duplicate_movies(typed, name)
    typed.attrs.clear()
    return typed


# ---------------------------------------------------------------------------
# The indexed dataset
# ---------------------------------------------------------------------------


@dataclass
class Dataset:
    """Validated ratings with dense 0-based user and movie indices.

    Attributes:
        ratings: One row per rating: userId, movieId, rating[, timestamp], and
            the dense indices ``user`` and ``movie`` (int32).
        movies: movieId, title, genres for every rated movie, ordered by movie
            index, plus ``num_ratings`` and ``mean_rating``.
        index_to_user: ``index_to_user[i]`` is the userId of user index i.
        index_to_movie: ``index_to_movie[j]`` is the movieId of movie index j.
        source: Where the data came from, for display.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame
    index_to_user: np.ndarray
    index_to_movie: np.ndarray
    source: str = ""
    _fingerprint: str = field(default="", repr=False)

    @cached_property
    def user_to_index(self) -> dict[int, int]:
        return {int(u): i for i, u in enumerate(self.index_to_user)}

    @cached_property
    def movie_to_index(self) -> dict[int, int]:
        return {int(m): j for j, m in enumerate(self.index_to_movie)}

    @cached_property
    def _movie_ids(self) -> pd.Index:
        # A pandas Index, not movie_to_index's dict: an upload's 200,000 movies made that dict 21 MB, for a page
        # that looks up a few thousand titles.
        return pd.Index(self.index_to_movie)

    def movie_title(self, movie_id) -> str | None:
        """The title of ``movie_id``, or None for a movie not in this dataset."""
        index = int(self._movie_ids.get_indexer([int(movie_id)])[0])
        return None if index < 0 else str(self.movies["title"].iat[index])

    @property
    def n_users(self) -> int:
        return len(self.index_to_user)

    @property
    def n_movies(self) -> int:
        return len(self.index_to_movie)

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    @property
    def min_rating(self) -> float:
        return float(self.ratings["rating"].min())

    @property
    def max_rating(self) -> float:
        return float(self.ratings["rating"].max())

    @property
    def sparsity(self) -> float:
        """Fraction of the user x movie matrix that has no rating."""
        return 1.0 - self.n_ratings / float(self.n_users * self.n_movies)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the content a learner sees: the (userId, movieId, rating) triples and every movie's
        id, title and genres.

        Caches shared across sessions are keyed by it, so two datasets with the same ratings but other
        titles (an upload that copies the built-in ratings) must never share a fingerprint.
        """
        if not self._fingerprint:
            digest = hashlib.sha256()
            for column in ("userId", "movieId"):
                digest.update(np.ascontiguousarray(self.ratings[column].to_numpy(dtype=np.int64)).tobytes())
            digest.update(np.ascontiguousarray(self.ratings["rating"].to_numpy(dtype=np.float32)).tobytes())
            digest.update(np.ascontiguousarray(self.movies["movieId"].to_numpy(dtype=np.int64)).tobytes())
            for column in ("title", "genres"):
                # Length-prefixed, so no choice of separators inside titles can make two tables collide.
                for text in self.movies[column].astype(str):
                    encoded = text.encode("utf-8", "surrogatepass")
                    digest.update(len(encoded).to_bytes(8, "little") + encoded)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def summary(self) -> dict[str, float | int | str]:
        return {
            "source": self.source,
            "n_users": self.n_users,
            "n_movies": self.n_movies,
            "n_ratings": self.n_ratings,
            "sparsity": self.sparsity,
            "min_rating": self.min_rating,
            "max_rating": self.max_rating,
        }


def build_dataset(ratings: pd.DataFrame, movies: pd.DataFrame, source: str = "") -> Dataset:
    """Index validated ratings and join movie titles onto them.

    Args:
        ratings: Output of :func:`validate_ratings`.
        movies: Output of :func:`validate_movies`.
        source: Description of where the data came from.

    Returns:
        A :class:`Dataset`; only movies with at least one rating get an index.

    Raises:
        DataError: if a rating refers to a movie missing from ``movies``.
    """
    known = np.isin(ratings["movieId"].to_numpy(), movies["movieId"].to_numpy())
    if not known.all():
        pos = int(np.flatnonzero(~known)[0])
        raise DataError(
            f"{C.RATINGS_FILE}: column 'movieId' line {_line_of(ratings, pos)}: movieId "
            f"{int(ratings['movieId'].iloc[pos])} is not in {C.MOVIES_FILE}"
        )
    index_to_user, user_index = np.unique(ratings["userId"].to_numpy(), return_inverse=True)
    index_to_movie, movie_index = np.unique(ratings["movieId"].to_numpy(), return_inverse=True)
    ratings = ratings.reset_index(drop=True).copy()
    ratings["user"] = user_index.astype(np.int32)
    ratings["movie"] = movie_index.astype(np.int32)
    stats = ratings.groupby("movie")["rating"].agg(["size", "mean"])
    table = movies.set_index("movieId").loc[index_to_movie].reset_index()
    table["num_ratings"] = stats["size"].to_numpy().astype(np.int64)
    table["mean_rating"] = stats["mean"].to_numpy().astype(np.float64)
    return Dataset(ratings, table, index_to_user, index_to_movie, source)


def dataset_from_files(
    ratings_source: Source,
    movies_source: Source,
    *,
    source: str = "upload",
    limits: Limits | None = None,
    ratings_name: str = C.RATINGS_FILE,
    movies_name: str = C.MOVIES_FILE,
) -> Dataset:
    """Build a dataset from two files or byte strings (used for uploads; ``limits`` default to
    :func:`upload_limits`)."""
    limits = limits or upload_limits()
    ratings = read_ratings(ratings_source, ratings_name, limits)
    movies = read_movies(movies_source, movies_name, limits)
    return build_dataset(ratings, movies, source)


# ---------------------------------------------------------------------------
# Finding the data: explicit path, CFCORE_DATA, cache, download
# ---------------------------------------------------------------------------


def _find_data_folder(root: Path) -> Path | None:
    """The folder at or one level below ``root`` that holds a ratings file."""
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if (folder / C.RATINGS_FILE).is_file() or (folder / "ratings.dat").is_file():
            return folder
    return None


def safe_extract_zip(
    archive: str | os.PathLike, target: str | os.PathLike, max_bytes: int = C.MAX_EXTRACTED_BYTES
) -> Path:
    """Extract a zip so that nothing lands outside ``target``.

    Rejects absolute paths, ``..`` members, links, and archives whose
    uncompressed size is over ``max_bytes`` (zip bombs).

    Raises:
        DataError: for a corrupt or hostile archive.
    """
    target = Path(target).resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            total = sum(m.file_size for m in members)
            if total > max_bytes:
                raise DataError(
                    f"{Path(archive).name}: would extract to {total:,} bytes, "
                    f"over the limit of {max_bytes:,}"
                )
            for member in members:
                name = member.filename.replace("\\", "/")
                dest = (target / name).resolve()
                if name.startswith("/") or ".." in name.split("/") or not dest.is_relative_to(target):
                    raise DataError(
                        f"{Path(archive).name}: member {member.filename!r} would be written "
                        "outside the target folder"
                    )
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise DataError(f"{Path(archive).name}: member {member.filename!r} is a link")
            # CRC check only after the cheap checks: testzip decompresses everything.
            bad = zf.testzip()
            if bad is not None:
                raise DataError(f"{Path(archive).name}: corrupt member {bad!r} (CRC mismatch)")
            target.mkdir(parents=True, exist_ok=True)
            written = 0
            for member in members:
                dest = (target / member.filename.replace("\\", "/")).resolve()
                if member.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(dest, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:
                            raise DataError(f"{Path(archive).name}: extracted data is over the limit")
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError) as err:
        raise DataError(f"{Path(archive).name}: not a readable zip archive ({err})") from None
    return target


def _check_folder(folder: Path) -> Path:
    found = _find_data_folder(folder)
    if found is None:
        raise DataError(f"{folder}: no {C.RATINGS_FILE} found in this folder or one level below")
    has_movies = (found / C.MOVIES_FILE).is_file() or (found / "movies.dat").is_file()
    if not has_movies:
        raise DataError(f"{found}: has a ratings file but no {C.MOVIES_FILE}")
    return found


_MANIFEST = ".complete"


def _file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _write_manifest(folder: Path) -> None:
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


def _extract_once(archive: Path) -> Path:
    """Extract a user-provided zip into the cache, keyed by its content hash; re-extract a damaged copy."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    target = C.cache_dir() / "extracted" / digest
    if not _manifest_matches(target):
        shutil.rmtree(target, ignore_errors=True)
        try:
            safe_extract_zip(archive, target)
        except DataError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        _write_manifest(target)
    return target


def _cache_is_valid(folder: Path) -> bool:
    """True when a cached extraction holds both files with the expected header."""
    try:
        found = _check_folder(folder)
        with open(found / C.RATINGS_FILE, encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        with open(found / C.MOVIES_FILE, encoding="utf-8") as fh:
            movie_header = fh.readline().strip().split(",")
    except (DataError, OSError, UnicodeDecodeError):
        return False
    return set(C.RATINGS_COLUMNS) <= set(header) and set(C.MOVIES_COLUMNS) <= set(movie_header)


def _cached_copy_is_usable(folder: Path) -> bool:
    """A finished download: both files with their headers, and every file as its manifest recorded it."""
    return _cache_is_valid(folder) and _manifest_matches(folder)


def is_article_dataset(dataset: Dataset) -> bool:
    """Whether ``dataset`` is MovieLens ml-latest-small (today's release or the article's), the data the
    article's RMSEs were measured on."""
    return (dataset.n_users, dataset.n_ratings) in C.ARTICLE_DATASET_SHAPES


def resolve_data_path(path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Find the folder holding the data: explicit path, ``CFCORE_DATA``, cache, download."""
    chosen = path if path not in (None, "") else os.environ.get(C.DATA_ENV_VAR) or None
    if chosen is not None:
        candidate = Path(chosen).expanduser()
        if not candidate.exists():
            raise DataError(f"data path not found: {candidate}")
        if candidate.is_file():
            if not zipfile.is_zipfile(candidate):
                raise DataError(f"{candidate}: not a folder or a .zip archive")
            candidate = _extract_once(candidate)
        return _check_folder(candidate)
    if not download:
        folder = C.cache_dir() / C.DATASET_NAME
        if _cached_copy_is_usable(folder):
            return _check_folder(folder)
        from cfcore.download import DownloadError

        raise DownloadError(f"no dataset configured and none downloaded yet into {C.cache_dir()}")
    from cfcore.download import download_dataset

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
    if (folder / C.RATINGS_FILE).is_file():
        ratings = read_ratings(folder / C.RATINGS_FILE, C.RATINGS_FILE, limits)
    else:
        ratings = read_ratings(folder / "ratings.dat", "ratings.dat", limits)
    if (folder / C.MOVIES_FILE).is_file():
        movies = read_movies(folder / C.MOVIES_FILE, C.MOVIES_FILE, limits)
    else:
        movies = read_movies(folder / "movies.dat", "movies.dat", limits)
    return build_dataset(ratings, movies, str(folder))


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------


@dataclass
class Split:
    """A seeded random train/validation split of a dataset's ratings.

    ``x_*`` arrays have shape ``(n, 2)`` holding (user index, movie index);
    ``y_*`` have shape ``(n,)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    val_fraction: float
    seed: int

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_val(self) -> int:
        return len(self.y_val)

    def cold_start_counts(self) -> dict[str, int]:
        """Validation ratings whose user, movie, or either never appears in training."""
        seen_users = np.zeros(int(max(self.x_train[:, 0].max(initial=0), self.x_val[:, 0].max(initial=0))) + 1, bool)
        seen_movies = np.zeros(int(max(self.x_train[:, 1].max(initial=0), self.x_val[:, 1].max(initial=0))) + 1, bool)
        seen_users[self.x_train[:, 0]] = True
        seen_movies[self.x_train[:, 1]] = True
        new_user = ~seen_users[self.x_val[:, 0]]
        new_movie = ~seen_movies[self.x_val[:, 1]]
        return {
            "unseen_user": int(new_user.sum()),
            "unseen_movie": int(new_movie.sum()),
            "unseen_either": int((new_user | new_movie).sum()),
        }


def split_dataset(dataset: Dataset, val_fraction: float = 0.2, seed: int = C.DEFAULT_SEED) -> Split:
    """Randomly split ratings into train and validation sets, reproducibly.

    Raises:
        DataError: if ``val_fraction`` is not in (0, 1) or a side would be empty.
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be between 0 and 1. Received: {val_fraction}")
    n = dataset.n_ratings
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if n_val == 0 or n_val == n:
        raise DataError(f"a validation fraction of {val_fraction} leaves one side empty ({n} ratings)")
    val_rows, train_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
    x = dataset.ratings[["user", "movie"]].to_numpy(dtype=np.int32)
    y = dataset.ratings["rating"].to_numpy(dtype=np.float32)
    return Split(x[train_rows], y[train_rows], x[val_rows], y[val_rows], train_rows, val_rows, val_fraction, seed)
