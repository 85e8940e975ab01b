"""AppTest for the Embeddings, Recommend, Under the hood and Compare pages, with a tiny trained run."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cfcore.analysis.fold_in import fold_in, project_vector, recommend_for_vector
from cfcore.analysis.neighbours import nearest_movies
from cfcore.analysis.pca import movie_pca_frame, pc_rankings
from cfcore.analysis.predict import predict, user_ratings, user_rmse
from tests.support.app import (
    PAGES_DIR,
    TIMEOUT,
    assert_page,
    chart_specs,
    figure_array,
    named_trace,
    page_app,
    page_run_names,
)
from tests.support.text import shown
from tests.support.workspaces import seed_workspace

# ---------------------------------------------------------------------------
# No run: a friendly message on every page
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("page, title", [("embeddings", "Embeddings"), ("recommend", "Recommend"),
                                         ("under_the_hood", "Under the hood"), ("compare", "Compare")])
def test_pages_without_a_run_show_an_info_message(page, title):
    at = page_app(page).run()
    assert_page(at, title)
    assert at.info, "expected a friendly st.info message"
    assert not at.error


# ---------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------


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
    assert len(at.dataframe) == 5  # the four rankings and the neighbours

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


# ---------------------------------------------------------------------------
# Recommend
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Under the hood
# ---------------------------------------------------------------------------


def test_under_the_hood_lookup_equals_one_hot_product():
    at = page_app("under_the_hood")
    at.run()
    at.text_input(key="uth_days").input("snowy, sunny, hail, snowy").run()
    at.slider(key="uth_dim").set_value(4).run()
    assert_page(at, "Under the hood")
    assert any("hail" in w.value for w in at.warning)
    looked_up, product = at.dataframe[0].value, at.dataframe[1].value
    assert looked_up.shape == (3, 4)
    assert looked_up.index.tolist() == ["day 1: snowy", "day 2: sunny", "day 3: snowy"]
    np.testing.assert_array_equal(looked_up.to_numpy(), product.to_numpy())
    np.testing.assert_array_equal(looked_up.iloc[0], looked_up.iloc[2])  # same tag, same row
    assert at.success and "Identical" in at.success[0].value
    assert any("class GatherEmbedding" in code.value for code in at.code)


def test_under_the_hood_trains_simple_embedding_next_to_a_finished_simple_dot(dot_run):
    at = page_app("under_the_hood", dot_run).run()
    assert_page(at, "Under the hood")
    button = at.button(key="uth_train")
    assert button.label == "Train simple_embedding"  # the finished simple_dot run is reused
    button.click().run()
    from ui.services import training_manager

    manager = training_manager()
    [job] = manager.jobs(at.session_state["ws_id"])
    assert job.purpose == "compare-layers" and job.config == dot_run.config.__class__(
        **{**dot_run.config.to_dict(), "model": "simple_embedding"})
    assert manager.wait(job, timeout=TIMEOUT)
    at.run()
    assert_page(at, "Under the hood")
    names = page_run_names(at)
    assert names[0] == "tiny" and names[1].startswith("simple_embedding")
    assert at.session_state["active_run"] == "tiny"  # the comparison does not swap the active model
    curves = chart_specs(at)[-1]
    assert [t["name"] for t in curves["data"]] == ["tiny", names[1]]


def test_under_the_hood_draws_the_running_comparison_live(dot_run, monkeypatch):
    import threading
    import time
    from types import SimpleNamespace

    from tests.support.app import live_points
    from ui.services import training_manager

    finish = threading.Event()

    def one_epoch_then_wait(dataset, config, *, split, listeners, stop_event, **_):
        history = [{"epoch": 1, "train_rmse": 1.0, "val_rmse": 1.1}]
        for listener in listeners:
            listener(SimpleNamespace(stage="epoch", epoch=1, epochs=config.epochs, step=1, steps_per_epoch=1,
                                     history=list(history)))
        finish.wait(60)
        raise RuntimeError("ended by the test")

    at = page_app("under_the_hood", dot_run).run()
    monkeypatch.setattr(training_manager(), "_train_fn", one_epoch_then_wait)
    # An earlier test may have finished this very training: no reuse, so that this one runs live.
    monkeypatch.setattr(training_manager(), "_finished", type(training_manager()._finished)())
    try:
        at.button(key="uth_train").click().run()
        deadline = time.monotonic() + 30
        while live_points(at).get("simple_embedding") != 1 and time.monotonic() < deadline:
            at.run()
        assert live_points(at) == {"simple_embedding": 1}, [m.value[:80] for m in at.markdown]
        assert not at.exception
    finally:
        finish.set()


def test_under_the_hood_reports_a_failed_training(synthetic_dataset, monkeypatch):
    from cfcore.trainer.jobs import TrainingFailed
    from ui.services import training_manager

    def broken_train(*args, **kwargs):
        raise TrainingFailed("the trainer stopped unexpectedly (out of memory)")

    manager = training_manager()
    monkeypatch.setattr(manager, "_train_fn", broken_train)
    at = AppTest.from_file(str(PAGES_DIR / "under_the_hood.py"), default_timeout=TIMEOUT)
    at.query_params["ws"] = seed_workspace(dataset=synthetic_dataset)
    at.run()
    at.button(key="uth_train").click().run()
    for job in manager.jobs(at.session_state["ws_id"]):
        assert manager.wait(job, timeout=TIMEOUT)
    at.run()
    assert_page(at, "Under the hood")
    messages = [shown(e.value) for e in at.error]
    assert len(messages) == 1 and messages[0].startswith("Training failed: the trainer stopped unexpectedly")
    assert not page_run_names(at)
    assert at.button(key="uth_train").label == "Train simple_embedding and simple_dot"  # can try again


# ---------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------


def test_compare_page_table_curves_ladder_and_downloads(tiny_run, dot_run, synthetic_dataset):
    from cfcore.data.split import split_dataset

    other_split = replace(tiny_run, split=split_dataset(synthetic_dataset, 0.2, seed=99), name="other split")
    at = page_app("compare", tiny_run, dot=dot_run, other=other_split).run()
    assert_page(at, "Compare")
    table = at.dataframe[0].value
    assert table["run"].tolist() == ["tiny", "dot", "other"]
    assert table["best val RMSE"].tolist()[:2] == pytest.approx([tiny_run.result.best_val_rmse,
                                                                 dot_run.result.best_val_rmse])
    curves, ladder = chart_specs(at)
    assert [t["name"] for t in curves["data"]] == ["tiny", "dot", "other"]
    bars = ladder["data"][0]
    # tiny and dot share a split, so both stand on the ladder; the run on another split is left out.
    assert list(figure_array(bars["x"])) == ["global mean", "user + movie biases", "tiny", "dot"]
    from cfcore.analysis.baselines import baseline_ladder

    expected = list(baseline_ladder(tiny_run)["val_rmse"]) + [baseline_ladder(dot_run)["val_rmse"].iloc[-1]]
    assert figure_array(bars["y"]) == pytest.approx(expected)
    assert any("1 run on other data or another split is left out" in c.value for c in at.caption)
    assert {b.key for b in at.get("download_button")} == {"cmp_download_model", "cmp_download_history",
                                                          "cmp_download_run"}


def test_compare_loads_an_uploaded_run_zip_and_rejects_hostile_ones(tiny_run_dir, tmp_path):
    from cfcore.runs.zip import export_run_zip

    at = page_app("compare").run()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../evil.txt", "x")
    for name, data in (("garbage.zip", b"not a zip at all"), ("evil.zip", buffer.getvalue())):
        at.file_uploader(key="cmp_upload").set_value((name, data, "application/zip")).run()
        at.button(key="cmp_load_zip").click().run()
        assert_page(at, "Compare")
        assert at.error and "could not be loaded" in at.error[0].value
        assert not page_run_names(at)

    at.file_uploader(key="cmp_upload").set_value(("tiny.zip", export_run_zip(tiny_run_dir), "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert_page(at, "Compare")
    assert not at.error
    names = page_run_names(at)
    assert len(names) == 1
    # A demo with no data loaded gets the run's data.
    from cfcore.runs.run import load_run

    assert at.session_state["dataset"].fingerprint == load_run(tiny_run_dir).dataset.fingerprint
    assert at.dataframe[0].value["run"].tolist() == names
    # The same zip again is the same run: nothing is added.
    at.button(key="cmp_load_zip").click().run()
    assert page_run_names(at) == names and any("already in this workspace" in i.value for i in at.info)


def test_compare_loads_from_the_runs_folder_only(tiny_run_dir, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(tiny_run_dir, root / "demo")
    shutil.copytree(tiny_run_dir, tmp_path / "outside")
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(root))
    at = page_app("compare").run()
    assert at.selectbox(key="cmp_run_dir").options == ["demo"]
    at.text_input(key="cmp_run_path").input("../outside").run()
    at.button(key="cmp_load_dir").click().run()
    assert_page(at, "Compare")
    assert at.error and "outside the runs folder" in at.error[0].value
    assert not page_run_names(at)

    at.text_input(key="cmp_run_path").input("").run()
    at.selectbox(key="cmp_run_dir").set_value("demo").run()
    at.button(key="cmp_load_dir").click().run()
    assert_page(at, "Compare")
    assert not at.error
    assert len(page_run_names(at)) == 1


def test_under_the_hood_builds_its_heatmaps_once_per_input(monkeypatch):
    import streamlit as st

    from cfcore.figures import predictions

    st.cache_resource.clear()
    built: list[int] = []
    original = predictions.onehot_product_figure
    monkeypatch.setattr(predictions, "onehot_product_figure",
                        lambda onehot, *a, **k: built.append(onehot.shape[0]) or original(onehot, *a, **k))
    at = page_app("under_the_hood").run()
    at.run()
    page_app("under_the_hood").run()  # another session, the same example
    assert built == [5]
    at.text_input(key="uth_days").input("snowy, sunny").run()
    assert_page(at, "Under the hood")
    assert built == [5, 2]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["y"] == ["day 1: snowy", "day 2: sunny"]


def test_a_load_error_on_a_public_server_hides_the_servers_folders(tiny_run_dir, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(tiny_run_dir, root / "broken")
    (root / "broken" / "embeddings.npz").write_bytes(b"not an archive")
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(root))
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    at = page_app("compare").run()
    at.selectbox(key="cmp_run_dir").set_value("broken").run()
    at.button(key="cmp_load_dir").click().run()
    assert_page(at, "Compare")
    shown = at.error[0].value.replace("\\", "") if at.error else ""  # Markdown escapes read back as characters
    assert "embeddings.npz: not a zip archive" in shown
    assert str(tmp_path) not in shown and "[folder]" in shown
