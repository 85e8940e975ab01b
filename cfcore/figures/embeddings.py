"""Figures of the embedding space: the heatmap, the PCA variance chart, the movie map, neighbours and two runs'
maps side by side. The frames follow :mod:`cfcore.analysis` (e.g. ``movie_pca_frame``'s movieId, title, genres,
num_ratings, rating, PC1, PC2). Pure functions; no Streamlit, no Keras.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cfcore.figures.style import BLUE, CB_BLUE, CB_GREY, CB_ORANGE, CB_VERMILLION, DIVERGING, ORANGE, TEMPLATE
from cfcore.figures.tables import has_genre, readable_genres
from cfcore.text import plain

_LABEL_CHARS = 45


def _short(label: object) -> str:
    text = str(label)
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def embedding_heatmap(frame: pd.DataFrame, title: str = "Movie embeddings") -> go.Figure:
    """Heatmap of movies (rows, titles from the index) by embedding dimensions (columns).

    The colour scale is diverging and centred at 0 (``zmid=0``) with symmetric
    limits, so equal-and-opposite entries get opposite colours of equal strength.
    """
    values = frame.to_numpy(dtype=float)
    limit = float(np.nanmax(np.abs(values))) if values.size else 1.0
    limit = limit or 1.0
    rows = np.arange(len(frame))
    heat = go.Heatmap(
        z=values,
        x=[plain(c) for c in frame.columns],
        # Numeric rows with tick labels: duplicate titles (MovieLens has some) must not merge.
        y=rows,
        customdata=np.array([[plain(t)] * values.shape[1] for t in frame.index], dtype=object).reshape(values.shape),
        colorscale=DIVERGING,
        zmid=0.0,
        zmin=-limit,
        zmax=limit,
        colorbar={"title": {"text": "value"}},
        hovertemplate="%{customdata}<br>dimension %{x}: %{z:.3f}<extra></extra>",
    )
    fig = go.Figure(heat)
    fig.update_layout(
        title={"text": plain(title)},
        template=TEMPLATE,
        height=max(320, 22 * len(frame) + 140),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    fig.update_xaxes(title_text="embedding dimension", type="category")
    fig.update_yaxes(tickvals=rows, ticktext=[plain(_short(t)) for t in frame.index], autorange="reversed")
    return fig


def variance_figure(explained: np.ndarray, centered: bool, max_components: int | None = None) -> go.Figure:
    """Bars of the variance explained per principal component, plus the cumulative line (percent)."""
    fractions = np.asarray(explained, dtype=float)
    if max_components is not None:
        fractions = fractions[:max_components]
    labels = [f"PC{i + 1}" for i in range(len(fractions))]
    percent = 100.0 * fractions
    fig = go.Figure(
        [
            go.Bar(x=labels, y=percent, name="per component", marker_color=BLUE,
                   hovertemplate="%{x}: %{y:.1f}%<extra></extra>"),
            go.Scatter(x=labels, y=np.cumsum(percent), name="cumulative", mode="lines+markers",
                       line={"color": ORANGE}, hovertemplate="up to %{x}: %{y:.1f}%<extra></extra>"),
        ]
    )
    kind = "centered" if centered else "uncentered"
    fig.update_layout(
        title={"text": f"Variance explained ({kind} PCA)"},
        template=TEMPLATE,
        yaxis={"title": {"text": "% of variance"}, "range": [0, 105]},
        legend={"orientation": "h", "y": -0.2},
        height=380,
        margin={"t": 50, "b": 40},
    )
    return fig


def _hover_data(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack(
        [
            frame["movieId"].to_numpy(dtype=np.int64),
            frame["title"].astype(str).map(plain).to_numpy(),
            frame["rating"].to_numpy(dtype=float).round(2),
            frame["num_ratings"].to_numpy(dtype=np.int64),
            frame["genres"].astype(str).map(lambda g: plain(readable_genres(g))).to_numpy(),
        ]
    ).astype(object)


_HOVER = ("<b>%{customdata[1]}</b><br>%{customdata[4]}<br>mean rating %{customdata[2]}<br>%{customdata[3]} ratings"
          "<extra></extra>")


MAP_COLOURS = ("mean rating", "number of ratings", "PC1", "PC2")


def _map_colour(frame: pd.DataFrame, color_by: str) -> dict:
    """The marker settings that colour ``frame``'s movies by a numeric column (see :func:`pc_scatter`)."""
    if color_by in ("rating", "mean rating"):
        return {"color": frame["rating"], "colorscale": "Viridis", "colorbar": {"title": {"text": "mean<br>rating"}}}
    if color_by in ("num_ratings", "number of ratings"):
        counts = frame["num_ratings"].to_numpy(dtype=float)
        low, high = (counts.min(), max(counts.max(), 1)) if counts.size else (1, 1)
        ticks = [v for v in (1, 3, 10, 30, 100, 300, 1000, 3000) if low <= v <= high]
        return {"color": np.log10(np.maximum(counts, 1)), "colorscale": "Cividis",
                "colorbar": {"title": {"text": "ratings"}, "tickvals": np.log10(ticks).tolist(),
                             "ticktext": [f"{v:,}" for v in ticks]}}
    values = np.abs(frame[color_by].to_numpy(dtype=float))
    limit = float(values.max()) if values.size and np.isfinite(values).any() and values.max() > 0 else 1.0
    return {"color": frame[color_by], "colorscale": DIVERGING, "cmin": -limit, "cmax": limit,
            "colorbar": {"title": {"text": plain(color_by)}}}


