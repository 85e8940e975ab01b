"""AppTest of the Data page: the summary, the split controls, uploads (one visitor's never reaches
another), and a built-in source that cannot be downloaded."""

from __future__ import annotations

import json

import pytest
import streamlit as st

from tests.support.app import open_app
from tests.support.text import shown


def _upload(at, ratings: bytes, movies: bytes) -> None:
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload_ratings").set_value(("ratings.csv", ratings, "text/csv"))
    at.file_uploader(key="data_upload_movies").set_value(("movies.csv", movies, "text/csv"))
    at.run()
    assert not at.exception and not at.error, at.error


def _sample_titles(at) -> set[str]:
    return set(at.dataframe[0].value["title"])


CANARY = "![c](http://127.0.0.1:9/canary.png)"


def _markdown_on_page(at) -> list[str]:
    kinds = ("markdown", "caption", "subheader", "title", "header", "error", "warning", "info", "success")
    return [element.value for kind in kinds for element in at.get(kind)]


def test_data_page_summarises_the_configured_dataset(data_env, synthetic_dataset):
    at = open_app()
    assert at.radio(key="data_source").value == "configured"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Users"] == f"{synthetic_dataset.n_users:,}"
    assert metrics["Movies"] == f"{synthetic_dataset.n_movies:,}"
    assert metrics["Ratings"] == f"{synthetic_dataset.n_ratings:,}"
    assert len(at.get("plotly_chart")) == 3
    assert len(at.dataframe) == 1 and "title" in at.dataframe[0].value.columns
    assert f"{synthetic_dataset.n_users:,} users" in at.sidebar.caption[0].value
    n_val = round(synthetic_dataset.n_ratings * 0.2)
    assert metrics["Validation ratings"] == f"{n_val:,}"
    assert "Val. ratings, new movie" in metrics and "Val. ratings, new user" in metrics


def test_the_data_overview_is_built_once_per_dataset_for_every_session(data_env, synthetic_frames, monkeypatch):
    from cfcore.figures import data as data_figures

    built: list[int] = []
    original = data_figures.ratings_per_user
    monkeypatch.setattr(data_figures, "ratings_per_user", lambda dataset: built.append(dataset.n_ratings) or
                        original(dataset))
    first, second = open_app(), open_app()  # two learners, the same configured data
    first.run()
    ratings, movies = synthetic_frames
    assert built == [len(ratings)]
    for at in (first, second):
        assert len(at.get("plotly_chart")) == 3 and len(at.dataframe) == 1
    # Other ratings (an upload) get their own overview: a shared one must never show another dataset.
    smaller = ratings.iloc[: len(ratings) // 2]
    second.radio(key="data_source").set_value("upload").run()
    second.file_uploader(key="data_upload_ratings").set_value(
        ("mine.csv", smaller.to_csv(index=False).encode(), "text/csv"))
    second.file_uploader(key="data_upload_movies").set_value(
        ("movies.csv", movies.to_csv(index=False).encode(), "text/csv"))
    second.run()
    assert not second.exception and second.session_state["dataset"].n_ratings == len(smaller)
    assert built == [len(ratings), len(smaller)]
    import plotly.io

    expected = json.loads(plotly.io.to_json(data_figures.rating_histogram(second.session_state["dataset"])))
    assert json.loads(second.get("plotly_chart")[0].proto.spec) == expected, "the histogram is not the upload's"
    assert first.get("plotly_chart")[0].proto.spec != second.get("plotly_chart")[0].proto.spec


def test_loading_the_data_takes_one_script_run_and_updates_the_sidebar(data_env, synthetic_dataset, monkeypatch):
    """The first visit loads the data and shows it in the sidebar (drawn earlier) in place, without a rerun."""
    import ui.sidebar

    calls = []
    original = ui.sidebar.sidebar
    monkeypatch.setattr(ui.sidebar, "sidebar", lambda *args: (calls.append(1), original(*args))[1])
    at = open_app()
    assert len(calls) == 1
    assert f"{synthetic_dataset.n_users:,} users" in at.sidebar.caption[0].value
    assert not any("None loaded" in c.value for c in at.sidebar.caption)


def test_split_controls_change_the_split_and_are_remembered(data_env, synthetic_dataset):
    at = open_app()
    at.slider(key="data_val_fraction").set_value(0.3).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Validation ratings"] == f"{round(synthetic_dataset.n_ratings * 0.3):,}"
    assert at.session_state["split_settings"] == {"val_fraction": 0.3, "seed": 42}
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/data.py").run()
    assert at.slider(key="data_val_fraction").value == pytest.approx(0.3)


def test_invalid_upload_shows_an_error_and_keeps_the_app_working(data_env, synthetic_frames):
    at = open_app()
    before = at.session_state["dataset"]
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload_ratings").set_value(("ratings.csv", b"userId,movieId\n1,2\n", "text/csv"))
    movies = synthetic_frames[1].to_csv(index=False).encode()
    at.file_uploader(key="data_upload_movies").set_value(("movies.csv", movies, "text/csv"))
    at.run()
    assert not at.exception
    message = shown(at.error[0].value)
    assert len(at.error) == 1 and "ratings.csv: line 1 (header): missing column(s) 'rating'" in message
    assert at.session_state["dataset"] is before  # the previous dataset stays active
    assert at.metric, "the page should still show the previous dataset's summary"


def test_valid_upload_becomes_the_session_dataset(data_env, synthetic_frames):
    at = open_app()
    at.radio(key="data_source").set_value("upload").run()
    ratings, movies = (frame.to_csv(index=False).encode() for frame in synthetic_frames)
    at.file_uploader(key="data_upload_ratings").set_value(("my_ratings.csv", ratings, "text/csv"))
    at.file_uploader(key="data_upload_movies").set_value(("my_movies.csv", movies, "text/csv"))
    at.run()
    assert not at.exception and not at.error
    dataset = at.session_state["dataset"]
    assert dataset.source.startswith("upload") and dataset.n_ratings == len(synthetic_frames[0])
    other = open_app()  # a second browser with no link: its own workspace, no trace of the upload
    assert not other.session_state["dataset"].source.startswith("upload")
    again = open_app(ws=at.session_state["ws_id"])  # the workspace's link (a reload): the upload is back
    assert again.session_state["dataset"].fingerprint == dataset.fingerprint
    assert again.radio(key="data_source").value == "upload" and not again.error


def test_offline_builtin_source_shows_the_alternatives(monkeypatch, tmp_path, routed):
    import cfcore.data.sources
    from cfcore.data.download import DownloadError

    def offline(*args, **kwargs):
        raise DownloadError("could not download ml-latest-small from files.grouplens.org: no network")

    monkeypatch.delenv("CFCORE_DATA", raising=False)
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(cfcore.data.sources, "download_dataset", offline)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_app()
    assert at.radio(key="data_source").value == "builtin"
    assert "could not download" in at.error[0].value
    assert any("Upload" in info.value for info in at.info)
    assert at.session_state["dataset"] is None
    at.button(key="data_retry").click().run()
    assert not at.exception and "could not download" in at.error[0].value


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


def test_markdown_in_titles_and_file_names_is_shown_as_text(data_env, synthetic_frames):
    """A title or file name with Markdown image syntax made every visitor's browser fetch it."""
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
