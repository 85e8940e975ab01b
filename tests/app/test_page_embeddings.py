"""AppTest of the Embeddings page: the heatmap, the variance and the rankings, a movie's neighbours, and
the movie map (t-SNE in the background, colours, the view in the link and in the workspace)."""

from __future__ import annotations

import time

import numpy as np

from cfcore.analysis.neighbours import nearest_movies
from cfcore.analysis.pca import pc1_average_alignment, pc_rankings, pca
from cfcore.analysis.projection import movie_map, vectors_key
from tests.support.app import assert_page, chart_specs, figure_array, named_trace, open_app, page_app, page_texts
from tests.support.text import shown
from tests.support.waiting import wait_for
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
    jobs.slots.acquire()  # another map holds the one slot: this one has to wait, however fast it would be
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
        jobs.slots.release()
    assert wait_for(lambda: job.finished, timeout=120)
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
    assert wait_for(lambda: job.finished, timeout=120)
    assert job.state == "done", job.error
    at.run()
    figure = _map(at)
    assert figure["layout"]["xaxis"]["title"]["text"] == "t-SNE 1 (no unit)"
    assert [int(row[0]) for row in figure["data"][0]["customdata"]] == movies["movieId"].tolist()


def test_analysis_pages_point_to_train_when_there_is_no_model(data_env):
    at = open_app(page="pages/embeddings.py")
    assert any("Train" in info.value for info in at.info)


def test_embeddings_page_heatmap_variance_rankings_and_map(tiny_run):
    at = page_app("embeddings", tiny_run).run()
    assert_page(at, "Embeddings")
    heatmap, variance, scatter = chart_specs(at)[:3]
    z = figure_array(heatmap["data"][0]["z"])
    assert z.shape == (20, tiny_run.config.embedding_dim)
    assert heatmap["data"][0]["zmid"] == 0
    assert len(figure_array(variance["data"][0]["x"])) == tiny_run.config.embedding_dim
    assert len(figure_array(scatter["data"][0]["x"])) == int((tiny_run.dataset.movies["num_ratings"] > 20).sum())
    tables = at.dataframe[:4]
    for table in tables:
        assert list(table.value.columns) == ["title", "PC1", "PC2", "rating", "genres", "num_ratings"]
        assert len(table.value) == 10
        assert not table.value["genres"].str.contains("|", regex=False).any()
        assert (table.value["num_ratings"] > 20).all()
    # PC1 lowest is sorted ascending, highest descending.
    assert tables[0].value["PC1"].is_monotonic_increasing
    assert tables[1].value["PC1"].is_monotonic_decreasing
    assert at.info  # no movie picked yet: a hint instead of neighbours

    at.slider(key="emb_heatmap_rows").set_value(7)
    threshold = int(tiny_run.dataset.movies["num_ratings"].quantile(0.75))
    at.number_input(key="emb_min_ratings").set_value(threshold)
    at.slider(key="emb_top").set_value(3)
    at.toggle(key="emb_centered").set_value(True)
    at.run()
    assert_page(at, "Embeddings")
    heatmap, variance, scatter = chart_specs(at)[:3]
    assert figure_array(heatmap["data"][0]["z"]).shape == (7, tiny_run.config.embedding_dim)
    assert "centered" in variance["layout"]["title"]["text"] and "uncentered" not in variance["layout"]["title"]["text"]
    expected = pc_rankings(tiny_run, threshold, 3, centered=True)
    for table, key in zip(at.dataframe[:4], ("pc1_lowest", "pc1_highest", "pc2_lowest", "pc2_highest"), strict=True):
        assert table.value["title"].tolist() == expected[key]["title"].tolist()
        assert (table.value["num_ratings"] > threshold).all()
    assert len(figure_array(scatter["data"][0]["x"])) == int((tiny_run.dataset.movies["num_ratings"] > threshold).sum())


def test_embeddings_search_shows_neighbours_highlight_and_sets_the_url(tiny_run):
    at = page_app("embeddings", tiny_run).run()
    movie_id = int(tiny_run.dataset.movies["movieId"].iloc[4])
    at.selectbox(key="emb_movie").set_value(movie_id).run()
    at.radio(key="emb_metric").set_value("dot").run()
    assert_page(at, "Embeddings")
    neighbours = at.dataframe[4].value
    expected = nearest_movies(tiny_run, movie_id, k=10, metric="dot", min_ratings=20)
    assert neighbours["title"].tolist() == expected["title"].tolist()
    assert tiny_run.dataset.movies["title"].iloc[4] not in neighbours["title"].tolist()
    scatter = chart_specs(at)[2]
    assert named_trace(scatter, "selected")["customdata"][0][0] == movie_id
    assert at.query_params["movie"] == str(movie_id)


