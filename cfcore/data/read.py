"""Reading a ratings or movies file within size limits, validated as it is read: CSV (``ratings.csv``), MovieLens
1M's and 10M's ``::`` files, and MovieLens 100K's ``u.data`` (tabs) and ``u.item`` (pipes, 19 genre flags).

Nothing here imports TensorFlow: the app's Data page must stay light.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from cfcore import constants as C
from cfcore import settings
from cfcore.data.errors import DataError
from cfcore.data.validate import (
    MAX_ID,
    check_header,
    has_duplicate_pairs,
    reject_duplicate_movies,
    reject_duplicate_ratings,
    typed_movies,
    typed_ratings,
    validate_movies,
    validate_ratings,
)


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


# Files with a separator and no header (:mod:`cfcore.data.layouts`): name -> (separator, encoding, columns).
SEPARATED = {
    "ratings.dat": (b"::", "latin-1", ["userId", "movieId", "rating", "timestamp"]),
    "movies.dat": (b"::", "latin-1", ["movieId", "title", "genres"]),
    "u.data": (b"\t", "latin-1", ["userId", "movieId", "rating", "timestamp"]),
    "u.item": (b"|", "latin-1", None),  # movieId, title, release date, video date, IMDb URL, 19 genre flags
}
# MovieLens 100K's genre flags, in u.item's order (its u.genre file).
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")
_UNIT_SEPARATOR = b"\x1f"  # stands in for "::" so pandas' C parser splits the lines (a Python loop was 10x slower)


def _parse_separated(raw: bytes, name: str) -> pd.DataFrame:
    """A header-less separated file as a frame of strings, its rows' file lines in ``attrs["lines"]``."""
    sep, encoding, columns = SEPARATED[name]
    _decode(raw, name, encoding)
    data = raw.replace(sep, _UNIT_SEPARATOR) if len(sep) > 1 else raw
    if not data.strip():
        return pd.DataFrame(columns=columns or [])
    try:
        # u.item's lines have 24 fields, or 25 where a stray pipe ends the line: room for both.
        names = list(range(6 + len(ML100K_GENRES))) if name == "u.item" else None
        frame = pd.read_csv(io.BytesIO(data), sep=(_UNIT_SEPARATOR if len(sep) > 1 else sep).decode(), header=None,
                            names=names, dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE,
                            encoding=encoding, engine="c")
    except (pd.errors.ParserError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{name}: not a readable file ({first})") from None
    if columns is not None:
        if frame.shape[1] < 3:  # an id, an id and a rating; or an id, a title and genres
            raise DataError(f"{name}: expected {len(columns)} fields separated by {sep.decode()!r} on each line, "
                            f"found {frame.shape[1]}")
        frame = frame.iloc[:, : len(columns)]
        frame.columns = columns[: frame.shape[1]]
    frame.attrs["lines"] = _data_lines(raw)
    return frame


def _ml100k_movies(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """u.item's fields as movieId, title (with its year where the title lacks one) and ``A|B`` genres."""
    if frame.shape[1] < 5 + len(ML100K_GENRES):
        raise DataError(f"{name}: expected {5 + len(ML100K_GENRES)} fields separated by '|' on each line (an id, "
                        f"a title, dates, a link and {len(ML100K_GENRES)} genre flags), found {frame.shape[1]}")
    flags = frame.iloc[:, 5 : 5 + len(ML100K_GENRES)].apply(lambda column: column.str.strip() == "1")
    genres = flags.iloc[:, 1:].apply(lambda row: "|".join(g for g, on in zip(ML100K_GENRES[1:], row, strict=True)
                                                          if on), axis=1)
    titles = frame.iloc[:, 1].str.strip()
    years = frame.iloc[:, 2].str.extract(r"(\d{4})\s*$", expand=False)
    no_year = ~titles.str.contains(r"\(\d{4}\)\s*$", regex=True) & years.notna()
    titles = titles.where(~no_year, titles + " (" + years.fillna("") + ")")
    out = pd.DataFrame({"movieId": frame.iloc[:, 0], "title": titles,
                        "genres": genres.replace("", "(no genres listed)")})
    out.attrs.update(frame.attrs)
    return out


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
                    check_header(header, name)
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


_CLEAN_DTYPES = {"userId": np.int64, "movieId": np.int64, "rating": np.float64, "timestamp": np.int64}


def read_ratings_fast(raw: bytes, limits: Limits, name: str = C.RATINGS_FILE) -> pd.DataFrame | None:
    """The typed ratings of a clean file in one vectorised pass, or None to take the careful path.

    Clean: exactly the MovieLens header (with or without ``timestamp``; a UTF-8
    BOM is dropped, as the careful path does), one rating per line with no blank
    lines, whole-number ids (``1.0`` reads as 1 in both paths) and timestamps, and
    every value within the limits that :func:`validate_ratings` checks. Anything
    else (a stray space in the header, ``1.5`` as an id, a duplicate) is left to the
    careful path, which accepts what it can and names the line of what it cannot.
    The result equals ``validate_ratings`` of the same file (tested). A header-less release file (``ratings.dat``,
    ``u.data``: :data:`SEPARATED`) takes the same path, its four fields named.
    """
    separated = name in SEPARATED
    header_lines = 0 if separated else 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' cast warnings for junk: the careful path reports it
            if separated:
                sep = SEPARATED[name][0]
                data = raw.replace(sep, _UNIT_SEPARATOR) if len(sep) > 1 else raw
                frame = pd.read_csv(io.BytesIO(data), sep=(_UNIT_SEPARATOR if len(sep) > 1 else sep).decode(),
                                    header=None, names=[*C.RATINGS_COLUMNS, "timestamp"], dtype=_CLEAN_DTYPES,
                                    engine="c", float_precision="round_trip")
            else:
                frame = pd.read_csv(io.BytesIO(raw), dtype=_CLEAN_DTYPES, engine="c", float_precision="round_trip")
    except Exception:  # any oddity at all: the careful path reports it properly
        return None
    if not isinstance(frame.index, pd.RangeIndex):
        return None  # a row with more fields than the header made pandas use the first column as the index
    columns = list(frame.columns)
    if columns not in (list(C.RATINGS_COLUMNS), [*C.RATINGS_COLUMNS, "timestamp"]) or frame.empty:
        return None
    lines = raw.count(b"\n") + (not raw.endswith(b"\n"))
    if len(frame) > limits.max_rating_rows or lines != len(frame) + header_lines:
        return None  # over the limit, or blank/multi-line rows that would shift the line numbers
    users, movies = frame["userId"].to_numpy(), frame["movieId"].to_numpy()
    ratings = frame["rating"].to_numpy()
    ids_ok = users.min() >= 0 and movies.min() >= 0 and users.max() <= MAX_ID and movies.max() <= MAX_ID
    ratings_ok = (np.isfinite(ratings).all() and ratings.min() >= C.SANE_RATING_MIN
                  and ratings.max() <= C.SANE_RATING_MAX)
    if not (ids_ok and ratings_ok) or has_duplicate_pairs(users, movies):
        return None
    typed = pd.DataFrame({"userId": users, "movieId": movies, "rating": ratings.astype(np.float32)})
    if "timestamp" in frame.columns:
        typed["timestamp"] = frame["timestamp"].clip(lower=0, upper=2**62).to_numpy()
    typed.attrs["lines"] = np.arange(1 + header_lines, len(typed) + 1 + header_lines, dtype=np.int64)
    return typed


def read_ratings(
    source: Source, name: str = C.RATINGS_FILE, limits: Limits = Limits()
) -> pd.DataFrame:
    """Read and validate a ratings file (CSV, ``::``-separated ``ratings.dat`` or tab-separated ``u.data``)."""
    raw = _read_bytes(source, name, limits)
    separated = name in SEPARATED
    check_csv_shape(raw, name, SEPARATED[name][0] if separated else b",")
    if (clean := read_ratings_fast(raw, limits, name)) is not None:
        return clean
    return read_ratings_carefully(raw, name, limits)


def read_ratings_carefully(raw: bytes, name: str, limits: Limits) -> pd.DataFrame:
    """Parse every cell as text, then validate: slower, but accepts what it can and names bad lines."""
    if name in SEPARATED:
        frame = _parse_separated(raw, name)
        if len(frame) > limits.max_rating_rows:
            raise DataError(f"{name}: {len(frame):,} rows, over the limit of {limits.max_rating_rows:,} ratings")
        return validate_ratings(frame, name)
    _decode(raw, name)  # readable UTF-8 text, or an error naming the line
    typed = _read_csv_validated(raw, name, typed_ratings, limits.max_rating_rows, "ratings")
    reject_duplicate_ratings(typed, name)
    return typed


def read_movies(source: Source, name: str = C.MOVIES_FILE, limits: Limits = Limits()) -> pd.DataFrame:
    """Read and validate a movies file (CSV, ``::``-separated ``movies.dat`` or ``u.item``)."""
    raw = _read_bytes(source, name, limits)
    separated = name in SEPARATED
    check_csv_shape(raw, name, SEPARATED[name][0] if separated else b",")
    if separated:
        frame = _parse_separated(raw, name)
        if name == "u.item":
            frame = _ml100k_movies(frame, name)
        if len(frame) > limits.max_movie_rows:
            raise DataError(f"{name}: {len(frame):,} rows, over the limit of {limits.max_movie_rows:,} movies")
        return validate_movies(frame, name)
    _decode(raw, name)
    typed = _read_csv_validated(raw, name, typed_movies, limits.max_movie_rows, "movies")
    reject_duplicate_movies(typed, name)
    typed.attrs.clear()
    return typed
