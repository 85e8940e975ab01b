"""A stranger on a public server: what one visitor uploads never reaches another (issue 19, AppTest)."""

from __future__ import annotations

from tests.test_pages_part1 import open_app


def _upload(at, ratings: bytes, movies: bytes) -> None:
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload_ratings").set_value(("ratings.csv", ratings, "text/csv"))
    at.file_uploader(key="data_upload_movies").set_value(("movies.csv", movies, "text/csv"))
    at.run()
    assert not at.exception and not at.error, at.error


def _sample_titles(at) -> set[str]:
    return set(at.dataframe[0].value["title"])


def test_an_upload_with_the_built_in_ratings_never_shows_its_titles_to_others(data_env, synthetic_frames):
    """Same ratings, other titles: the shared caches must tell the two datasets apart."""
    ratings, movies = synthetic_frames
    poisoned = movies.assign(title=[f"POISONED by session A {i}" for i in range(len(movies))])
    attacker = open_app()
    _upload(attacker, ratings.to_csv(index=False).encode(), poisoned.to_csv(index=False).encode())
    assert any("POISONED" in title for title in _sample_titles(attacker))
    for visitor in (open_app(), open_app()):  # B on the built-in data, then a new visitor C
        assert visitor.session_state["dataset"].source == str(data_env)
        titles = _sample_titles(visitor)
        assert titles and not any("POISONED" in title for title in titles), titles
