"""Every MovieLens release's file layout read from files made here in its real format (the real files cannot be
fetched here): ML-100K's u.data and u.item (with their quirks), ML-1M's and ML-10M's '::' files, and a folder
holding a release one level down."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.data.errors import DataError
from cfcore.data.read import ML100K_GENRES, read_movies, read_ratings
from cfcore.data.sources import load_dataset

# u.item lines as ML-100K writes them: id|title|release date|video release date|IMDb URL|19 genre flags. Movie 267
# is the release's "unknown" (no title year, no date, only the "unknown" genre); one line ends in a stray pipe.
U_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0"
    "|0|0|0|0|0|0\n"
    "2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?GoldenEye%20(1995)|0|1|1|0|0|0|0|0|0|0|0|0|0"
    "|0|0|0|1|0|0|\n"
    "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "1300|'Til There Was You|30-May-1997||http://us.imdb.com/M/title-exact?Til|0|0|0|0|0|0|0|0|1|0|0|0|0|0|1|0|0|0"
    "|0\n"
    "5|Caf\xe9 au lait (1994)|01-Jan-1994||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
)


def _ml100k(folder, n_users=30):
    rng = np.random.default_rng(0)
    movies = [1, 2, 267, 1300, 5]
    lines = [f"{u}\t{m}\t{int(rng.integers(1, 6))}\t{874965758 + u}" for u in range(1, n_users + 1)
             for m in movies if rng.random() < 0.7 or m == 1]
    folder.mkdir(parents=True)
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    (folder / "u.item").write_bytes(U_ITEM.encode("latin-1"))
    return len(lines)


def test_ml100k_u_item_has_its_genres_titles_and_quirks(tmp_path):
    (tmp_path / "u.item").write_bytes(U_ITEM.encode("latin-1"))
    movies = read_movies(tmp_path / "u.item", "u.item").set_index("movieId")
    assert movies.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert movies.loc[2, "genres"] == "Action|Adventure|Thriller"  # the stray trailing pipe changes nothing
    assert movies.loc[267, "title"] == "unknown" and movies.loc[267, "genres"] == "(no genres listed)"
    assert movies.loc[1300, "title"] == "'Til There Was You (1997)"  # a title without its year gets the date's
    assert movies.loc[5, "title"] == "Café au lait (1994)"  # Latin-1
    assert len(ML100K_GENRES) == 19


def test_an_ml100k_folder_and_its_zip_layout_load_as_a_dataset(tmp_path):
    n = _ml100k(tmp_path / "ml-100k")
    dataset = load_dataset(tmp_path, download=False)  # the release's folder one level down, as in its zip
    assert dataset.n_ratings == n and dataset.n_movies == 5 and dataset.n_users == 30
    assert dataset.ratings["rating"].dtype == np.float32
    assert set(dataset.ratings["rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_ml1m_dat_files_read_fast_with_their_line_numbers_in_errors(tmp_path):
    lines = [f"{u}::{m}::{(u + m) % 5 + 1}::97830{u:04d}" for u in range(1, 2001) for m in range(1, 51)]
    (tmp_path / "ratings.dat").write_text("\n".join(lines) + "\n")
    ratings = read_ratings(tmp_path / "ratings.dat", "ratings.dat")
    assert len(ratings) == 100_000 and ratings["userId"].iloc[-1] == 2000 and ratings["rating"].iloc[0] == 3.0
    lines[41] = "7::x::3::978300760"
    (tmp_path / "ratings.dat").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"ratings.dat: column 'movieId' line 42: 'x'"):
        read_ratings(tmp_path / "ratings.dat", "ratings.dat")
    (tmp_path / "movies.dat").write_bytes("1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji, the "
                                          "Game (1995)::Adventure\n".encode("latin-1"))
    movies = read_movies(tmp_path / "movies.dat", "movies.dat")
    assert movies["title"].tolist() == ["Toy Story (1995)", "Jumanji, the Game (1995)"]  # a comma in a title


def test_a_u_data_line_with_too_few_fields_is_named(tmp_path):
    (tmp_path / "u.data").write_text("1\t2\t3\t4\n5\n")
    with pytest.raises(DataError, match="u.data"):
        read_ratings(tmp_path / "u.data", "u.data")


def test_a_clean_dat_file_takes_the_fast_path_and_equals_the_careful_one(tmp_path):
    from cfcore.data.read import Limits, read_ratings_carefully, read_ratings_fast

    raw = "".join(f"{u}::{m}::{(u * m) % 5 + 1}::9783{u:05d}\n" for u in range(1, 301) for m in (1, 5, 9)).encode()
    fast = read_ratings_fast(raw, Limits(), "ratings.dat")
    assert fast is not None and fast.attrs["lines"][0] == 1  # no header: the first rating is line 1
    careful = read_ratings_carefully(raw, "ratings.dat", Limits())
    assert fast.equals(careful)
    assert read_ratings_fast(raw.replace(b"5::", b"5.5::", 1), Limits(), "ratings.dat") is None  # careful path
