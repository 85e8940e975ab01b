"""AppTest of the Recommend page: a user's ratings and recommendations, rating movies yourself, and a
prediction explained."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.analysis.explain import explain_prediction
from cfcore.analysis.fold_in import fold_in, project_vector, recommend_for_vector
from cfcore.analysis.pca import movie_pca_frame
from cfcore.analysis.predict import predict, user_ratings, user_rmse
from cfcore.config import IMPLICIT_PART
from tests.support.app import assert_page, chart_specs, figure_array, named_trace, open_app, page_app, page_texts
from tests.support.workspaces import seed_workspace


def test_recommend_page_user_table_rmse_and_recommendations(tiny_run):
    dataset = tiny_run.dataset
    user_id = int(dataset.index_to_user[3])
    at = page_app("recommend", tiny_run)
    at.query_params["user"] = str(user_id)
    at.run()
    assert_page(at, "Recommend")
    select = at.selectbox(key="rec_user")
    assert select.value == user_id
    n = int((dataset.ratings["userId"] == user_id).sum())
    assert f"user {user_id} ({n} ratings)" in select.options
    rated, recs = at.dataframe[0].value, at.dataframe[1].value
    assert list(rated.columns) == ["title", "rating", "predicted", "error", "split"]
    assert len(rated) == n
    expected_rmse = user_rmse(user_ratings(tiny_run, user_id))
    assert at.metric[1].value == f"{expected_rmse:.3f}"
    seen = set(dataset.movies.set_index("movieId").loc[dataset.ratings.loc[dataset.ratings["userId"] == user_id,
                                                                           "movieId"], "title"])
    assert not seen & set(recs["title"])
    assert len(recs) <= 10
    scatter = chart_specs(at)[0]
    assert {t["name"] for t in scatter["data"]} >= {"perfect"}
    assert at.query_params["user"] == str(user_id)


def test_recommend_falls_back_to_the_ids_the_session_was_opened_with(tiny_run):
    # Page switches clear the URL; the app keeps a shared link's ids in session state.
    user_id, movie_id = int(tiny_run.dataset.index_to_user[5]), int(tiny_run.dataset.movies["movieId"].iloc[6])
    at = page_app("recommend", tiny_run)
    at.session_state["share_user"], at.session_state["share_movie"] = user_id, movie_id
    at.run()  # a session opened with a movie starts on its explanation
    assert_page(at, "Recommend")
    assert at.selectbox(key="rec_user").value == user_id
    assert at.selectbox(key="rec_movie").value == movie_id
    at = page_app("recommend", tiny_run)
    at.query_params["user"] = "not-a-user"
    at.run()
    assert_page(at, "Recommend")
    assert at.selectbox(key="rec_user").value == int(tiny_run.dataset.index_to_user[0])


def test_recommend_fold_in_matches_the_analysis_functions(tiny_run):
    dataset = tiny_run.dataset
    picked = [int(m) for m in dataset.movies["movieId"].iloc[:6]]
    ratings = dict(zip(picked, [5.0, 4.5, 1.0, 0.5, 3.0, 4.0], strict=True))
    at = page_app("recommend", tiny_run)
    at.session_state["rec_tab"] = "Rate movies yourself"
    at.run()
    at.multiselect(key="rec_you_movies").set_value(picked[:4]).run()
    assert any("1 more" in info.value for info in at.info)  # 4 of the minimum 5
    at.multiselect(key="rec_you_movies").set_value(picked).run()
    for movie_id, rating in ratings.items():
        at.slider(key=f"rec_you_rating_{movie_id}").set_value(rating)
    at.number_input(key="rec_min_ratings").set_value(0)
    at.run()
    assert_page(at, "Recommend")
    fold = fold_in(tiny_run, ratings)
    expected = recommend_for_vector(tiny_run, fold, top=10, exclude=ratings)
    mine = at.dataframe[0].value  # only the open tab is drawn
    assert mine["title"].tolist() == expected["title"].tolist()
    assert not set(mine["title"]) & set(dataset.movies["title"].iloc[:6])
    you = named_trace(chart_specs(at)[0], "you")
    assert (figure_array(you["x"])[0], figure_array(you["y"])[0]) == pytest.approx(project_vector(tiny_run, fold))


def test_recommend_draws_only_the_open_tab_and_keeps_your_ratings_when_you_look_away(tiny_run):
    picked = [int(m) for m in tiny_run.dataset.movies["movieId"].iloc[:3]]
    at = page_app("recommend", tiny_run).run()
    assert_page(at, "Recommend")
    assert len(at.dataframe) == 2 and not at.multiselect and not at.get("selectbox")[1:]  # only "This user"
    at.session_state["rec_tab"] = "Rate movies yourself"
    at.run()
    assert len(at.dataframe) == 0
    assert not [s for s in at.selectbox if s.key == "rec_user"]  # the user picker is not yours: not shown here
    at.multiselect(key="rec_you_movies").set_value(picked).run()
    at.slider(key=f"rec_you_rating_{picked[0]}").set_value(4.5).run()
    at.session_state["rec_tab"] = "Explain a prediction"
    at.run()
    assert not at.multiselect and at.selectbox(key="rec_movie").value is not None
    at.session_state["rec_tab"] = "Rate movies yourself"
    at.run()
    assert at.multiselect(key="rec_you_movies").value == picked
    assert at.slider(key=f"rec_you_rating_{picked[0]}").value == 4.5


@pytest.mark.parametrize("loves_high_pc1", [True, False])
def test_fold_in_known_case_lands_on_the_side_of_the_movies_you_love(tiny_run, loves_high_pc1):
    # Known case: loving the three highest-PC1 movies and hating the three lowest puts "you" far on the
    # positive PC1 side, and the reverse on the negative side; the fitted vector reproduces the ratings.
    _, frame = movie_pca_frame(tiny_run)
    ordered = frame.sort_values("PC1")["movieId"].astype(int).tolist()
    high, low = (5.0, 0.5) if loves_high_pc1 else (0.5, 5.0)
    ratings = {**{m: high for m in ordered[-3:]}, **{m: low for m in ordered[:3]}}
    at = page_app("recommend", tiny_run)
    at.session_state["rec_tab"] = "Rate movies yourself"
    at.run()
    at.multiselect(key="rec_you_movies").set_value(list(ratings)).run()
    for movie_id, rating in ratings.items():
        at.slider(key=f"rec_you_rating_{movie_id}").set_value(rating)
    at.run()
    assert_page(at, "Recommend")
    x = figure_array(named_trace(chart_specs(at)[0], "you")["x"])[0]
    assert (x > 1.0) if loves_high_pc1 else (x < -1.0)
    fit = at.dataframe[1].value
    assert len(fit) == 6
    assert np.abs(fit["yours"] - fit["predicted"]).max() < 0.75


def test_recommend_explains_a_bias_model_prediction_with_a_waterfall(tiny_run):
    dataset = tiny_run.dataset
    user_id, movie_id = int(dataset.index_to_user[0]), int(dataset.movies["movieId"].iloc[1])
    at = page_app("recommend", tiny_run)
    at.query_params.update({"user": str(user_id), "movie": str(movie_id)})
    at.run()
    assert_page(at, "Recommend")
    assert at.selectbox(key="rec_movie").value == movie_id
    figure = chart_specs(at)[-1]
    waterfall = figure["data"][0]
    assert waterfall["type"] == "waterfall"
    predicted = predict(tiny_run, dataset.user_to_index[user_id], dataset.movie_to_index[movie_id])[0]
    steps = figure_array(waterfall["y"])
    logit = steps[:-1].sum()
    assert steps[-1] == pytest.approx(logit, abs=1e-9)
    low, high = dataset.min_rating, dataset.max_rating
    assert low + (high - low) / (1 + np.exp(-logit)) == pytest.approx(predicted, abs=1e-4)
    assert figure_array(named_trace(figure, "prediction")["y"])[0] == pytest.approx(predicted, abs=1e-4)
    assert f"**{predicted:.2f}**" in " ".join(m.value for m in at.markdown)


def test_recommend_explains_a_dot_model_as_bars(tiny_run, dot_run):
    dataset = dot_run.dataset
    user_id, movie_id = int(dataset.index_to_user[2]), int(dataset.movies["movieId"].iloc[3])
    at = page_app("recommend", dot_run)
    at.query_params.update({"user": str(user_id), "movie": str(movie_id)})
    at.run()
    assert_page(at, "Recommend")
    assert any("plain dot product" in info.value for info in at.info)
    bars = chart_specs(at)[-1]["data"][0]
    assert bars["type"] == "bar"
    predicted = predict(dot_run, dataset.user_to_index[user_id], dataset.movie_to_index[movie_id])[0]
    assert figure_array(bars["y"]).sum() == pytest.approx(predicted, abs=1e-5)


def test_recommend_explains_an_svd_prediction_without_a_sigmoid(data_env, tiny_run_dir, factor_run_dirs):
    import json

    from cfcore.analysis.predict import predict
    from cfcore.runs.run import load_run

    run = load_run(factor_run_dirs["svd"])
    user_id, movie_id = int(run.dataset.index_to_user[0]), int(run.dataset.movies["movieId"].iloc[1])
    at = open_app(ws=seed_workspace({"SVD #1": factor_run_dirs["svd"]}), page="pages/recommend.py",
                  user=str(user_id), movie=str(movie_id))
    waterfall = json.loads(at.get("plotly_chart")[-1].proto.spec)["data"][0]
    assert waterfall["type"] == "waterfall" and waterfall["x"][-1] == "rating"
    predicted = predict(run, run.dataset.user_to_index[user_id], run.dataset.movie_to_index[movie_id])[0]
    assert any(f"**{predicted:.2f}** (no sigmoid)" in m.value for m in at.markdown)


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


def test_an_explained_prediction_off_the_scale_is_flagged_as_on_this_user_tab(wild_run, tiny_run):
    dataset = wild_run.dataset
    user_id, movie_id = int(dataset.index_to_user[0]), int(dataset.movies["movieId"].iloc[0])
    predicted = predict(wild_run, dataset.user_to_index[user_id], dataset.movie_to_index[movie_id])[0]
    assert not 0.5 <= predicted <= 5
    at = page_app("recommend", wild_run)
    at.query_params.update({"user": str(user_id), "movie": str(movie_id)})
    at.run()
    assert any("plain dot product" in info.value for info in at.info)  # the Explain tab
    assert f"1 prediction on this page falls outside the 0.5 to 5 star scale (from {predicted:.2f}" in page_texts(
        at, "warning")
    at = page_app("recommend", tiny_run)
    at.query_params.update({"user": str(user_id), "movie": str(movie_id)})
    at.run()
    assert "outside the" not in page_texts(at, "warning")


def test_explain_opens_on_a_movie_the_ratings_filter_lets_through(tiny_run):
    threshold = int(tiny_run.dataset.movies["num_ratings"].quantile(0.75))
    at = page_app("recommend", tiny_run).run()
    at.number_input(key="rec_min_ratings").set_value(threshold).run()
    at.session_state["rec_tab"] = "Explain a prediction"
    at.run()
    movie = at.selectbox(key="rec_movie").value
    counts = tiny_run.dataset.movies.set_index("movieId")["num_ratings"]
    assert counts[movie] > threshold


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


def test_the_explanation_has_its_own_bar_for_what_they_rated(svdpp_run):
    dataset = svdpp_run.dataset
    user_id, movie_id = int(dataset.index_to_user[0]), int(dataset.movies["movieId"].iloc[1])
    why = explain_prediction(svdpp_run, user_id, movie_id)
    parts = why.parts()
    assert IMPLICIT_PART in list(parts["part"]) and why.implicit != 0
    assert parts["value"].sum() == pytest.approx(why.logit, abs=1e-6)
    predicted = predict(svdpp_run, dataset.user_to_index[user_id], dataset.movie_to_index[movie_id])[0]
    assert why.prediction == pytest.approx(predicted, abs=1e-4)

    at = page_app("recommend", svdpp_run)
    at.query_params.update({"user": str(user_id), "movie": str(movie_id)})
    at.run()
    assert_page(at, "Recommend")
    waterfall = chart_specs(at)[-1]["data"][0]
    assert waterfall["type"] == "waterfall" and "what they rated" in waterfall["x"]
    assert figure_array(waterfall["y"])[-1] == pytest.approx(why.logit, abs=1e-6)
