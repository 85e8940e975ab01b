"""cfcore.figures.training: training curves, compared runs and the baseline ladder."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cfcore.figures.style import BLUE, MUTED
from cfcore.figures.training import baseline_ladder_figure, compare_curves, training_curves


def test_training_curves_plot_history_and_reference_lines():
    history = [
        {"epoch": 1, "train_rmse": 1.2, "val_rmse": 1.1},
        {"epoch": 2, "train_rmse": 0.9, "val_rmse": 0.95},
    ]
    fig = training_curves(history, epochs=10, references={"article": 0.88, "baseline": math.nan, "x": None})
    train, val, *lines = fig.data
    assert (train.name, val.name) == ("train RMSE", "validation RMSE")
    assert list(train.x) == [1, 2] and list(train.y) == [1.2, 0.9] and list(val.y) == [1.1, 0.95]
    # NaN and None references are skipped; a reference is a dashed line labelled at its end, out of the legend
    # (on a projector the legend grew as tall as the plot).
    assert [(line.name, tuple(line.y), line.line.dash) for line in lines] == [("article: 0.880", (0.88, 0.88), "dash")]
    assert [a.text for a in fig.layout.annotations] == ["article 0.880"] and not lines[0].showlegend
    assert fig.layout.yaxis.range[0] < 0.88 < fig.layout.yaxis.range[1]
    assert fig.layout.xaxis.range[1] >= 10  # the planned epochs fix the x range while training


def test_labels_of_close_reference_lines_are_spread_apart():
    from cfcore.figures.training import spread

    assert spread([0.88, 0.865, 1.046, 1.08, 1.13], 0.03) == pytest.approx([0.895, 0.865, 1.046, 1.08, 1.13])
    fig = training_curves([{"epoch": 1, "train_rmse": 1.2, "val_rmse": 1.1}], 10,
                          {"article, Dot + biases": 0.88, "biases only": 0.865, "global mean": 1.046})
    heights = sorted(a.y for a in fig.layout.annotations)
    span = fig.layout.yaxis.range[1] - fig.layout.yaxis.range[0]
    assert min(b - a for a, b in zip(heights, heights[1:], strict=False)) >= 0.07 * span  # a label apart
    assert max(heights) < fig.layout.yaxis.range[1]


def test_training_curves_with_no_history_yet():
    fig = training_curves([], epochs=5)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 0


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
