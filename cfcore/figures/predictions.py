"""Figures of predictions: predicted against actual ratings, one prediction taken apart, a dot product's terms,
and the one-hot product. Pure functions; no Streamlit, no Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cfcore.config import IMPLICIT_PART
from cfcore.figures.style import BLUE, DIVERGING, MUTED, ORANGE, RED, TEMPLATE
from cfcore.runs.embeddings import link_output
from cfcore.text import plain


class ExplanationLike(Protocol):
    """What :func:`explanation_waterfall` reads (``cfcore.analysis.explain.Explanation`` fits)."""

    global_offset: float
    user_bias: float
    movie_bias: float
    contributions: np.ndarray
    logit: float
    min_rating: float
    max_rating: float
    prediction: float
    link: str
    implicit: float


def predicted_vs_actual(frame: pd.DataFrame, min_rating: float, max_rating: float) -> go.Figure:
    """One user's ratings: actual (x) vs predicted (y), train and validation coloured apart, with y = x."""
    fig = go.Figure()
    for split, color in (("train", MUTED), ("validation", BLUE)):
        part = frame[frame["split"] == split] if "split" in frame else frame.iloc[0:0]
        if len(part):
            fig.add_trace(
                go.Scatter(
                    x=part["rating"], y=part["predicted"], mode="markers", name=split,
                    marker={"color": color, "size": 8, "line": {"color": "white", "width": 0.5}},
                    customdata=part["title"].astype(str).map(plain),
                    hovertemplate="%{customdata}<br>actual %{x}<br>predicted %{y:.2f}<extra></extra>",
                )
            )
    fig.add_trace(
        go.Scatter(x=[min_rating, max_rating], y=[min_rating, max_rating], mode="lines", name="perfect",
                   line={"color": "black", "dash": "dot", "width": 1}, hoverinfo="skip")
    )
    pad = 0.25
    predicted = frame["predicted"].to_numpy(dtype=float) if len(frame) else np.array([])
    finite = predicted[np.isfinite(predicted)]
    low = min(min_rating, float(finite.min())) if finite.size else min_rating
    high = max(max_rating, float(finite.max())) if finite.size else max_rating
    if low < min_rating or high > max_rating:  # predictions off the rating scale: shade where they land
        for y0, y1 in ((max_rating, high + pad), (low - pad, min_rating)):
            if y1 > y0:
                fig.add_hrect(y0=y0, y1=y1, fillcolor=RED, opacity=0.08, line_width=0)
    fig.update_layout(
        template=TEMPLATE,
        height=420,
        xaxis={"title": {"text": "actual rating"}, "range": [min_rating - pad, max_rating + pad], "dtick": 1},
        yaxis={"title": {"text": "predicted rating"}, "range": [low - pad, high + pad]},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 20},
    )
    return fig


def _top_terms(contributions: np.ndarray, top: int) -> tuple[list[str], list[float]]:
    """The ``top`` largest-magnitude dimension terms (labels 1-based) and one 'other dims' total."""
    values = np.asarray(contributions, dtype=float)
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    labels = [f"dim {i + 1}" for i in order]
    terms = [float(values[i]) for i in order]
    rest = np.delete(values, order)
    if rest.size:
        labels.append(f"other {rest.size} dims")
        terms.append(float(rest.sum()))
    return labels, terms


