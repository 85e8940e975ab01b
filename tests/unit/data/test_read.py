"""cfcore.data.read: reading ratings and movies files (CSV and MovieLens 1M's ``::`` files) within size and
shape limits, line numbers in every message, and the careful chunked reader."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cfcore import constants as C
from cfcore.data.dataset import dataset_from_files
from cfcore.data.errors import DataError
from cfcore.data.read import Limits, read_movies, read_ratings, upload_limits
from cfcore.data.sources import load_dataset
from tests.support.data import HEADER, MOVIES, ratings_error


def test_dat_format_is_read(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\n")
    (folder / "movies.dat").write_bytes("10::Caf\xe9 (1995)::Comedy\n20::Heat (1995)::Action\n".encode("latin-1"))
    ds = load_dataset(folder)
    assert (ds.n_users, ds.n_movies, ds.n_ratings) == (2, 2, 3)
    assert ds.movies["title"].iloc[0] == "Caf\xe9 (1995)"


def test_byte_order_mark_is_ignored():
    frame = read_ratings(b"\xef\xbb\xbfuserId,movieId,rating\n1,2,3.5\n")
    assert list(frame.columns) == ["userId", "movieId", "rating"] and frame["rating"].iloc[0] == 3.5


@pytest.mark.parametrize("text", [b"", b"  \n\n"])
def test_empty_file(text):
    assert ratings_error(text) == "ratings.csv: the file is empty"


def test_header_without_rows():
    assert ratings_error(HEADER) == "ratings.csv: the file has a header but no data rows"


def test_row_with_extra_field_is_rejected_not_shifted():
    # pandas would otherwise read "1,2,3,4" under a 3-column header with userId as the index.
    message = ratings_error("userId,movieId,rating\n1,2,3\n1,3,4,9\n")
    assert message.startswith("ratings.csv: not a readable CSV file") and "line 3" in message
    assert "line 2" in ratings_error("userId,movieId,rating\n1,2,3,4\n")


def test_line_numbers_count_blank_lines():
    message = ratings_error(HEADER + "\n1,1,4,0\n\n2,x,4,0\n")
    assert message.startswith("ratings.csv: column 'movieId' line 5:")


def test_file_over_size_limit(tmp_path):
    text = HEADER + "1,1,4,0\n" * 20
    path = tmp_path / "ratings.csv"
    path.write_text(text)
    limits = Limits(max_file_bytes=100)
    for source in (path, text.encode(), io.BytesIO(text.encode())):
        with pytest.raises(DataError) as info:
            read_ratings(source, "ratings.csv", limits)
        assert str(info.value).startswith("ratings.csv: file is") and "limit of 100 bytes" in str(info.value)


def test_file_over_row_limit():
    message = ratings_error(HEADER + "1,1,4,0\n1,2,4,0\n1,3,4,0\n", Limits(max_rating_rows=2))
    assert message.startswith("ratings.csv: more than 2 rows") and "limit of 2 ratings" in message


def test_non_utf8_text():
    raw = (HEADER + "1,1,4,0\n").encode() + "2,1,4,0 caf\xe9\n".encode("latin-1")
    message = ratings_error(raw)
    assert message.startswith("ratings.csv: line 3 is not valid UTF-8") and "0xe9" in message


def test_nul_byte_means_binary_file():
    assert ratings_error(HEADER + "1,1,4,0\n\x00\x00\n").startswith("ratings.csv: line 3 contains a NUL byte")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="ratings.csv: file not found"):
        read_ratings(tmp_path / "nope.csv", "ratings.csv")


def test_a_header_with_a_million_columns_is_refused_before_parsing():
    import time

    raw = (",".join(f"c{i}" for i in range(1_000_000)) + "\n1,2,3\n").encode()
    started = time.perf_counter()
    message = ratings_error(raw)
    assert time.perf_counter() - started < 2.0  # it took 204 s and 6.3 GB before the cap
    assert message == "ratings.csv: line 1 (header) has 1,000,000 columns; at most 32 are allowed"
    with pytest.raises(DataError, match="movies.csv: line 1 .header. has 40 columns"):
        read_movies(("movieId,title,genres" + ",x" * 37 + "\n1,A,B\n").encode())


def test_an_overlong_line_is_refused_with_its_line_number():
    long_title = "T" * (C.MAX_CSV_LINE_BYTES + 1)
    with pytest.raises(DataError, match=r"movies.csv: line 3 is 8,\d{3} bytes long, over the limit of 8,192"):
        read_movies(f"movieId,title,genres\n1,Alpha,Comedy\n2,{long_title},Drama\n".encode())


def test_the_careful_reader_names_the_right_line_across_chunks(monkeypatch):
    monkeypatch.setattr(C, "CSV_CHUNK_ROWS", 3)
    rows = [f"{u},{m},4" for u in range(1, 4) for m in range(1, 4)]  # 9 ratings, 3 chunks
    rows[7] = "3,2,lots"
    # A stray space in the header sends the file down the careful path; a blank line shifts the numbers.
    text = "userId ,movieId,rating\n" + "\n".join(rows[:4]) + "\n\n" + "\n".join(rows[4:]) + "\n"
    assert ratings_error(text) == "ratings.csv: column 'rating' line 10: 'lots' is not a number"
    rows[7] = "1,2,4"  # a duplicate of row 2, found across chunks
    text = "userId ,movieId,rating\n" + "\n".join(rows) + "\n"
    assert ratings_error(text) == ("ratings.csv: line 9: user 1 rated movie 2 twice (first on line 3); "
                                   "keep one rating per user and movie")
    rows[7] = "3,2,4.5"
    typed = read_ratings(("userId ,movieId,rating\n" + "\n".join(rows) + "\n").encode())
    assert len(typed) == 9 and typed["rating"].iloc[7] == 4.5
    np.testing.assert_array_equal(typed.attrs["lines"], np.arange(2, 11))


def test_the_careful_reader_stops_at_the_row_limit(monkeypatch):
    monkeypatch.setattr(C, "CSV_CHUNK_ROWS", 2)
    text = "userId ,movieId,rating\n" + "".join(f"1,{m},4\n" for m in range(1, 8))
    assert ratings_error(text, Limits(max_rating_rows=3)) == (
        "ratings.csv: more than 3 rows, over the limit of 3 ratings")
    with pytest.raises(DataError, match="more than 2 rows, over the limit of 2 movies"):
        read_movies(MOVIES, limits=Limits(max_movie_rows=2))


def test_the_public_upload_limit_refuses_a_file_the_local_one_takes(monkeypatch):
    ratings = b"userId,movieId,rating\n" + b"".join(b"%d,%d,4.0\n" % (u, m) for u in range(1, 40) for m in range(1, 40))
    movies = b"movieId,title,genres\n" + b"".join(b"%d,Movie %d,Drama\n" % (m, m) for m in range(1, 40))
    assert dataset_from_files(ratings, movies).n_ratings == 39 * 39
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    monkeypatch.setenv("CFCORE_UPLOAD_MAX_ROWS", "1000")
    assert upload_limits().max_rating_rows == 1000 and upload_limits().max_file_bytes == 25 * 2**20
    with pytest.raises(DataError, match="over the limit of 1,000"):
        dataset_from_files(ratings, movies)
