"""cfcore.figures.embeddings: the heatmap, the variance chart, the PCA map and the neighbours chart:
shapes, trace types, scales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cfcore.figures.embeddings import (
    embedding_heatmap,
    neighbours_figure,
    pc_scatter,
    selected_movie_id,
    variance_figure,
)
from cfcore.figures.tables import has_genre


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


def test_selected_movie_id_reads_a_plotly_selection_safely():
    fig = pc_scatter(_pca_frame(), you=(0.0, 0.0))
    first = list(fig.data[0].customdata[0])
    assert selected_movie_id({"selection": {"points": [{"customdata": first, "x": 1}]}}) == first[0]
    assert selected_movie_id({"selection": {"points": [{"x": 1}]}}) is None  # the "you" star has no id
    for empty in (None, {}, {"selection": {"points": []}}, {"selection": None}, {"selection": {"points": [
            {"customdata": ["abc"]}]}}):
        assert selected_movie_id(empty) is None


def test_a_genre_named_like_a_column_is_still_a_genre(tiny_run):
    from cfcore.analysis.projection import movie_map
    from cfcore.figures.embeddings import pc_scatter

    frame = movie_map(tiny_run, "pca", 0)
    frame.loc[frame.index[:3], "genres"] = "title|x"
    for genre in ("title", "x"):
        figure = pc_scatter(frame, genre, x="x", y="y")
        assert [trace.name for trace in figure.data] == ["other", genre]
