"""What the biases learned, drawn: each movie's bias against its mean rating (the movies far from the line named),
and the spread of the users' biases. Pure functions; no Streamlit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cfcore.figures.layout import layout
from cfcore.figures.style import BLUE, GREY, MUTED, ORANGE
from cfcore.text import plain


def bias_vs_mean_figure(movies: pd.DataFrame, named: pd.DataFrame) -> go.Figure:
    """Every movie of ``movies`` (:func:`cfcore.analysis.biases.movie_biases`) as a point, mean rating across and
    bias up, with the least-squares line; the movies of ``named`` (the furthest from it) labelled."""
    fig = go.Figure(go.Scatter(
        x=movies["mean_rating"], y=movies["bias"], mode="markers", name="movies",
        marker={"color": MUTED, "size": 5, "opacity": 0.7},
        customdata=np.stack([movies["title"].astype(str).map(plain), movies["num_ratings"]], axis=-1),
        hovertemplate="%{customdata[0]}<br>mean rating %{x:.2f} (%{customdata[1]} ratings)<br>bias %{y:.3f}"
                      "<extra></extra>"))
    line = movies["bias"] - movies["off_line"]
    order = np.argsort(movies["mean_rating"].to_numpy())
    fig.add_trace(go.Scatter(x=movies["mean_rating"].to_numpy()[order], y=line.to_numpy()[order], mode="lines",
                             name="what the mean rating predicts", line={"color": GREY, "dash": "dash"},
                             hoverinfo="skip"))
    above = named["off_line"] > 0
    for mask, color, position, name in ((above, BLUE, "top center", "liked beyond their mean"),
                                        (~above, ORANGE, "bottom center", "liked less than their mean")):
        part = named[mask]
        fig.add_trace(go.Scatter(
            x=part["mean_rating"], y=part["bias"], mode="markers+text", name=name, showlegend=False,
            marker={"color": color, "size": 9}, text=[plain(_short(t)) for t in part["title"]],
            textposition=position, textfont={"color": color},
            customdata=part["title"].astype(str).map(plain),
            hovertemplate="%{customdata}<br>mean rating %{x:.2f}<br>bias %{y:.3f}<extra></extra>"))
    layout(fig, "Movie bias against mean rating", "mean rating (stars)", "learned bias", height=420)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1.0,
                                               "xanchor": "right"})
    return fig


def user_bias_figure(biases: np.ndarray) -> go.Figure:
    """A histogram of the users' biases, the zero line marked."""
    fig = go.Figure(go.Histogram(x=biases, nbinsx=40, marker_color=BLUE, name="users",
                                 hovertemplate="bias %{x}: %{y} users<extra></extra>"))
    layout(fig, "User biases", "learned bias", "users")
    fig.add_vline(x=0.0, line_dash="dash", line_color=GREY)
    return fig


def _short(title: str, limit: int = 28) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"
