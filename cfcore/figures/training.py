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
    layout(fig, title, "epoch", "RMSE (stars)", height=380 + 20 * len(references or {}))
    # Below the axis title, however many lines the legend takes on a narrow screen.
    fig.update_layout(showlegend=True, legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0.0})
    last = max([epochs or 0, *x, 1])
    fig.update_xaxes(range=[0.5, last + 0.5], dtick=1 if last <= 20 else None)
    add_references(fig, references, (0.5, last + 0.5))
    return fig


def shown_references(references: Mapping[str, float | None] | None) -> list[tuple[str, float, str]]:
    """(label, RMSE, colour) for each reference line to draw: NaN and None skipped, highest first, each with its
    colour by rank (the live SVG curve draws the same lines as the finished run's chart)."""
    shown = [(label, float(value)) for label, value in (references or {}).items()
             if value is not None and math.isfinite(float(value))]
    return [(label, value, REFERENCE_COLORS[i % len(REFERENCE_COLORS)])
            for i, (label, value) in enumerate(sorted(shown, key=lambda item: -item[1]))]


def add_references(fig: go.Figure, references: Mapping[str, float] | None, x_range: tuple[float, float]) -> None:
    """Dashed horizontal lines for ``references`` (:func:`shown_references`), named in the legend: labels written
    on the plot sat under the curves and on each other when lines were close (the article's 1.08 and 1.13, the
    global mean's 1.05)."""
    for label, value, color in shown_references(references):
        fig.add_trace(go.Scatter(
            x=list(x_range), y=[value, value], mode="lines", name=f"{plain(label)}: {value:.3f}", hoverinfo="skip",
            line={"dash": "dash", "width": 1.5, "color": color}))


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
