"""A stranger on a public server: what one visitor uploads never reaches another (issue 19, AppTest)."""

from __future__ import annotations

from tests.support.app import open_app


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


CANARY = "![c](http://127.0.0.1:9/canary.png)"


def _markdown_on_page(at) -> list[str]:
    kinds = ("markdown", "caption", "subheader", "title", "header", "error", "warning", "info", "success")
    return [element.value for kind in kinds for element in at.get(kind)]


def test_markdown_in_titles_and_file_names_is_shown_as_text(data_env, synthetic_frames):
    """A title or file name with Markdown image syntax made every visitor's browser fetch it (issue 19.6)."""
    import re

    from tests.support.text import shown

    ratings, movies = synthetic_frames
    hostile = movies.assign(title=[f"{CANARY} [link](http://evil.example) {i}" for i in range(len(movies))])
    at = open_app()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload_ratings").set_value((f"{CANARY}.csv", ratings.to_csv(index=False).encode(),
                                                           "text/csv"))
    at.file_uploader(key="data_upload_movies").set_value(("m.csv", hostile.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert not at.exception
    texts = _markdown_on_page(at) + [c.value for c in at.sidebar.caption]
    assert any(CANARY in shown(text) for text in texts), "the file name should be on the page, as text"
    for text in texts:
        assert not re.search(r"(?<!\\)!\[|(?<!\\)\]\(", text), text
