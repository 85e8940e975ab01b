"""cfcore.figures.predictions: predicted against actual, the waterfall and the bars that explain a
prediction (they sum to it), the one-hot product."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from cfcore.figures.predictions import (
    dot_product_bars,
    explanation_waterfall,
    onehot_product_figure,
    predicted_vs_actual,
)


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


def test_predicted_vs_actual_has_a_trace_per_split_and_the_diagonal():
    frame = pd.DataFrame({"title": ["a", "b", "c"], "rating": [4.0, 3.0, 5.0], "predicted": [3.8, 3.1, 4.2],
                          "split": ["train", "validation", "train"]})
    fig = predicted_vs_actual(frame, 0.5, 5.0)
    assert [t.name for t in fig.data] == ["train", "validation", "perfect"]
    assert list(fig.data[0].x) == [4.0, 5.0]
    assert list(fig.data[2].x) == [0.5, 5.0]


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


def test_onehot_product_figure_has_three_heatmaps():
    weights = np.arange(12, dtype=float).reshape(4, 3) - 6
    onehot = np.eye(4)[[2, 0]]
    fig = onehot_product_figure(onehot, weights, onehot @ weights, ["day 1", "day 2"], list("abcd"))
    assert [type(t) for t in fig.data] == [go.Heatmap] * 3
    assert np.asarray(fig.data[2].z).shape == (2, 3)
    assert fig.data[1].zmid == 0


def test_waterfall_without_a_sigmoid_ends_at_the_rating():
    explanation = _Explanation(3.5, 0.25, -0.1, np.array([0.2, -0.05]), link="identity")
    fig = explanation_waterfall(explanation)
    assert len(fig.data) == 1 and list(fig.data[0].x)[-1] == "rating"
    assert fig.data[0].y[-1] == pytest.approx(3.5 + 0.25 - 0.1 + 0.15)


def test_waterfall_has_a_bar_for_what_they_rated():
    explanation = _Explanation(0.0, 0.25, -0.1, np.array([0.2, -0.05]), implicit=0.3)
    labels = list(explanation_waterfall(explanation).data[0].x)
    assert "what they rated" in labels
