"""Plotly figures for the data summary and the training curves. Pure functions; no TensorFlow, no Streamlit."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cfcore.data.dataset import Dataset
from cfcore.text import plain

# A calm palette that matches the app theme (.streamlit/config.toml).
BLUE = "#3b6ea5"
ORANGE = "#d9822b"
GREY = "#7b8794"
GREEN = "#3f8f5b"
REFERENCE_COLORS = (GREY, GREEN, "#9b5de5", "#b5651d", "#c23030")
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": plain(title), "x": 0.0, "xanchor": "left"},
        xaxis_title=plain(x_title),
        yaxis_title=plain(y_title),
        height=height,
        margin=_MARGIN,
        bargap=0.05,
        showlegend=False,
    )
    return fig


def rating_histogram(dataset: Dataset) -> go.Figure:
    """Bar chart of how many ratings take each star value."""
    counts = dataset.ratings["rating"].value_counts().sort_index()
    fig = go.Figure(
        go.Bar(
            x=counts.index.to_numpy(dtype=float), y=counts.to_numpy(), marker_color=BLUE,
            hovertemplate="%{x} stars: %{y:,} ratings<extra></extra>",
        )
    )
    _layout(fig, "How people rate", "rating (stars)", "number of ratings")
    fig.update_xaxes(tickmode="array", tickvals=counts.index.to_numpy(dtype=float))
    return fig


def _count_histogram(counts: np.ndarray, title: str, x_title: str, y_title: str, color: str) -> go.Figure:
    """Histogram of per-entity counts with a log y axis (the long tail would otherwise be invisible)."""
    median = float(np.median(counts)) if len(counts) else 0.0
    fig = go.Figure(
        go.Histogram(
            x=counts, nbinsx=60, marker_color=color,
            hovertemplate="%{x} ratings: %{y:,}<extra></extra>",
        )
    )
    _layout(fig, title, x_title, y_title)
    fig.update_yaxes(type="log", dtick=1)  # powers of ten only: minor log labels read as noise
    if len(counts):
        fig.add_vline(
            x=median, line_dash="dash", line_color=GREY,
            annotation_text=f"median {median:g}", annotation_position="top right",
        )
    return fig


def ratings_per_user(dataset: Dataset) -> go.Figure:
    """Distribution of the number of ratings each user gave."""
    counts = np.bincount(dataset.ratings["user"].to_numpy(), minlength=dataset.n_users)
    return _count_histogram(counts, "Ratings per user", "ratings given by one user", "users (log scale)", BLUE)


def ratings_per_movie(dataset: Dataset) -> go.Figure:
    """Distribution of the number of ratings each movie received."""
    counts = dataset.movies["num_ratings"].to_numpy()
    return _count_histogram(counts, "Ratings per movie", "ratings received by one movie", "movies (log scale)", ORANGE)


def joined_sample(dataset: Dataset, n: int = 10, seed: int = 0) -> pd.DataFrame:
    """A few random ratings with the movie title and genres joined on (the table the model learns from)."""
    rows = dataset.ratings.sample(n=min(n, dataset.n_ratings), random_state=seed)
    titles = dataset.movies[["movieId", "title", "genres"]]
    table = rows[["userId", "movieId", "rating"]].merge(titles, on="movieId", how="left")
    return table.reset_index(drop=True)


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
    _layout(fig, title, "epoch", "RMSE (stars)", height=380 + 20 * len(references or {}))
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
