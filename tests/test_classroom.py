"""The classroom pass (issue 15): numbers that misled a new user, widgets that surprised one, and words."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cfcore import share
from cfcore.analysis.baselines import diverged
from cfcore.analysis.pca import pc1_average_alignment, pca
from cfcore.analysis.predict import user_ratings
from cfcore.text import count
from tests.support.app import assert_page, chart_specs, open_app, page_app, page_texts
from tests.support.data import make_synthetic_frames
from tests.support.workspaces import seed_workspace


@pytest.fixture(scope="module")
def wild_run(synthetic_dataset):
    """simple_dot with Adam at learning rate 1: its validation RMSE climbs from 17 to 87, far off the scale."""
    from cfcore.config import TrainConfig
    from cfcore.training.fit import train

    return train(synthetic_dataset, TrainConfig(model="simple_dot", embedding_dim=8, epochs=3, batch_size=16,
                                                learning_rate=1.0, patience=0, seed=1))


# -- numbers that mislead ------------------------------------------------------------------------------


def test_a_diverged_run_is_called_so_and_kept_off_comparisons(wild_run, tiny_run, dot_run):
    # dot_run is two epochs of simple_dot, still falling from far above the global mean: not diverged.
    assert diverged(wild_run) and not diverged(tiny_run) and not diverged(dot_run)
    at = page_app("train", wild_run).run()
    assert_page(at, "Train")
    assert "diverged: lower the learning rate" in page_texts(at, "markdown")
    assert "finished" not in page_texts(at, "markdown").split("diverged")[0][-20:]
    assert any("blew up" in w.value for w in at.warning)

    at = page_app("compare", tiny_run, wild=wild_run).run()
    assert_page(at, "Compare")
    curves = next(f for f in chart_specs(at) if f["layout"].get("xaxis", {}).get("title", {}).get("text") == "epoch")
    assert [trace["name"] for trace in curves["data"]] == ["tiny"]  # the RMSE of 87 does not flatten the rest
    assert "they diverged (lower the learning rate): wild" in page_texts(at, "caption")


def test_predictions_off_the_rating_scale_are_flagged_and_drawn(wild_run, tiny_run):
    user = int(wild_run.dataset.index_to_user[0])
    at = page_app("recommend", wild_run)
    at.query_params["user"] = str(user)
    at.run()
    assert_page(at, "Recommend")
    warning = page_texts(at, "warning")
    assert "fall outside the 0.5 to 5 star scale" in warning and "this run diverged" in warning
    scatter = next(f for f in chart_specs(at) if any(t.get("name") == "perfect" for t in f["data"]))
    highest = float(user_ratings(wild_run, user)["predicted"].max())
    assert scatter["layout"]["yaxis"]["range"][1] >= highest > 5  # the axis shows them
    assert scatter["layout"]["shapes"]  # the off-scale band is shaded

    at = page_app("recommend", tiny_run).run()
    assert "outside the" not in page_texts(at, "warning")


def test_reference_lines_name_the_baselines_and_the_article_only_on_its_data(tiny_run, movielens_path):
    at = page_app("train", tiny_run).run()
    assert_page(at, "Train")
    curve = next(f for f in chart_specs(at) if "RMSE per epoch" in str(f["layout"].get("title", {}).get("text")))
    names = [trace["name"] for trace in curve["data"]]
    assert names[:2] == ["train RMSE", "validation RMSE"]
    assert any(n.startswith("global mean: ") for n in names) and any(n.startswith("biases only: ") for n in names)
    assert not any("article" in n for n in names)  # synthetic data: the article's numbers do not apply
    assert not curve["layout"].get("annotations")  # no labels on the plot to sit under the curves
    assert all(m.delta is None or "article" not in str(m.delta) for m in at.metric)

    from cfcore.data.dataset import is_article_dataset
    from cfcore.data.sources import load_dataset

    assert is_article_dataset(load_dataset(movielens_path)) and not is_article_dataset(tiny_run.dataset)
    from cfcore.figures.training import training_curves

    lines = {"article, simple_dot": 1.08, "article, dot_with_bias": 0.88, "article, simple_embedding": 1.13,
             "global mean": 1.046, "biases only": 0.865}
    drawn = [trace.name for trace in training_curves([], 10, lines).data[2:]]
    assert drawn == ["article, simple_embedding: 1.130", "article, simple_dot: 1.080", "global mean: 1.046",
                     "article, dot_with_bias: 0.880", "biases only: 0.865"]


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


def test_explain_opens_on_a_movie_the_ratings_filter_lets_through(tiny_run):
    threshold = int(tiny_run.dataset.movies["num_ratings"].quantile(0.75))
    at = page_app("recommend", tiny_run).run()
    at.number_input(key="rec_min_ratings").set_value(threshold).run()
    at.session_state["rec_tab"] = "Explain a prediction"
    at.run()
    movie = at.selectbox(key="rec_movie").value
    counts = tiny_run.dataset.movies.set_index("movieId")["num_ratings"]
    assert counts[movie] > threshold


# -- widgets that surprise ---------------------------------------------------------------------------------


def test_rate_movies_yourself_adds_one_movie_per_enter_and_matches_titles_as_typed(tiny_run):
    at = page_app("recommend", tiny_run)
    at.session_state["rec_tab"] = "Rate movies yourself"
    at.run()
    proto = at.multiselect(key="rec_you_movies").proto
    assert proto.select_all == 0  # no "Select N matches": Enter on "Alien" added twenty movies
    assert proto.max_selections == 20
    finder = page_app("embeddings", tiny_run).run().selectbox(key="emb_movie").proto
    assert [proto.filter_mode, finder.filter_mode] == [finder.filter_mode, finder.filter_mode]
    assert finder.filter_mode != type(finder).DESCRIPTOR.fields_by_name["filter_mode"].default_value


def test_tabs_open_where_the_learner_left_them_after_a_page_switch(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/recommend.py")
    at.session_state["rec_tab"] = "Explain a prediction"
    at.run()
    assert at.selectbox(key="rec_movie")
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/recommend.py").run()
    assert not at.exception and at.session_state["rec_tab"] == "Explain a prediction"
    assert at.selectbox(key="rec_movie") and not at.get("multiselect")

    at.switch_page("pages/compare.py").run()
    at.session_state["cmp_load_tab"] = "From a zip"
    at.run()
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/compare.py").run()
    assert at.session_state["cmp_load_tab"] == "From a zip"


def test_a_ratings_filter_above_every_movie_says_why_everything_is_empty(tiny_run):
    most = int(tiny_run.dataset.movies["num_ratings"].max())
    at = page_app("embeddings", tiny_run).run()
    at.number_input(key="emb_min_ratings").set_value(most).run()
    assert_page(at, "Embeddings")
    assert f"the most-rated one has {most:,}" in page_texts(at, "warning")
    assert len(at.dataframe) == 0  # no empty ranking tables
    assert "a rarer movie's title finds nothing here" in page_texts(at, "caption")


def test_a_new_dataset_under_an_old_model_is_pointed_out(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/embeddings.py")
    assert "was trained on" not in page_texts(at, "warning")
    ratings, movies = make_synthetic_frames(n_users=30, n_movies=20, seed=5)
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload_ratings").set_value(("ratings.csv", ratings.to_csv(index=False).encode(),
                                                           "text/csv"))
    at.file_uploader(key="data_upload_movies").set_value(("movies.csv", movies.to_csv(index=False).encode(),
                                                          "text/csv"))
    at.run()
    for page in ("pages/embeddings.py", "pages/recommend.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert ("was trained on" in page_texts(at, "warning")
                and "not on the data now loaded" in page_texts(at, "warning"))


def test_bad_values_in_a_shared_link_are_named(data_env):
    at = open_app(page="pages/train.py", epochs="9999", model="foo", learning_rate="0.0013", seed="abc")
    warnings = page_texts(at, "warning")
    assert "epochs=9999 is not on the page's controls: the nearest, 50, is used" in warnings
    assert "model='foo' is not one of simple_dot, dot_with_bias, simple_embedding" in warnings
    assert "learning_rate=0.0013" in warnings and "seed='abc'" in warnings
    assert at.slider(key="train_epochs").value == 50
    assert share.config_link_notes(share.config_to_params(share.TrainConfig())) == []  # a clean link: no notes


def test_under_the_hood_says_when_it_cuts_or_replaces_the_weather(data_env):
    at = open_app(page="pages/under_the_hood.py")
    at.text_input(key="uth_days").set_value(", ".join(["sunny", "rainy"] * 10)).run()
    assert "Showing the first 14 of your 20 days" in page_texts(at, "info")
    at.text_input(key="uth_days").set_value("hail, , ").run()
    assert "Skipping unknown tags: hail" in page_texts(at, "warning")
    assert "No known weather tag to look up yet: showing one sunny day" in page_texts(at, "info")


# -- words ---------------------------------------------------------------------------------------------------


def test_counts_read_as_words():
    assert [count(1, "movie"), count(2, "movie"), count(1235, "movie"), count(1, "more movie", "more movies")] == [
        "1 movie", "2 movies", "1,235 movies", "1 more movie"]


def test_no_raw_keys_and_every_number_says_what_it_is_over(tiny_run, dot_run):
    at = page_app("compare", tiny_run, dot=dot_run).run()
    assert list(at.radio(key="cmp_metric").options) == ["validation RMSE", "training RMSE", "validation loss",
                                                       "training loss"]
    assert not any("val_rmse" in json.dumps(f["layout"]) for f in chart_specs(at))

    movie = int(tiny_run.dataset.movies["movieId"].iloc[0])
    at = page_app("embeddings", tiny_run)
    at.query_params.update({"movie": str(movie), "minr": "0"})
    at.run()
    neighbours = at.dataframe[-1].value
    assert list(neighbours.columns)[:2] == ["title", "similarity"]

    at = page_app("recommend", tiny_run)
    user = int(tiny_run.dataset.index_to_user[0])
    at.query_params["user"] = str(user)
    at.run()
    held_out = int((user_ratings(tiny_run, user)["split"] == "validation").sum())
    assert f"RMSE, {count(held_out, 'held-out rating')}" in [m.label for m in at.metric]


# -- projector and presenter -----------------------------------------------------------------------------------


def test_presenter_mode_from_the_link_and_the_toggle(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/train.py", present="1")
    assert at.session_state["present"] is True and at.query_params["present"] == "1"
    assert any("font-size: 20px" in h.proto.body for h in at.get("html"))
    assert at.selectbox(key="present_active_run").value == "tiny"  # the picker, on the page itself
    curve = next(f for f in chart_specs(at) if "RMSE per epoch" in str(f["layout"].get("title", {}).get("text")))
    assert curve["layout"]["xaxis"]["tickfont"]["size"] >= 14 and curve["layout"]["yaxis"]["tickfont"]["size"] >= 14
    at.sidebar.toggle(key="present").set_value(False).run()
    assert "present" not in at.query_params
    assert not any(box.key == "present_active_run" for box in at.get("selectbox"))
    curve = next(f for f in chart_specs(at) if "RMSE per epoch" in str(f["layout"].get("title", {}).get("text")))
    assert "tickfont" not in curve["layout"].get("xaxis", {})  # the shared figure itself was never enlarged


def test_pressing_train_scrolls_the_live_panel_into_view(data_env):
    at = open_app(page="pages/train.py")
    at.selectbox(key="train_preset").set_value("fast").run()
    at.button(key="train_start").click().run()
    scripts = [h.proto.body for h in at.get("html") if "scrollIntoView" in h.proto.body]
    assert scripts == ["<script>document.querySelector('.st-key-train_panel')?.scrollIntoView({block: 'start'});"
                       "</script>"]
    at.run()
    assert not any("scrollIntoView" in h.proto.body for h in at.get("html"))  # once, not on every rerun


def test_the_hand_made_layer_can_start_the_articles_way(dot_run):
    """Same seed, same start: identical curves, and the page says why; the toggle gives the article's own start."""
    from ui.services import training_manager

    at = page_app("under_the_hood", dot_run).run()
    assert "both start from the very same weights" in page_texts(at, "markdown")
    at.toggle(key="uth_own_init").set_value(True).run()
    at.button(key="uth_train").click().run()
    manager = training_manager()
    [job] = manager.jobs(at.session_state["ws_id"])
    assert job.config.model == "simple_embedding" and job.config.own_init is True
    assert manager.wait(job, timeout=120)
    at.run()
    assert_page(at, "Under the hood")
    caption = page_texts(at, "caption")
    assert "From its own start the hand-made layer ends" in caption and "global mean" in caption


