"""Training curves: one run's RMSE by epoch with reference lines, several runs compared, and the baseline ladder.

Pure functions; no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cfcore.figures.layout import layout
from cfcore.figures.style import BLUE, DASHES, MUTED, ORANGE, REFERENCE_COLORS, REFERENCE_GREY, TEMPLATE
from cfcore.text import plain


def training_curves(
    history: Sequence[Mapping[str, float]],
    epochs: int | None = None,
    references: Mapping[str, float] | None = None,
    title: str = "RMSE per epoch",
) -> go.Figure:
    """Train and validation RMSE per epoch, with horizontal reference lines.

    Args:
        history: Epoch rows with ``epoch``, ``train_rmse`` and ``val_rmse`` (a
            ``TrainResult.history`` or a running job's history); may be empty.
        epochs: Planned number of epochs; fixes the x range so a live chart does not jump.
        references: Label -> RMSE for dashed horizontal lines (e.g. the article's figure, a baseline).
            NaN or None values are skipped.
        title: Figure title.

    Returns:
        A plotly Figure with traces named "train RMSE" and "validation RMSE".
    """
    x = [int(row["epoch"]) for row in history]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x, y=[row.get("train_rmse") for row in history], name="train RMSE", mode="lines+markers",
            line={"color": BLUE}, hovertemplate="epoch %{x}: train RMSE %{y:.4f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x, y=[row.get("val_rmse") for row in history], name="validation RMSE", mode="lines+markers",
            line={"color": ORANGE}, hovertemplate="epoch %{x}: validation RMSE %{y:.4f}<extra></extra>",
        )
    )
    layout(fig, title, "epoch", "RMSE (stars)", height=CURVES_HEIGHT)
    # The two curves' legend in one row above the plot; each reference line carries its own label (below).
    fig.update_layout(showlegend=True, legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1.0,
                                               "xanchor": "right"})
    last = max([epochs or 0, *x, 1])
    fig.update_xaxes(range=[0.5, last + 0.5], dtick=1 if last <= 20 else None)
    values = [v for row in history for v in (row.get("train_rmse"), row.get("val_rmse")) if _finite(v)]
    add_references(fig, references, (0.5, last + 0.5), values)
    return fig


# The training chart's height, and the room its plot area gets (the rest: title, axis titles, margins).
CURVES_HEIGHT = 380
_CURVES_PLOT_PX = 250
# A reference line's label is this many pixels tall (the projector's 16 px text and a little air).
LABEL_PX = 20


def _finite(value) -> bool:
    return value is not None and math.isfinite(float(value))


def spread(values: Sequence[float], gap: float) -> list[float]:
    """Label heights for lines at ``values`` (any order): each label at its line or, where the one below is too
    close, just above that one, so no two are closer than ``gap`` (the article's 0.880 and the biases' 0.865 sat on
    each other)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    floor = -math.inf
    for i in order:
        out[i] = max(float(values[i]), floor)
        floor = out[i] + gap
    return out


def shown_references(references: Mapping[str, float | None] | None) -> list[tuple[str, float, str]]:
    """(label, RMSE, colour) for each reference line to draw: NaN and None skipped, highest first, each with its
    colour by rank (the live SVG curve draws the same lines as the finished run's chart)."""
    shown = [(label, float(value)) for label, value in (references or {}).items()
             if value is not None and math.isfinite(float(value))]
    return [(label, value, REFERENCE_COLORS[i % len(REFERENCE_COLORS)])
            for i, (label, value) in enumerate(sorted(shown, key=lambda item: -item[1]))]


def add_references(fig: go.Figure, references: Mapping[str, float] | None, x_range: tuple[float, float],
                   values: Sequence[float] = ()) -> None:
    """Dashed horizontal lines for ``references`` (:func:`shown_references`), each labelled at its right end on a
    pale backing (so a curve passing under it does not hide it), the labels of close lines spread apart
    (:func:`spread`). The lines keep their names for hover and tests; they are not in the legend, which on a
    projector grew as tall as the plot. ``values`` are the curves' points, for the y range the spread is
    measured in."""
    shown = shown_references(references)
    if not shown:
        return
    every = [*values, *(value for _, value, _ in shown)]
    low, high = min(every), max(every)
    pad = max((high - low) * 0.08, 0.01)
    gap = (high - low + 2 * pad) * LABEL_PX / _CURVES_PLOT_PX
    heights = spread([value for _, value, _ in shown], gap)
    fig.update_yaxes(range=[low - pad, max(high + pad, max(heights) + 1.5 * gap)])
    for (label, value, color), at in zip(shown, heights, strict=True):
        fig.add_trace(go.Scatter(
            x=list(x_range), y=[value, value], mode="lines", name=f"{plain(label)}: {value:.3f}", hoverinfo="skip",
            showlegend=False, line={"dash": "dash", "width": 1.5, "color": color}))
        fig.add_annotation(x=1.0, xref="paper", xanchor="right", y=at, yref="y", yanchor="bottom",
                           text=f"{plain(label)} {value:.3f}", showarrow=False, font={"color": color},
                           bgcolor="rgba(251, 251, 248, 0.85)", borderpad=1)


# History columns as a reader sees them.
METRIC_LABELS = {"val_rmse": "validation RMSE", "train_rmse": "training RMSE", "val_loss": "validation loss",
                 "loss": "training loss"}


def compare_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]],
    metric: str = "val_rmse",
    reference: float | None = None,
    reference_label: str = "reference",
) -> go.Figure:
    """One line per run of ``metric`` by epoch (history rows as in ``TrainResult.history``)."""
    fig = go.Figure()
    for number, (name, rows) in enumerate(histories.items()):
        epochs = [row.get("epoch", i + 1) for i, row in enumerate(rows)]
        fig.add_trace(
            go.Scatter(x=epochs, y=[row.get(metric) for row in rows], mode="lines+markers", name=plain(name),
                       # Varying dashes keep identical curves (same seed, same maths) visibly two lines.
                       line={"dash": DASHES[number % len(DASHES)]},
                       hovertemplate=f"{plain(name)}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>")
        )
    if reference is not None:
        fig.add_hline(y=reference, line={"dash": "dot", "color": REFERENCE_GREY},
                      annotation_text=plain(reference_label))
    fig.update_layout(
        template=TEMPLATE,
        height=400,
        xaxis={"title": {"text": "epoch"}, "dtick": 1},
        yaxis={"title": {"text": METRIC_LABELS.get(metric, metric.replace("_", " "))}},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 20},
    )
    return fig


def baseline_ladder_figure(frame: pd.DataFrame, n_baselines: int = 2) -> go.Figure:
    """Bars of validation RMSE, in the frame's order (baselines first, then runs); lower is better."""
    colors = [MUTED] * min(n_baselines, len(frame)) + [BLUE] * max(0, len(frame) - n_baselines)
    fig = go.Figure(
        go.Bar(x=frame["name"].astype(str).map(plain), y=frame["val_rmse"], marker_color=colors,
               text=[f"{v:.3f}" for v in frame["val_rmse"]], textposition="outside",
               hovertemplate="%{x}: %{y:.4f}<extra></extra>")
    )
    top = float(np.nanmax(frame["val_rmse"])) if len(frame) else 1.0
    fig.update_layout(
        template=TEMPLATE, height=380, yaxis={"title": {"text": "validation RMSE"}, "range": [0, top * 1.15]},
        margin={"t": 20},
    )
    return fig
