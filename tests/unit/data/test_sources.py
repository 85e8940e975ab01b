"""cfcore.data.sources: where the data comes from (an explicit path, CFCORE_DATA, the cache, a download),
zip archives, and the shared MovieLens copies."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from bench.harness import shared_data_path
from cfcore.data.cache import write_manifest
from cfcore.data.errors import DataError
from cfcore.data.read import read_movies
from cfcore.data.sources import load_dataset, resolve_data_path
from tests.support.data import write_pair


def zip_folder(folder: Path, archive: Path, top: str = "ml-latest-small") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("ratings.csv", "movies.csv"):
            zf.write(folder / name, f"{top}/{name}")
    return archive


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


def test_load_grouplens_zip_with_top_folder(tmp_path, synthetic_folder, monkeypatch):
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "cache"))
    archive = zip_folder(synthetic_folder, tmp_path / "ml-latest-small.zip")
    ds = load_dataset(archive)
    assert (ds.n_users, ds.n_movies) == (60, 40)
    assert Path(ds.source).name == "ml-latest-small"
    # The extraction is cached by content: a second load reuses it.
    assert load_dataset(archive).source == ds.source


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


def test_a_cache_cut_at_a_row_boundary_is_not_believed(isolated, tmp_path, synthetic_folder):
    """A cut ratings.csv still marked complete loaded silently as ml-latest-small with 10 ratings."""
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