# -- found in review -------------------------------------------------------------------------------------------


def test_overflowing_link_numbers_are_named_not_a_crash(data_env):
    view, notes = share.params_to_view({"perp": "1e400", "tseed": "inf", "minr": "-inf"})
    assert view == {} and len(notes) == 3
    at = open_app(page="pages/data.py", perp="1e400", tseed="inf")
    assert not at.exception


def test_an_empty_map_with_a_count_colouring_is_a_message(tiny_run):
    at = page_app("embeddings", tiny_run)
    at.query_params.update({"colour": "number of ratings", "minr": "1000"})
    at.run()
    assert_page(at, "Embeddings")
    assert "No movie passes the ratings filter above" in page_texts(at, "info")


def test_a_genre_named_like_a_column_is_still_a_genre(tiny_run):
    from cfcore.analysis.projection import movie_map
    from cfcore.figures.embeddings import pc_scatter

    frame = movie_map(tiny_run, "pca", 0)
    frame.loc[frame.index[:3], "genres"] = "title|x"
    for genre in ("title", "x"):
        figure = pc_scatter(frame, genre, x="x", y="y")
        assert [trace.name for trace in figure.data] == ["other", genre]


def test_similarity_refuses_a_diverged_runs_nan_factors(wild_run):
    from dataclasses import replace

    from cfcore.analysis.similarity import SimilarityError, compare_runs
    from cfcore.runs.embeddings import Embeddings

    broken = wild_run.embeddings.movie.copy()
    broken[0, 0] = np.nan
    nan_run = replace(wild_run, embeddings=Embeddings(**{**wild_run.embeddings.__dict__, "movie": broken}))
    with pytest.raises(SimilarityError, match="NaN or infinity"):
        compare_runs(nan_run, wild_run, 0)


def test_a_narrow_rating_scale_does_not_make_a_young_run_diverged():
    from cfcore.config import TrainConfig
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings
    from cfcore.training.fit import train

    ratings, movies = make_synthetic_frames(seed=3)
    ratings["rating"] = np.where(ratings["rating"] > 3, 5.0, 4.0)  # every rating 4 or 5
    data = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "narrow")
    young = train(data, TrainConfig(model="simple_dot", embedding_dim=4, epochs=1, batch_size=64,
                                    learning_rate=0.01, patience=0, seed=1))
    assert young.result.history[-1]["val_rmse"] > data.max_rating - data.min_rating  # the old rule's trap
    assert not diverged(young)