def explanation_waterfall(explanation: ExplanationLike, top: int = 6) -> go.Figure:
    """How a bias model's prediction is built: a waterfall to the logit, then the sigmoid to a rating (a model
    with no sigmoid, the SVD: the waterfall alone, to the rating).

    Left: offset (if any) + user bias + movie bias + SVD++'s "what they rated" (if any) + the ``top`` largest
    ``u_k * v_k`` terms + the remaining dims lumped together, ending at the logit
    (a total bar). Right: the scaled sigmoid curve with the prediction marked.
    """
    labels: list[str] = []
    values: list[float] = []
    if explanation.global_offset:
        labels.append("offset")
        values.append(float(explanation.global_offset))
    labels += ["user bias", "movie bias"]
    values += [float(explanation.user_bias), float(explanation.movie_bias)]
    if explanation.implicit:
        labels.append(IMPLICIT_PART)
        values.append(float(explanation.implicit))
    dim_labels, dim_values = _top_terms(explanation.contributions, top)
    labels += dim_labels
    values += dim_values
    logit = float(explanation.logit)
    low, high = float(explanation.min_rating), float(explanation.max_rating)
    squashed = explanation.link == "sigmoid"
    total = "logit" if squashed else "rating"
    fig = make_subplots(
        rows=1, cols=2 if squashed else 1, column_widths=[0.64, 0.36] if squashed else None,
        horizontal_spacing=0.1,
        subplot_titles=("inside the sigmoid: the logit", "sigmoid → rating") if squashed else (
            "the prediction, term by term (no sigmoid)",),
    )
    fig.add_trace(
        go.Waterfall(
            x=[*labels, total], y=[*values, logit], measure=["relative"] * len(values) + ["total"],
            name=total, text=[f"{v:+.3f}" for v in values] + [f"{logit:.3f}"], textposition="outside",
            increasing={"marker": {"color": BLUE}}, decreasing={"marker": {"color": RED}},
            totals={"marker": {"color": ORANGE}}, connector={"line": {"color": MUTED}},
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        ),
        row=1, col=1,
    )
    if not squashed:
        fig.update_yaxes(title_text="rating contribution", row=1, col=1)
        fig.update_layout(template=TEMPLATE, height=440, showlegend=False, margin={"t": 50})
        return fig
    span = max(6.0, abs(logit) + 1.0)
    grid = np.linspace(-span, span, 121)
    fig.add_trace(
        go.Scatter(x=grid, y=link_output(grid, "sigmoid", low, high), mode="lines", name="sigmoid",
                   line={"color": MUTED}, hoverinfo="skip"),
        row=1, col=2,
    )
    prediction = float(explanation.prediction)
    fig.add_trace(
        go.Scatter(x=[logit], y=[prediction], mode="markers+text", name="prediction",
                   text=[f"{prediction:.2f}"], textposition="middle left",
                   marker={"size": 12, "color": ORANGE},
                   hovertemplate="logit %{x:.3f} → rating %{y:.2f}<extra></extra>"),
        row=1, col=2,
    )
    fig.update_yaxes(title_text="logit contribution", row=1, col=1)
    fig.update_yaxes(title_text="rating", range=[low - 0.2, high + 0.2], row=1, col=2)
    fig.update_xaxes(title_text="logit", row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=440, showlegend=False, margin={"t": 50})
    return fig


def dot_product_bars(user_vector: np.ndarray, movie_vector: np.ndarray, top: int = 10) -> go.Figure:
    """A dot-only model's prediction as per-dimension terms ``u_k * v_k`` (largest first, rest lumped).

    The bars sum to the prediction, shown in the title.
    """
    terms = np.asarray(user_vector, dtype=float) * np.asarray(movie_vector, dtype=float)
    labels, values = _top_terms(terms, top)
    fig = go.Figure(
        go.Bar(x=labels, y=values, marker_color=[BLUE if v >= 0 else RED for v in values],
               text=[f"{v:+.3f}" for v in values], textposition="outside",
               hovertemplate="%{x}: %{y:.3f}<extra></extra>")
    )
    fig.update_layout(
        title={"text": f"prediction = sum of the bars = {terms.sum():.3f}"},
        template=TEMPLATE, height=380, yaxis={"title": {"text": "u_k × v_k"}}, margin={"t": 50},
    )
    return fig


def onehot_product_figure(
    onehot: np.ndarray, weights: np.ndarray, product: np.ndarray, row_labels: Sequence[str],
    level_labels: Sequence[str],
) -> go.Figure:
    """Three heatmaps side by side: one-hot rows × weight matrix = looked-up rows."""
    fig = make_subplots(
        rows=1, cols=3, column_widths=[0.34, 0.33, 0.33], horizontal_spacing=0.12,
        subplot_titles=("one-hot inputs", "× weight matrix W", "= rows of W"),
    )
    dims = [f"d{i + 1}" for i in range(weights.shape[1])]
    limit = float(np.abs(weights).max()) or 1.0
    # Category labels are tick text and hover text both.
    row_labels, level_labels = [plain(t) for t in row_labels], [plain(t) for t in level_labels]
    fig.add_trace(go.Heatmap(z=onehot, x=level_labels, y=row_labels, colorscale="Greys", zmin=0, zmax=1,
                             showscale=False, hovertemplate="%{y} / %{x}: %{z}<extra></extra>"), row=1, col=1)
    for col, (matrix, ys) in enumerate(((weights, level_labels), (product, row_labels)), start=2):
        fig.add_trace(go.Heatmap(z=matrix, x=dims, y=ys, colorscale=DIVERGING, zmid=0, zmin=-limit,
                                 zmax=limit, showscale=col == 3, hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"),
                      row=1, col=col)
    for col in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=col)
        fig.update_xaxes(type="category", row=1, col=col)
    fig.update_layout(template=TEMPLATE, height=330, margin={"t": 50, "l": 10})
    return fig
