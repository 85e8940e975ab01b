"""cfcore.data: loading, validation messages, indexing, source resolution and splitting."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.harness import shared_data_path
from cfcore import constants as C
from cfcore.data.cache import write_manifest
from cfcore.data.dataset import build_dataset, dataset_from_files
from cfcore.data.errors import DataError
from cfcore.data.read import Limits, read_movies, read_ratings
from cfcore.data.sources import load_dataset, resolve_data_path
from cfcore.data.split import split_dataset
from cfcore.data.validate import validate_movies, validate_ratings

HEADER = "userId,movieId,rating,timestamp\n"
MOVIES = b"movieId,title,genres\n1,Alpha (1990),Comedy\n2,Beta (1991),Drama\n3,Gamma (1992),\n"


def ratings_error(text: str | bytes, limits: Limits | None = None) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(DataError) as info:
        read_ratings(raw, "ratings.csv", limits or Limits())
    return str(info.value)


def movies_error(text: str) -> str:
    with pytest.raises(DataError) as info:
        read_movies(text.encode("utf-8"), "movies.csv")
    return str(info.value)


def write_pair(folder: Path, ratings: pd.DataFrame, movies: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ratings.to_csv(folder / "ratings.csv", index=False)
    movies.to_csv(folder / "movies.csv", index=False)
    return folder


def zip_folder(folder: Path, archive: Path, top: str = "ml-latest-small") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("ratings.csv", "movies.csv"):
            zf.write(folder / name, f"{top}/{name}")
    return archive


# ---------------------------------------------------------------------------
# Loading and indexing
# ---------------------------------------------------------------------------


def test_load_folder_indexes_users_and_movies_densely(synthetic_folder, synthetic_frames):
    ratings, movies = synthetic_frames
    ds = load_dataset(synthetic_folder)
    assert ds.n_ratings == len(ratings)
    assert ds.n_users == ratings["userId"].nunique() == 60
    assert ds.n_movies == ratings["movieId"].nunique() == 40
    # The synthetic ids have gaps (3k+1, 7k+2); the indices must not.
    assert sorted(ds.ratings["user"].unique()) == list(range(ds.n_users))
    assert sorted(ds.ratings["movie"].unique()) == list(range(ds.n_movies))
    assert list(ds.index_to_user) == sorted(ratings["userId"].unique())
    assert list(ds.index_to_movie) == sorted(ratings["movieId"].unique())
    # The maps go both ways and agree with every rating row.
    assert all(ds.user_to_index[int(u)] == i for i, u in enumerate(ds.index_to_user))
    assert all(ds.movie_to_index[int(m)] == j for j, m in enumerate(ds.index_to_movie))
    np.testing.assert_array_equal(ds.index_to_user[ds.ratings["user"]], ds.ratings["userId"])
    np.testing.assert_array_equal(ds.index_to_movie[ds.ratings["movie"]], ds.ratings["movieId"])
    assert ds.ratings["user"].dtype == np.int32 and ds.ratings["movie"].dtype == np.int32
    assert ds.min_rating == ratings["rating"].min() and ds.max_rating == ratings["rating"].max()
    assert ds.sparsity == pytest.approx(1 - len(ratings) / (60 * 40))


def test_movies_table_is_joined_in_index_order(synthetic_dataset, synthetic_frames):
    ratings, movies = synthetic_frames
    table = synthetic_dataset.movies
    assert list(table.columns) == ["movieId", "title", "genres", "num_ratings", "mean_rating"]
    np.testing.assert_array_equal(table["movieId"], synthetic_dataset.index_to_movie)
    titles = movies.set_index("movieId")["title"]
    assert list(table["title"]) == list(titles.loc[table["movieId"]])
    stats = ratings.groupby("movieId")["rating"].agg(["size", "mean"]).loc[table["movieId"]]
    np.testing.assert_array_equal(table["num_ratings"], stats["size"])
    np.testing.assert_allclose(table["mean_rating"], stats["mean"], rtol=1e-6)
    assert table["num_ratings"].sum() == synthetic_dataset.n_ratings


def test_unrated_movies_get_no_index(tmp_path):
    ratings = pd.DataFrame({"userId": [5, 9], "movieId": [3, 1], "rating": [4.0, 2.5]})
    movies = pd.DataFrame({"movieId": [1, 2, 3], "title": ["A", "B", "C"], "genres": ["x", "y", "z"]})
    ds = load_dataset(write_pair(tmp_path / "d", ratings, movies))
    assert ds.n_movies == 2 and list(ds.movies["title"]) == ["A", "C"]
    assert ds.summary()["n_ratings"] == 2 and len(ds.fingerprint) == 64


def test_empty_genres_become_no_genres_listed():
    movies = read_movies(MOVIES)
    assert movies.loc[2, "genres"] == "(no genres listed)"


def test_load_grouplens_zip_with_top_folder(tmp_path, synthetic_folder, monkeypatch):
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "cache"))
    archive = zip_folder(synthetic_folder, tmp_path / "ml-latest-small.zip")
    ds = load_dataset(archive)
    assert (ds.n_users, ds.n_movies) == (60, 40)
    assert Path(ds.source).name == "ml-latest-small"
    # The extraction is cached by content: a second load reuses it.
    assert load_dataset(archive).source == ds.source


def test_dat_format_is_read(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\n")
    (folder / "movies.dat").write_bytes("10::Caf\xe9 (1995)::Comedy\n20::Heat (1995)::Action\n".encode("latin-1"))
    ds = load_dataset(folder)
    assert (ds.n_users, ds.n_movies, ds.n_ratings) == (2, 2, 3)
    assert ds.movies["title"].iloc[0] == "Caf\xe9 (1995)"


def test_upload_bytes_and_file_objects(synthetic_frames):
    ratings, movies = synthetic_frames
    ratings_bytes = ratings.to_csv(index=False).encode()
    ds = dataset_from_files(io.BytesIO(ratings_bytes), movies.to_csv(index=False).encode())
    assert ds.n_ratings == len(ratings) and ds.source == "upload"


def test_byte_order_mark_is_ignored():
    frame = read_ratings(b"\xef\xbb\xbfuserId,movieId,rating\n1,2,3.5\n")
    assert list(frame.columns) == ["userId", "movieId", "rating"] and frame["rating"].iloc[0] == 3.5


# ---------------------------------------------------------------------------
# Validation: one test per rule, each checking file, column and line
# ---------------------------------------------------------------------------


def test_missing_column_is_named():
    message = ratings_error("userId,movie_id,rating\n1,2,3\n")
    assert message.startswith("ratings.csv: line 1")
    assert "'movieId'" in message and "'movie_id'" in message


def test_missing_movie_column_is_named():
    message = movies_error("movieId,name,genres\n1,A,Comedy\n")
    assert message.startswith("movies.csv: line 1") and "'title'" in message


def test_repeated_header_column_is_rejected():
    message = ratings_error("userId,movieId,rating,rating\n1,2,3,4\n")
    assert message.startswith("ratings.csv: line 1") and "'rating'" in message


def test_non_numeric_user_id():
    message = ratings_error(HEADER + "1,1,4,0\nabc,1,4,0\n")
    assert message.startswith("ratings.csv: column 'userId' line 3:") and "'abc'" in message


def test_fractional_and_negative_ids_are_rejected():
    assert "column 'movieId' line 2: '1.5'" in ratings_error(HEADER + "1,1.5,4,0\n")
    assert "column 'userId' line 2: '-3'" in ratings_error(HEADER + "-3,1,4,0\n")


def test_non_numeric_rating():
    message = ratings_error(HEADER + "1,1,4,0\n1,2,4,0\n2,1,five,0\n")
    assert message.startswith("ratings.csv: column 'rating' line 4:") and "'five'" in message


@pytest.mark.parametrize("cell, shown", [("NaN", "'NaN'"), ("", "'(empty)'"), ("inf", "'inf'")])
def test_missing_or_nan_rating(cell, shown):
    message = ratings_error(HEADER + f"1,1,4,0\n2,1,{cell},0\n")
    assert message.startswith("ratings.csv: column 'rating' line 3:") and shown in message


def test_missing_id_cell():
    message = ratings_error(HEADER + "1,,4,0\n")
    assert message.startswith("ratings.csv: column 'movieId' line 2:") and "(empty)" in message


@pytest.mark.parametrize("value", ["11", "-1"])
def test_rating_out_of_range(value):
    message = ratings_error(HEADER + f"1,1,4,0\n1,2,3,0\n1,3,{value},0\n")
    assert message.startswith("ratings.csv: column 'rating' line 4:")
    assert value in message and "0 to 10" in message


def test_duplicate_pair_is_rejected_with_both_lines():
    message = ratings_error(HEADER + "1,1,4,0\n1,2,3,0\n1,1,5,0\n")
    assert message.startswith("ratings.csv: line 4:")
    assert "user 1 rated movie 1 twice" in message and "first on line 2" in message


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


def test_unknown_movie_is_reported_with_line():
    ratings = (HEADER + "1,1,4,0\n1,2,4,0\n2,99,3,0\n").encode()
    with pytest.raises(DataError) as info:
        dataset_from_files(ratings, MOVIES)
    message = str(info.value)
    assert message.startswith("ratings.csv: column 'movieId' line 4:")
    assert "movieId 99" in message and "movies.csv" in message


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


def test_movies_rules():
    assert movies_error("movieId,title,genres\n1,A,x\nz,B,y\n").startswith("movies.csv: column 'movieId' line 3:")
    assert movies_error("movieId,title,genres\n1,A,x\n2, ,y\n").startswith("movies.csv: column 'title' line 3:")
    message = movies_error("movieId,title,genres\n1,A,x\n2,B,y\n1,C,z\n")
    assert message.startswith("movies.csv: line 4:") and "movieId 1 appears more than once" in message


def test_validate_frames_directly():
    # The app validates frames it built itself; messages still name the row's line.
    frame = pd.DataFrame({"userId": ["1", "2"], "movieId": ["1", "1"], "rating": ["4", "nan"]})
    with pytest.raises(DataError, match="ratings.csv: column 'rating' line 3"):
        validate_ratings(frame)
    typed = validate_ratings(frame.assign(rating=["4", "3.5"]))
    assert typed["rating"].dtype == np.float32 and typed["userId"].dtype == np.int64
    movies = validate_movies(pd.DataFrame({"movieId": ["1"], "title": ["A"], "genres": ["x"]}))
    assert build_dataset(typed, movies).n_movies == 1


# ---------------------------------------------------------------------------
# Where the data comes from: explicit path -> CFCORE_DATA -> cache -> download
# ---------------------------------------------------------------------------


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No CFCORE_DATA, an empty cache, and a download that only records that it was asked for."""
    monkeypatch.delenv("CFCORE_DATA", raising=False)
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake_download(url=None, cache=None):
        calls.append(url)
        raise DataError("download attempted")

    from cfcore.data import sources

    monkeypatch.setattr(sources, "download_dataset", fake_download)
    return calls