def test_embeddings_opens_on_the_movie_in_the_url_and_ignores_bad_ids(tiny_run):
    movie_id = int(tiny_run.dataset.movies["movieId"].iloc[2])
    at = page_app("embeddings", tiny_run)
    at.query_params["movie"] = str(movie_id)
    at.run()
    assert_page(at, "Embeddings")
    assert at.selectbox(key="emb_movie").value == movie_id
    assert len(at.dataframe) == 7  # the four rankings, the neighbours and the two bias tables

    at = page_app("embeddings", tiny_run)
    at.query_params["movie"] = "999999999"
    at.run()
    assert_page(at, "Embeddings")
    assert at.selectbox(key="emb_movie").value is None
    assert "movie" not in at.query_params


def test_embeddings_finder_lists_the_movies_on_the_map(tiny_run):
    movies = tiny_run.dataset.movies
    threshold = int(movies["num_ratings"].quantile(0.75))
    rare = movies[movies["num_ratings"] <= threshold]
    at = page_app("embeddings", tiny_run)
    at.query_params["movie"] = str(int(rare["movieId"].iloc[0]))  # a shared link to a movie below the filter
    at.run()
    at.number_input(key="emb_min_ratings").set_value(threshold).run()
    assert_page(at, "Embeddings")
    listed = at.selectbox(key="emb_movie").options
    expected = set(movies.loc[movies["num_ratings"] > threshold, "title"]) | {rare["title"].iloc[0]}
    assert set(listed) == expected and len(listed) == len(expected) < len(movies)
    assert at.selectbox(key="emb_movie").value == int(rare["movieId"].iloc[0])
    at.number_input(key="emb_min_ratings").set_value(0).run()
    assert len(at.selectbox(key="emb_movie").options) == len(movies)


def test_embeddings_colour_by_genre_and_downloads(tiny_run):
    at = page_app("embeddings", tiny_run).run()
    at.selectbox(key="emb_colour").set_value("Comedy").run()
    assert_page(at, "Embeddings")
    assert [trace["name"] for trace in chart_specs(at)[2]["data"]] == ["other", "Comedy"]
    assert {b.key for b in at.get("download_button")} >= {"emb_download_csv", "emb_download_vectors",
                                                          "emb_download_metadata"}


def test_the_pca_text_says_what_pc1_is_for_the_run_on_screen(tiny_run):
    rng = np.random.default_rng(0)
    shared = rng.normal(size=8)
    offset = shared + 0.05 * rng.normal(size=(200, 8))  # every vector mostly the same direction
    zero_mean = rng.normal(size=(200, 8))
    assert pc1_average_alignment(offset, pca(offset)) > 0.99
    assert pc1_average_alignment(zero_mean, pca(zero_mean)) < 0.9

    at = page_app("embeddings", tiny_run).run()
    result = pca(tiny_run.embeddings.movie)
    alignment = pc1_average_alignment(tiny_run.embeddings.movie, result)
    text = page_texts(at, "caption")
    assert f"PC1 carries {result.explained[0]:.0%} of the variance" in text
    assert ("points along the average movie vector" in text) == (alignment > 0.9)
    assert ("is not the average movie vector" in text) == (alignment <= 0.9)
    at.toggle(key="emb_centered").set_value(True).run()
    assert "Centered: the average movie vector is subtracted first" in page_texts(at, "caption")


def test_a_ratings_filter_above_every_movie_says_why_everything_is_empty(tiny_run):
    most = int(tiny_run.dataset.movies["num_ratings"].max())
    at = page_app("embeddings", tiny_run).run()
    at.number_input(key="emb_min_ratings").set_value(most).run()
    assert_page(at, "Embeddings")
    assert f"the most-rated one has {most:,}" in page_texts(at, "warning")
    assert len(at.dataframe) == 0  # no empty ranking tables
    assert "a rarer movie's title finds nothing here" in page_texts(at, "caption")


def test_an_empty_map_with_a_count_colouring_is_a_message(tiny_run):
    at = page_app("embeddings", tiny_run)
    at.query_params.update({"colour": "number of ratings", "minr": "1000"})
    at.run()
    assert_page(at, "Embeddings")
    assert "No movie passes the ratings filter above" in page_texts(at, "info")


def test_the_biases_section_shows_for_a_model_with_biases_only(tiny_run, dot_run):
    from cfcore.analysis.biases import bias_rankings

    at = page_app("embeddings", tiny_run).run()
    assert_page(at, "Embeddings")
    assert "What the biases learned" in [s.value for s in at.subheader]
    expected = bias_rankings(tiny_run, min_ratings=20, top=10)
    shown_tables = [d.value for d in at.dataframe if "bias" in d.value.columns]
    assert [t["title"].tolist() for t in shown_tables] == [expected["lowest"]["title"].tolist(),
                                                            expected["highest"]["title"].tolist()]
    titles = [str(f["layout"].get("title", {}).get("text")) for f in chart_specs(at)]
    assert "Movie bias against mean rating" in titles and "User biases" in titles
    assert any("far from the line are the interesting ones" in c.value for c in at.caption)
    at = page_app("embeddings", dot_run).run()
    assert "What the biases learned" not in [s.value for s in at.subheader]
