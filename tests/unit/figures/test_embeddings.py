"""Figure functions for the exploration pages: shapes, trace types, scales, sums."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.figures.embeddings import (
    embedding_heatmap,
    neighbours_figure,
    pc_scatter,
    selected_movie_id,
    variance_figure,
)
from cfcore.figures.predictions import (
    dot_product_bars,
    explanation_waterfall,
    onehot_product_figure,
    predicted_vs_actual,
)
from cfcore.figures.style import BLUE, MUTED
from cfcore.figures.tables import for_display, genre_names, has_genre, readable_genres, runs_table
from cfcore.figures.training import baseline_ladder_figure, compare_curves


def _pca_frame(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    genres = ["Action|Thriller", "Comedy", "Drama|Romance", "Comedy|Romance", "(no genres listed)"]
    return pd.DataFrame(
        {
            "movieId": np.arange(n) * 10 + 1,
            "title": [f"Movie {i} (2000)" for i in range(n)],
            "genres": [genres[i % len(genres)] for i in range(n)],
            "num_ratings": rng.integers(1, 200, n),
            "rating": rng.uniform(1, 5, n),
            "PC1": rng.normal(size=n),
            "PC2": rng.normal(size=n),
        }
    )


def test_readable_genres_and_genre_helpers():
    assert readable_genres("Action|Thriller") == "Action, Thriller"
    assert readable_genres("Action, Thriller") == "Action, Thriller"  # idempotent
    assert readable_genres("(no genres listed)") == ""
    series = pd.Series(["Action|Thriller", "Comedy", "Sci-Fi|Action"])
    assert genre_names(series) == ["Action", "Comedy", "Sci-Fi", "Thriller"]
    # Exact genre match: "Action" is not found inside "Sci-Fi".
    assert has_genre(series, "Action").tolist() == [True, False, True]
    assert has_genre(series, "Fi").tolist() == [False, False, False]


def test_for_display_rounds_floats_and_formats_genres():
    frame = pd.DataFrame({"title": ["A"], "PC1": [0.123456], "num_ratings": [5], "genres": ["Action|Drama"]})
    shown = for_display(frame, decimals=2)
    assert shown.loc[0, "PC1"] == 0.12
    assert shown.loc[0, "genres"] == "Action, Drama"
    assert shown.loc[0, "num_ratings"] == 5
    assert frame.loc[0, "PC1"] == 0.123456  # the input is not modified


def test_heatmap_shape_and_colour_scale_centred_at_zero():
    values = np.array([[1.0, -3.0, 0.5], [0.2, 0.0, -0.1]])
    frame = pd.DataFrame(values, index=["Same title", "Same title"], columns=[1, 2, 3])
    fig = embedding_heatmap(frame)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap)
    assert np.asarray(heat.z).shape == (2, 3)
    assert heat.zmid == 0
    assert heat.zmin == -3.0 and heat.zmax == 3.0  # symmetric, so 0 sits in the middle
    assert list(heat.x) == ["1", "2", "3"]
    # Duplicate titles stay two rows: rows are positions, titles are tick labels.
    assert list(heat.y) == [0, 1]
    assert list(fig.layout.yaxis.ticktext) == ["Same title", "Same title"]


def test_heatmap_truncates_long_titles_only_on_the_axis():
    long_title = "A" * 100
    fig = embedding_heatmap(pd.DataFrame([[0.5]], index=[long_title], columns=[1]))
    assert len(fig.layout.yaxis.ticktext[0]) <= 45
    assert fig.data[0].customdata[0][0] == long_title


def test_variance_figure_bars_and_cumulative_line():
    explained = np.array([0.5, 0.3, 0.15, 0.05])
    fig = variance_figure(explained, centered=True)
    bar, line = fig.data
    assert isinstance(bar, go.Bar) and isinstance(line, go.Scatter)
    assert list(bar.x) == ["PC1", "PC2", "PC3", "PC4"]
    np.testing.assert_allclose(bar.y, [50, 30, 15, 5])
    np.testing.assert_allclose(line.y, [50, 80, 95, 100])
    assert "centered" in fig.layout.title.text
    assert "uncentered" in variance_figure(explained, centered=False).layout.title.text
    assert len(variance_figure(explained, False, max_components=2).data[0].x) == 2


def test_pc_scatter_by_rating_carries_movie_ids_for_selection():
    frame = _pca_frame()
    fig = pc_scatter(frame)
    assert len(fig.data) == 1
    points = fig.data[0]
    assert len(points.x) == len(frame)
    assert [row[0] for row in points.customdata] == frame["movieId"].tolist()
    assert "ratings" in points.hovertemplate and "mean rating" in points.hovertemplate
    np.testing.assert_allclose(points.marker.color, frame["rating"])


def test_pc_scatter_by_genre_splits_points_and_highlights():
    frame = _pca_frame()
    fig = pc_scatter(frame, color_by="Comedy", highlight=int(frame["movieId"][3]), you=(0.5, -0.25))
    names = [trace.name for trace in fig.data]
    assert names == ["other", "Comedy", "selected", "you"]
    n_comedy = int(has_genre(frame["genres"], "Comedy").sum())
    assert len(fig.data[1].x) == n_comedy and len(fig.data[0].x) == len(frame) - n_comedy
    assert fig.data[2].customdata[0][0] == frame["movieId"][3]
    assert (fig.data[3].x[0], fig.data[3].y[0]) == (0.5, -0.25)
    # A highlight that is not in the frame (filtered out) draws nothing and does not fail.
    assert [t.name for t in pc_scatter(frame, highlight=-5).data] == ["movies"]


def test_neighbours_figure_orders_bars_like_the_frame():
    frame = pd.DataFrame({"title": ["B", "C"], "similarity": [0.9, 0.5]})
    fig = neighbours_figure(frame, metric="dot")
    assert list(fig.data[0].x) == [0.9, 0.5]
    assert list(fig.layout.yaxis.ticktext) == ["B", "C"]
    assert fig.layout.xaxis.title.text == "dot product"


def test_predicted_vs_actual_has_a_trace_per_split_and_the_diagonal():
    frame = pd.DataFrame({"title": ["a", "b", "c"], "rating": [4.0, 3.0, 5.0], "predicted": [3.8, 3.1, 4.2],
                          "split": ["train", "validation", "train"]})
    fig = predicted_vs_actual(frame, 0.5, 5.0)
    assert [t.name for t in fig.data] == ["train", "validation", "perfect"]
    assert list(fig.data[0].x) == [4.0, 5.0]
    assert list(fig.data[2].x) == [0.5, 5.0]


@dataclass
class _Explanation:
    global_offset: float
    user_bias: float
    movie_bias: float
    contributions: np.ndarray
    min_rating: float = 0.5
    max_rating: float = 5.0
    link: str = "sigmoid"
    implicit: float = 0.0

    @property
    def logit(self) -> float:
        return (self.global_offset + self.user_bias + self.movie_bias + self.implicit
                + float(self.contributions.sum()))

    @property
    def prediction(self) -> float:
        return self.min_rating + (self.max_rating - self.min_rating) / (1 + np.exp(-self.logit))


@pytest.mark.parametrize("offset", [0.0, 0.4])
def test_waterfall_sums_to_the_logit_and_maps_to_the_prediction(offset):
    contributions = np.array([0.05, -0.4, 0.3, 0.01, -0.02, 0.2, 0.0, 0.15, -0.06, 0.03])
    explanation = _Explanation(offset, 0.25, -0.1, contributions)
    fig = explanation_waterfall(explanation, top=4)
    waterfall = fig.data[0]
    assert isinstance(waterfall, go.Waterfall)
    measures = list(waterfall.measure)
    assert measures[-1] == "total" and set(measures[:-1]) == {"relative"}
    relative = np.array(waterfall.y[:-1], dtype=float)
    assert relative.sum() == pytest.approx(explanation.logit)
    assert waterfall.y[-1] == pytest.approx(explanation.logit)
    labels = list(waterfall.x)
    assert ("offset" in labels) == bool(offset)
    # The 4 largest |u_k v_k| are dims 2, 3, 6, 8 (1-based), then the other 6 lumped together.
    assert labels[-6:] == ["dim 2", "dim 3", "dim 6", "dim 8", "other 6 dims", "logit"]
    marker = fig.data[-1]
    assert marker.x[0] == pytest.approx(explanation.logit)
    assert marker.y[0] == pytest.approx(explanation.prediction)
    # The drawn sigmoid passes through the prediction.
    curve = fig.data[1]
    assert np.interp(explanation.logit, curve.x, curve.y) == pytest.approx(explanation.prediction, abs=0.01)


def test_dot_product_bars_sum_to_the_prediction():
    user = np.array([1.0, -2.0, 0.5, 0.1, 0.0])
    movie = np.array([0.5, 0.5, 2.0, 1.0, 3.0])
    fig = dot_product_bars(user, movie, top=2)
    bars = fig.data[0]
    assert list(bars.x) == ["dim 2", "dim 3", "other 3 dims"]
    assert sum(bars.y) == pytest.approx(float(user @ movie))
    assert f"{float(user @ movie):.3f}" in fig.layout.title.text


def test_compare_curves_one_line_per_run_and_reference():
    histories = {
        "a": [{"epoch": 1, "val_rmse": 1.2}, {"epoch": 2, "val_rmse": 1.0}],
        "b": [{"epoch": 1, "val_rmse": 1.1}],
    }
    fig = compare_curves(histories, reference=0.9)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].y) == [1.2, 1.0]
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].y0 == 0.9


def test_baseline_ladder_colours_baselines_apart_from_runs():
    frame = pd.DataFrame({"name": ["global mean", "biases", "run 1"], "val_rmse": [1.04, 0.9, 0.87]})
    fig = baseline_ladder_figure(frame)
    bars = fig.data[0]
    assert list(bars.x) == ["global mean", "biases", "run 1"]
    assert list(bars.marker.color) == [MUTED, MUTED, BLUE]
    assert list(bars.text) == ["1.040", "0.900", "0.870"]


def test_onehot_product_figure_has_three_heatmaps():
    weights = np.arange(12, dtype=float).reshape(4, 3) - 6
    onehot = np.eye(4)[[2, 0]]
    fig = onehot_product_figure(onehot, weights, onehot @ weights, ["day 1", "day 2"], list("abcd"))
    assert [type(t) for t in fig.data] == [go.Heatmap] * 3
    assert np.asarray(fig.data[2].z).shape == (2, 3)
    assert fig.data[1].zmid == 0


def test_selected_movie_id_reads_a_plotly_selection_safely():
    fig = pc_scatter(_pca_frame(), you=(0.0, 0.0))
    first = list(fig.data[0].customdata[0])
    assert selected_movie_id({"selection": {"points": [{"customdata": first, "x": 1}]}}) == first[0]
    assert selected_movie_id({"selection": {"points": [{"x": 1}]}}) is None  # the "you" star has no id
    for empty in (None, {}, {"selection": {"points": []}}, {"selection": None}, {"selection": {"points": [
            {"customdata": ["abc"]}]}}):
        assert selected_movie_id(empty) is None


def test_runs_table_one_row_per_run(tiny_run):
    table = runs_table({"a": tiny_run, "b": tiny_run})
    assert table["run"].tolist() == ["a", "b"]
    assert table.loc[0, "best val RMSE"] == tiny_run.result.best_val_rmse
    assert table.loc[0, "epochs run"] == tiny_run.result.epochs_run
    assert table.loc[0, "dropout user/movie"] == "0.3/0.6"
    assert table.loc[0, "final val RMSE"] == tiny_run.result.history[-1]["val_rmse"]
    # The article's figure only stands next to runs on its data; tiny_run's is synthetic (issue 15.7).
    assert math.isnan(table.loc[0, "article val RMSE"]) and tiny_run.config.model in ARTICLE_VAL_RMSE


def test_waterfall_without_a_sigmoid_ends_at_the_rating():
    explanation = _Explanation(3.5, 0.25, -0.1, np.array([0.2, -0.05]), link="identity")
    fig = explanation_waterfall(explanation)
    assert len(fig.data) == 1 and list(fig.data[0].x)[-1] == "rating"
    assert fig.data[0].y[-1] == pytest.approx(3.5 + 0.25 - 0.1 + 0.15)


def test_waterfall_has_a_bar_for_what_they_rated():
    explanation = _Explanation(0.0, 0.25, -0.1, np.array([0.2, -0.05]), implicit=0.3)
    labels = list(explanation_waterfall(explanation).data[0].x)
    assert "what they rated" in labels