def _cached_copy(tmp_path, synthetic_folder) -> Path:
    cached = tmp_path / "cache" / "ml-latest-small"
    cached.mkdir(parents=True)
    for name in ("ratings.csv", "movies.csv"):
        (cached / name).write_bytes((synthetic_folder / name).read_bytes())
    write_manifest(cached)
    return cached


def test_explicit_path_wins_over_environment(isolated, monkeypatch, tmp_path, synthetic_folder):
    other = write_pair(tmp_path / "other", *[f.head(3) for f in (pd.read_csv(synthetic_folder / "ratings.csv"),
                                                                  pd.read_csv(synthetic_folder / "movies.csv"))])
    monkeypatch.setenv("CFCORE_DATA", str(other))
    assert resolve_data_path(synthetic_folder) == synthetic_folder
    assert resolve_data_path(None) == other
    assert isolated == []


def test_environment_wins_over_cache(isolated, monkeypatch, tmp_path, synthetic_folder):
    _cached_copy(tmp_path, synthetic_folder)
    other = tmp_path / "env"
    write_pair(other, pd.read_csv(synthetic_folder / "ratings.csv"), pd.read_csv(synthetic_folder / "movies.csv"))
    monkeypatch.setenv("CFCORE_DATA", str(other))
    assert resolve_data_path() == other


