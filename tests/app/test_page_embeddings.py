"""AppTest for the Embeddings page's movie map (issue 20): t-SNE in the background, colours, the view in the link
and the workspace, and the exports."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest

from cfcore import share
from cfcore.analysis.projection import movie_map, vectors_key
from tests.support.app import assert_page, chart_specs, figure_array, open_app, page_app
from tests.support.text import shown
from tests.support.workspaces import seed_workspace

TSNE_VIEW = {"proj": "tsne", "perp": "5", "tseed": "3", "minr": "0"}


def _axis(figure: dict) -> str:
    return str(figure["layout"].get("xaxis", {}).get("title", {}).get("text", ""))


def _map(at) -> dict:
    return next(f for f in chart_specs(at) if _axis(f).startswith(("t-SNE", "PC1 (")))


def _job_for(run, seed: int, perplexity: float, min_ratings: int = 0):
    from ui import services

    movies = movie_map(run, "pca", min_ratings)
    return services.projections().get(vectors_key(run.embeddings.movie[movies.index.to_numpy()], seed, perplexity))


def test_tsne_is_computed_in_the_background_while_other_pages_render(tiny_run, routed):
    from ui import services

    jobs = services.projections()
    jobs._slots.acquire()  # another map holds the one slot: this one has to wait, however fast it would be
    try:
        at = page_app("embeddings", tiny_run)
        at.query_params.update(TSNE_VIEW)
        started = time.monotonic()
        at.run()
        assert_page(at, "Embeddings")
        assert time.monotonic() - started < 30
        assert any("Computing the t-SNE map of 40 movies" in p.proto.text for p in at.get("progress"))
        job = _job_for(tiny_run, 3, 5.0)
        assert job is not None and job.state == "queued"
        other = page_app("recommend", tiny_run).run()  # another page, while the map waits
        assert_page(other, "Recommend")
        assert job.state == "queued"
    finally:
        jobs._slots.release()
    deadline = time.monotonic() + 120
    while not job.finished:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job.state == "done", job.error
    at.run()
    assert_page(at, "Embeddings")
    figure = _map(at)
    assert figure["layout"]["xaxis"]["title"]["text"] == "t-SNE 1 (no unit)"
    expected = movie_map(tiny_run, "tsne", 0, seed=3, perplexity=5)
    assert np.allclose(figure_array(figure["data"][0]["x"]), expected["x"])
    assert len(figure_array(figure["data"][0]["x"])) == tiny_run.dataset.n_movies  # every movie, no sampling
    assert "distances between groups" in " ".join(c.value for c in at.caption)


def test_pca_axes_are_named_and_colours_cover_ratings_counts_pcs_and_genres(tiny_run):
    at = page_app("embeddings", tiny_run)
    at.query_params["minr"] = "0"
    at.run()
    figure = _map(at)
    assert figure["layout"]["xaxis"]["title"]["text"].startswith("PC1 (") and "% of the variance" in \
        figure["layout"]["yaxis"]["title"]["text"]
    hover = figure["data"][0]["hovertemplate"]
    assert "customdata[4]" in hover  # genres, next to title, mean rating and count
    import plotly.colors

    for colour, scale in (("number of ratings", "Cividis"), ("PC1", "RdBu"), ("mean rating", "Viridis")):
        at.selectbox(key="emb_colour").set_value(colour).run()
        marker = _map(at)["data"][0]["marker"]
        # Plotly writes a named scale out as [position, colour] pairs: compare them with the scale's own.
        assert [pair[1] for pair in marker["colorscale"]] == [
            pair[1] for pair in plotly.colors.get_colorscale(scale)], colour
    at.selectbox(key="emb_colour").set_value("Drama").run()
    assert [trace["name"] for trace in _map(at)["data"]] == ["other", "Drama"]


def test_a_link_opens_its_view_and_says_which_values_it_changed(tiny_run):
    at = page_app("embeddings", tiny_run)
    at.query_params.update({"proj": "tsne", "perp": "500", "tseed": "2", "colour": "number of ratings",
                            "minr": "-4"})
    at.run()
    assert_page(at, "Embeddings")
    assert at.radio(key="emb_projection").value == "tsne"
    assert at.slider(key="emb_perplexity").value == 50 and at.number_input(key="emb_tsne_seed").value == 2
    assert at.selectbox(key="emb_colour").value == "number of ratings"
    assert at.number_input(key="emb_min_ratings").value == 0
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert "perp=500 is outside 5 to 50" in warnings and "minr=-4" in warnings
    assert at.query_params["proj"] == "tsne" and at.query_params["perp"] == "50"

    at = page_app("embeddings", tiny_run)
    at.query_params.update({"proj": "umap", "colour": "Westerns"})
    at.run()
    assert at.radio(key="emb_projection").value == "pca"
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert "proj='umap' is not a projection" in warnings and "colour='Westerns'" in warnings


def test_the_view_is_kept_in_the_workspace(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/embeddings.py")
    at.radio(key="emb_projection").set_value("tsne").run()
    at.selectbox(key="emb_colour").set_value("PC2").run()
    at.number_input(key="emb_min_ratings").set_value(3).run()
    assert not at.exception
    again = open_app(ws, page="pages/embeddings.py")  # a new session on the workspace's link
    assert_page(again, "Embeddings")
    assert again.radio(key="emb_projection").value == "tsne"
    assert again.selectbox(key="emb_colour").value == "PC2"
    assert again.number_input(key="emb_min_ratings").value == 3


def test_link_to_this_view_carries_a_copy_of_the_run_and_the_view(tiny_run):
    at = page_app("embeddings", tiny_run)
    at.query_params.update({"colour": "PC1", "minr": "2"})
    at.run()
    at.button(key="emb_share_view").click().run()
    link = next(c.value for c in at.code if "shared_run=" in c.value)
    assert "colour=PC1" in link and "minr=2" in link and "proj=pca" in link
    token = link.split("shared_run=")[1].split("&")[0]
    friend = page_app("embeddings")
    for part in link.split("?")[1].split("&"):
        key, value = part.split("=", 1)
        friend.query_params[key] = value.replace("+", " ")
    assert friend.query_params["shared_run"] == token
    friend.run()
    assert_page(friend, "Embeddings")
    assert friend.selectbox(key="emb_colour").value == "PC1" and friend.number_input(key="emb_min_ratings").value == 2
    assert friend.session_state["ws_id"] != at.session_state["ws_id"]


def test_the_map_and_neighbour_downloads_neutralise_formulas(tiny_run):
    placed = movie_map(tiny_run, "pca", 0).copy()
    placed.loc[placed.index[0], "title"] = '=HYPERLINK("http://example.com","x")'
    table = pd.read_csv(io.BytesIO(share.map_csv_bytes(placed)))
    assert list(table.columns) == ["movieId", "title", "genres", "mean_rating", "num_ratings", "x", "y"]
    assert table["title"].iloc[0].startswith("'=") and len(table) == tiny_run.dataset.n_movies
    assert np.allclose(table["x"], placed["x"])


@pytest.mark.parametrize("page", ["embeddings", "data"])
def test_every_chart_saves_a_projector_sized_image_in_the_chosen_format(tiny_run, page):
    import json

    at = page_app(page, tiny_run).run()
    configs = [json.loads(c.proto.config)["toImageButtonOptions"] for c in at.get("plotly_chart")]
    assert configs and all(c["width"] == 1920 and c["height"] == 1080 and c["format"] == "png" for c in configs)
    at.session_state["chart_image_format"] = "svg"
    at.run()
    assert all(json.loads(c.proto.config)["toImageButtonOptions"]["format"] == "svg"
               for c in at.get("plotly_chart"))


def test_a_map_draws_at_most_the_cap_the_most_rated_and_says_so(tiny_run, monkeypatch):
    from cfcore import constants
    from cfcore.analysis.movies import most_rated

    monkeypatch.setattr(constants, "MAP_MAX_MOVIES", 25)
    counts = tiny_run.dataset.movies.set_index("movieId")["num_ratings"]
    expected = set(most_rated(movie_map(tiny_run, "pca", 0), 25)["movieId"])
    at = page_app("embeddings", tiny_run)
    at.query_params["minr"] = "0"
    at.run()
    assert_page(at, "Embeddings")
    drawn = [int(row[0]) for trace in _map(at)["data"] for row in trace["customdata"]]
    assert len(drawn) == 25 and set(drawn) == expected
    assert min(counts[drawn]) >= max(counts.drop(drawn))  # the most-rated ones
    captions = " ".join(c.value for c in at.caption)
    assert f"Showing the 25 most-rated of the {tiny_run.dataset.n_movies} movies with more than 0 ratings" in captions
    assert "Raise *Only movies with more than this many ratings*" in captions
    assert len(at.selectbox(key="emb_movie").options) == 25  # the finder lists the movies on the map


def test_tsne_places_the_movies_the_capped_map_draws(tiny_run, monkeypatch, routed):
    from cfcore import constants
    from cfcore.analysis.movies import most_rated
    from ui import services

    monkeypatch.setattr(constants, "MAP_MAX_MOVIES", 25)
    movies = most_rated(movie_map(tiny_run, "pca", 0), 25)
    at = page_app("embeddings", tiny_run)
    at.query_params.update(TSNE_VIEW)
    at.run()
    assert_page(at, "Embeddings")
    assert any("Computing the t-SNE map of 25 movies" in p.proto.text for p in at.get("progress"))
    job = services.projections().get(vectors_key(tiny_run.embeddings.movie[movies.index.to_numpy()], 3, 5.0))
    deadline = time.monotonic() + 120
    while not job.finished:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job.state == "done", job.error
    at.run()
    figure = _map(at)
    assert figure["layout"]["xaxis"]["title"]["text"] == "t-SNE 1 (no unit)"
    assert [int(row[0]) for row in figure["data"][0]["customdata"]] == movies["movieId"].tolist()
