"""cfcore.figures.training: training curves, compared runs and the baseline ladder."""

from __future__ import annotations

import math

import pandas as pd

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
    # NaN and None references are skipped; a reference is a dashed line named in the legend, not a label on
    # the plot (labels sat under the curves).
    assert [(line.name, tuple(line.y), line.line.dash) for line in lines] == [("article: 0.880", (0.88, 0.88), "dash")]
    assert not fig.layout.annotations
    assert fig.layout.xaxis.range[1] >= 10  # the planned epochs fix the x range while training


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
