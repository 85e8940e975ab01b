"""The Data page's figures: the rating histogram and the ratings per user and per movie. Pure functions.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cfcore.data.dataset import Dataset
from cfcore.figures.layout import layout
from cfcore.figures.style import BLUE, GREY, ORANGE


def rating_histogram(dataset: Dataset) -> go.Figure:
    """Bar chart of how many ratings take each star value."""
    counts = dataset.ratings["rating"].value_counts().sort_index()
    fig = go.Figure(
        go.Bar(
            x=counts.index.to_numpy(dtype=float), y=counts.to_numpy(), marker_color=BLUE,
            hovertemplate="%{x} stars: %{y:,} ratings<extra></extra>",
        )
    )
    layout(fig, "How people rate", "rating (stars)", "number of ratings")
    # Whole stars only: ten labels of half stars overlapped on a projector (the bars still show every value).
    fig.update_xaxes(tickmode="array", tickvals=[v for v in counts.index.to_numpy(dtype=float) if v == int(v)])
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
    layout(fig, title, x_title, y_title)
    fig.update_yaxes(type="log", dtick=1)  # powers of ten only: minor log labels read as noise
    fig.update_xaxes(nticks=5)  # a few round numbers: more ran into each other at 150% zoom
    if len(counts):
        fig.add_vline(
            x=median, line_dash="dash", line_color=GREY,
            annotation_text=f"median {median:g}", annotation_position="top right",
        )
    return fig


def ratings_per_user(dataset: Dataset) -> go.Figure:
    """Distribution of the number of ratings each user gave."""
    counts = np.bincount(dataset.ratings["user"].to_numpy(), minlength=dataset.n_users)
    return _count_histogram(counts, "Ratings per user", "ratings given", "users (log scale)", BLUE)


def ratings_per_movie(dataset: Dataset) -> go.Figure:
    """Distribution of the number of ratings each movie received."""
    counts = dataset.movies["num_ratings"].to_numpy()
    return _count_histogram(counts, "Ratings per movie", "ratings received", "movies (log scale)", ORANGE)