def test_cache_is_used_without_download(isolated, tmp_path, synthetic_folder):
    cached = _cached_copy(tmp_path, synthetic_folder)
    assert resolve_data_path(download=False) == cached
    assert load_dataset(download=False).n_users == 60
    assert isolated == []


def test_download_is_the_last_resort(isolated):
    with pytest.raises(DataError, match="download attempted"):
        resolve_data_path()
    assert len(isolated) == 1


def test_offline_without_cache_is_a_download_error_the_callers_advise_on(isolated, tmp_path, synthetic_folder):
    from cfcore.data.download import DownloadError

    cached = _cached_copy(tmp_path, synthetic_folder)
    (cached / ".complete").unlink()  # an interrupted extraction is not a cache
    with pytest.raises(DownloadError, match="no dataset configured and none downloaded yet"):
        resolve_data_path(download=False)


def test_bad_explicit_paths(isolated, tmp_path):
    with pytest.raises(DataError, match="data path not found"):
        resolve_data_path(tmp_path / "missing")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DataError, match="not a folder or a .zip"):
        resolve_data_path(text)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no ratings.csv found"):
        resolve_data_path(tmp_path / "empty")
    only = tmp_path / "only"
    only.mkdir()
    (only / "ratings.csv").write_text("userId,movieId,rating\n1,1,4\n")
    with pytest.raises(DataError, match="no movies.csv"):
        resolve_data_path(only)


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------


