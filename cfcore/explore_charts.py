"""Figures for the exploration pages: embeddings, PCA, neighbours, fold-in, explanations, comparisons.

Pure functions: frames and arrays in, plotly ``Figure`` out. No Streamlit, no Keras.
The frames follow :mod:`cfcore.analysis` (e.g. ``movie_pca_frame`` columns movieId,
title, genres, num_ratings, rating, PC1, PC2, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cfcore.config import DROPOUT_MODELS, IMPLICIT_PART
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.data.dataset import is_article_dataset
from cfcore.runs.embeddings import link_output
from cfcore.text import plain

PRIMARY = "#3b6ea5"
MUTED = "#b8c2cc"
ACCENT = "#d9822b"
HIGHLIGHT = "#c23030"
# Diverging, with white at 0: positive and negative entries read as opposites.
DIVERGING = "RdBu"
TEMPLATE = "plotly_white"
_LABEL_CHARS = 45
_DASHES = ("solid", "dash", "dot", "dashdot")


class ExplanationLike(Protocol):
    """What :func:`explanation_waterfall` reads (``cfcore.analysis.Explanation`` fits)."""

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


def readable_genres(genres: str) -> str:
    """MovieLens ``"Action|Thriller"`` as ``"Action, Thriller"`` (idempotent)."""
    if not isinstance(genres, str) or genres == "(no genres listed)":
        return ""
    return ", ".join(part.strip() for part in genres.replace(", ", "|").split("|") if part.strip())


def genre_names(genres: pd.Series) -> list[str]:
    """Sorted distinct genres in a column of ``"A|B"`` (or ``"A, B"``) strings."""
    names: set[str] = set()
    for value in genres.dropna().unique():
        names.update(part for part in readable_genres(value).split(", ") if part)
    return sorted(names)


def has_genre(genres: pd.Series, genre: str) -> np.ndarray:
    """Boolean mask: which rows list ``genre`` (exact genre, not a substring)."""
    return np.array([genre in readable_genres(value).split(", ") for value in genres], dtype=bool)


def for_display(frame: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """A copy for reading: floats rounded, genres as ``"Action, Thriller"``."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].round(decimals)
    if "genres" in out.columns:
        out["genres"] = out["genres"].map(readable_genres)
    return out


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
            go.Bar(x=labels, y=percent, name="per component", marker_color=PRIMARY,
                   hovertemplate="%{x}: %{y:.1f}%<extra></extra>"),
            go.Scatter(x=labels, y=np.cumsum(percent), name="cumulative", mode="lines+markers",
                       line={"color": ACCENT}, hovertemplate="up to %{x}: %{y:.1f}%<extra></extra>"),
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
# Okabe and Ito's palette, distinguishable with every common colour-vision deficiency; continuous colours use
# Viridis, Cividis and ColorBrewer's RdBu, which are as well.
CB_BLUE, CB_VERMILLION, CB_ORANGE, CB_GREY = "#0072B2", "#D55E00", "#E69F00", "#BBBBBB"
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
            the ``x``/``y`` columns (``cfcore.analysis.movie_pca_frame``); every row is drawn.
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


def neighbours_figure(frame: pd.DataFrame, metric: str = "cosine") -> go.Figure:
    """Horizontal bars of the nearest movies' similarity (frame from ``nearest_movies``), nearest on top."""
    labels = [plain(_short(t)) for t in frame["title"]]
    fig = go.Figure(
        go.Bar(
            x=frame["similarity"], y=list(range(len(frame))), orientation="h", marker_color=PRIMARY,
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


def predicted_vs_actual(frame: pd.DataFrame, min_rating: float, max_rating: float) -> go.Figure:
    """One user's ratings: actual (x) vs predicted (y), train and validation coloured apart, with y = x."""
    fig = go.Figure()
    for split, color in (("train", MUTED), ("validation", PRIMARY)):
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
                fig.add_hrect(y0=y0, y1=y1, fillcolor=HIGHLIGHT, opacity=0.08, line_width=0)
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
            increasing={"marker": {"color": PRIMARY}}, decreasing={"marker": {"color": HIGHLIGHT}},
            totals={"marker": {"color": ACCENT}}, connector={"line": {"color": MUTED}},
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
                   marker={"size": 12, "color": ACCENT},
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
        go.Bar(x=labels, y=values, marker_color=[PRIMARY if v >= 0 else HIGHLIGHT for v in values],
               text=[f"{v:+.3f}" for v in values], textposition="outside",
               hovertemplate="%{x}: %{y:.3f}<extra></extra>")
    )
    fig.update_layout(
        title={"text": f"prediction = sum of the bars = {terms.sum():.3f}"},
        template=TEMPLATE, height=380, yaxis={"title": {"text": "u_k × v_k"}}, margin={"t": 50},
    )
    return fig


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
                       line={"dash": _DASHES[number % len(_DASHES)]},
                       hovertemplate=f"{plain(name)}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>")
        )
    if reference is not None:
        fig.add_hline(y=reference, line={"dash": "dot", "color": "gray"}, annotation_text=plain(reference_label))
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
    colors = [MUTED] * min(n_baselines, len(frame)) + [PRIMARY] * max(0, len(frame) - n_baselines)
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


def runs_table(runs: Mapping[str, object]) -> pd.DataFrame:
    """One row per run (``cfcore.training.Run``): its settings and outcome, for a side-by-side table."""
    rows = []
    for name, run in runs.items():
        config, result = run.config, run.result
        has_dropout = config.model in DROPOUT_MODELS
        rows.append(
            {
                "run": name,
                "model": config.model,
                "dim": config.embedding_dim,
                "batch": config.batch_size,
                "learning rate": config.learning_rate,
                "schedule": config.lr_schedule,
                "dropout user/movie": f"{config.user_dropout:g}/{config.movie_dropout:g}" if has_dropout else "",
                "l2": config.l2,
                "epochs run": result.epochs_run,
                "best epoch": result.best_epoch,
                "best val RMSE": result.best_val_rmse,
                "final val RMSE": result.history[-1]["val_rmse"] if result.history else float("nan"),
                # The article's figure only means something next to runs on its data.
                "article val RMSE": ARTICLE_VAL_RMSE.get(config.model, float("nan")) if is_article_dataset(
                    run.dataset) else float("nan"),
                "seconds": round(result.train_seconds, 1),
            }
        )
    return pd.DataFrame(rows)


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