def pc_scatter(
    frame: pd.DataFrame,
    color_by: str = "rating",
    highlight: int | None = None,
    you: tuple[float, float] | None = None,
    x: str = "PC1",
    y: str = "PC2",
    x_title: str | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """Movies on a 2-D map (two principal components, or a t-SNE map).

    Args:
        frame: Per-movie rows with movieId, title, genres, num_ratings, rating and
            the ``x``/``y`` columns (``cfcore.analysis.pca.movie_pca_frame``); every row is drawn.
        color_by: ``"rating"``/``"mean rating"``, ``"number of ratings"`` (log scale), a numeric
            column such as ``"PC1"`` (diverging around 0), or a genre name (movies with that
            genre in colour, the rest grey). Colour-blind-safe palettes throughout.
        highlight: A movieId to mark with a ring and a label (if it is in ``frame``).
        you: A folded-in user's position, drawn as a star.
        x, y: Columns to plot; ``x_title``, ``y_title`` name the axes (default the column names).

    Returns:
        A figure whose movie points carry ``customdata = [movieId, title, rating,
        num_ratings, genres]``, so a Streamlit selection yields the movieId first.
    """
    fig = go.Figure()
    marker = {"size": 7, "opacity": 0.8}
    # A genre is anything else, even one an upload named like a column ("title", "x").
    if color_by in ("rating", *MAP_COLOURS) or (re.fullmatch(r"PC\d+", color_by) and color_by in frame):
        fig.add_trace(go.Scatter(x=frame[x], y=frame[y], mode="markers", name="movies",
                                 customdata=_hover_data(frame), hovertemplate=_HOVER,
                                 marker={**marker, **_map_colour(frame, color_by)}))
    else:
        mask = has_genre(frame["genres"], color_by)
        for part, label, color in ((frame[~mask], "other", CB_GREY), (frame[mask], plain(color_by), CB_BLUE)):
            fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="markers", name=label,
                                     customdata=_hover_data(part), hovertemplate=_HOVER,
                                     marker={**marker, "color": color}))
    if highlight is not None:
        chosen = frame[frame["movieId"] == highlight]
        if len(chosen):
            fig.add_trace(
                go.Scatter(
                    x=chosen[x], y=chosen[y], mode="markers+text", name="selected",
                    text=[plain(_short(t)) for t in chosen["title"]], textposition="top center",
                    customdata=_hover_data(chosen), hovertemplate=_HOVER,
                    marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": CB_VERMILLION, "width": 3}},
                )
            )
    if you is not None:
        fig.add_trace(
            go.Scatter(
                x=[you[0]], y=[you[1]], mode="markers+text", name="you", text=["you"],
                textposition="bottom center", hovertemplate="you<extra></extra>",
                marker={"symbol": "star", "size": 20, "color": CB_ORANGE, "line": {"color": "black", "width": 1}},
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        height=560,
        xaxis={"title": {"text": plain(x_title or x)}, "zeroline": True},
        yaxis={"title": {"text": plain(y_title or y)}, "zeroline": True},
        legend={"orientation": "h", "y": -0.15},
        margin={"t": 30},
        dragmode="pan",
    )
    return fig


def selected_movie_id(selection: Mapping | None) -> int | None:
    """The movieId of the first selected point in a Streamlit plotly selection state, or None.

    Works with :func:`pc_scatter` figures, whose points carry the movieId first in ``customdata``.
    Anything unexpected (no selection, a point without customdata, the "you" star) gives None.
    """
    try:
        points = (selection or {}).get("selection", {}).get("points", [])
        custom = points[0].get("customdata") if points else None
        if isinstance(custom, list | tuple) and custom:
            return int(custom[0])
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    return None


def neighbours_figure(frame: pd.DataFrame, metric: str = "cosine") -> go.Figure:
    """Horizontal bars of the nearest movies' similarity (frame from ``nearest_movies``), nearest on top."""
    labels = [plain(_short(t)) for t in frame["title"]]
    fig = go.Figure(
        go.Bar(
            x=frame["similarity"], y=list(range(len(frame))), orientation="h", marker_color=BLUE,
            customdata=frame["title"].astype(str).map(plain), hovertemplate="%{customdata}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        height=max(260, 26 * len(frame) + 80),
        xaxis={"title": {"text": "cosine similarity" if metric == "cosine" else "dot product"}},
        margin={"t": 20, "l": 10},
    )
    fig.update_yaxes(tickvals=list(range(len(frame))), ticktext=labels, autorange="reversed")
    return fig


def aligned_maps_figure(left: pd.DataFrame, right: pd.DataFrame, left_name: str, right_name: str) -> go.Figure:
    """Two runs' movie maps side by side on shared axes (:func:`cfcore.analysis.similarity.aligned_maps`): the same
    movies, the right map turned onto the left, each point coloured by the movie's mean rating."""
    fig = make_subplots(rows=1, cols=2, shared_xaxes=True, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=(plain(left_name), f"{plain(right_name)}, turned onto it"))
    colour = {"color": left["rating"], "colorscale": "Viridis", "size": 6, "opacity": 0.8}
    for col, frame in ((1, left), (2, right)):
        fig.add_trace(go.Scatter(x=frame["x"], y=frame["y"], mode="markers", name=plain(left_name if col == 1
                                                                                         else right_name),
                                 customdata=_hover_data(frame), hovertemplate=_HOVER,
                                 marker={**colour, "showscale": col == 2,
                                         "colorbar": {"title": {"text": "mean rating"}}}),
                      row=1, col=col)
    fig.update_xaxes(title_text="PC1 (centred, unit spread)", row=1, col=1)
    fig.update_xaxes(title_text="its PC1, turned", row=1, col=2)
    fig.update_yaxes(title_text="PC2 (centred, unit spread)", row=1, col=1)
    fig.update_layout(template=TEMPLATE, height=460, showlegend=False, margin={"t": 50})
    return fig