def test_split_is_seeded_disjoint_and_complete(synthetic_dataset):
    ds = synthetic_dataset
    a, b = split_dataset(ds, 0.2, seed=7), split_dataset(ds, 0.2, seed=7)
    np.testing.assert_array_equal(a.val_rows, b.val_rows)
    c = split_dataset(ds, 0.2, seed=8)
    assert not np.array_equal(a.val_rows, c.val_rows)
    assert a.n_val == round(ds.n_ratings * 0.2) and a.n_train + a.n_val == ds.n_ratings
    assert np.intersect1d(a.train_rows, a.val_rows).size == 0
    assert a.x_train.shape == (a.n_train, 2) and a.x_train.dtype == np.int32
    np.testing.assert_array_equal(a.x_val[:, 0], ds.ratings["user"].to_numpy()[a.val_rows])
    np.testing.assert_array_equal(a.y_val, ds.ratings["rating"].to_numpy()[a.val_rows])


def test_cold_start_counts_match_a_direct_count(synthetic_frames):
    ratings, movies = synthetic_frames
    # Give the last user and movie a single rating each, so some validation rows are cold.
    extra = pd.DataFrame({"userId": [9999, 9999], "movieId": [2, 10000], "rating": [3.0, 4.0], "timestamp": [0, 0]})
    extra_movie = pd.DataFrame({"movieId": [10000], "title": ["Lonely"], "genres": ["Drama"]})
    ds = build_dataset(validate_ratings(pd.concat([ratings, extra]).astype(str)),
                       validate_movies(pd.concat([movies, extra_movie]).astype(str)))
    cold = 0
    for seed in range(5):
        split = split_dataset(ds, 0.3, seed)
        counts = split.cold_start_counts()
        seen_u, seen_m = set(split.x_train[:, 0]), set(split.x_train[:, 1])
        new_u = np.array([u not in seen_u for u in split.x_val[:, 0]])
        new_m = np.array([m not in seen_m for m in split.x_val[:, 1]])
        assert counts == {"unseen_user": new_u.sum(), "unseen_movie": new_m.sum(),
                          "unseen_either": (new_u | new_m).sum()}
        cold += counts["unseen_either"]
    assert cold > 0


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1e-9])
def test_split_rejects_bad_fractions(synthetic_dataset, fraction):
    with pytest.raises(DataError, match="validation fraction|leaves one side empty"):
        split_dataset(synthetic_dataset, fraction)


# ---------------------------------------------------------------------------
# The shared MovieLens copies
# ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, ratings, users, listed, rated",
    [("ml-latest-small", 100_836, 610, 9_742, 9_724), ("ml-latest-small-2016", 100_004, 671, 9_125, 9_066)],
)
def test_shared_datasets_have_the_published_counts(movielens_path, name, ratings, users, listed, rated):
    path = movielens_path if name == "ml-latest-small" else shared_data_path(name)
    assert path is not None, f"the shared {name} copy was not found"
    ds = load_dataset(path, download=False)
    assert (ds.n_ratings, ds.n_users, ds.n_movies) == (ratings, users, rated)
    assert len(read_movies(Path(path) / "movies.csv")) == listed
    assert (ds.min_rating, ds.max_rating) == (0.5, 5.0)
    assert ds.movies["num_ratings"].sum() == ratings


# -- shape caps and the chunked careful reader (issue 19.2) ---------------------------------


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


def test_a_cache_cut_at_a_row_boundary_is_not_believed(isolated, tmp_path, synthetic_folder):
    """A cut ratings.csv still marked complete loaded silently as ml-latest-small with 10 ratings (issue 19.9)."""
    cached = _cached_copy(tmp_path, synthetic_folder)
    lines = (cached / "ratings.csv").read_text().splitlines(keepends=True)
    (cached / "ratings.csv").write_text("".join(lines[:11]))
    with pytest.raises(DataError, match="none downloaded yet"):
        resolve_data_path(download=False)
    with pytest.raises(DataError, match="download attempted"):  # online, it would fetch a fresh copy
        resolve_data_path()


def test_a_damaged_extraction_of_a_zip_is_extracted_again(isolated, monkeypatch, tmp_path, synthetic_folder):
    archive = tmp_path / "ml.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("ratings.csv", "movies.csv"):
            zf.write(synthetic_folder / name, f"ml/{name}")
    first = resolve_data_path(archive)
    full = (first / "ratings.csv").read_bytes()
    (first / "ratings.csv").write_bytes(full[: len(full) // 3].rsplit(b"\n", 1)[0] + b"\n")
    again = resolve_data_path(archive)
    assert again == first and (again / "ratings.csv").read_bytes() == full


def test_a_movie_title_is_found_by_its_id(synthetic_dataset):
    first = int(synthetic_dataset.index_to_movie[0])
    assert synthetic_dataset.movie_title(first) == synthetic_dataset.movies["title"].iloc[0]
    assert synthetic_dataset.movie_title(10**9) is None
