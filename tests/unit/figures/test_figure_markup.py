"""No dataset text reaches a figure as markup: Plotly renders ``<a href>``, ``<b>``, ``<i>`` and ``<br>`` in titles,
axis and tick text, hover text, colour bar titles, annotations and legend names (a title became a live link)."""

from __future__ import annotations

import inspect
from functools import cache
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from cfcore.data.dataset import build_dataset
from cfcore.data.validate import validate_movies, validate_ratings
from cfcore.figures import biases as bias_figures
from cfcore.figures import data as data_figures
from cfcore.figures import embeddings as embedding_figures
from cfcore.figures import predictions as prediction_figures
from cfcore.figures import training as training_figures
from cfcore.figures.data import rating_histogram, ratings_per_movie, ratings_per_user
from cfcore.figures.embeddings import (
    MAP_COLOURS,
    aligned_maps_figure,
    embedding_heatmap,
    neighbours_figure,
    pc_scatter,
    variance_figure,
)
from cfcore.figures.predictions import (
    dot_product_bars,
    explanation_waterfall,
    onehot_product_figure,
    predicted_vs_actual,
)
from cfcore.figures.training import baseline_ladder_figure, compare_curves, training_curves
from tests.support.data import make_synthetic_frames

LINK = '<a href="http://x">t</a>'
BOLD = "<b>bold</b>"
GENRE = "<i>genre</i>"
TEXT = f"{LINK} {BOLD}"
# What would show if any of the above reached a figure as it is (the figures' own templates use <b>...</b>
# around inserted data and <br>, never these).
FIGURE_MODULES = (data_figures, embedding_figures, prediction_figures, training_figures, bias_figures)
RAW = ("<a ", "</a>", "<b>bold", "<i>genre")
FIGURE_FUNCTIONS = {name for module in FIGURE_MODULES
                    for name, function in inspect.getmembers(module, inspect.isfunction)
                    if function.__module__ == module.__name__ and not name.startswith("_")
                    and inspect.signature(function).return_annotation == "go.Figure"}


# What explanation_waterfall reads; its labels are the figure's own.
EXPLANATION = SimpleNamespace(global_offset=0.1, user_bias=0.2, movie_bias=-0.1, contributions=np.array([0.3, -0.2]),
                              logit=0.2, min_rating=0.5, max_rating=5.0, prediction=3.0, link="sigmoid", implicit=0.1)


def _movies(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "movieId": np.arange(n) + 1,
        "title": [f"{TEXT} {i}" for i in range(n)],
        "genres": [f"{GENRE}|Drama" if i % 2 else LINK for i in range(n)],
        "num_ratings": rng.integers(1, 200, n),
        "rating": rng.uniform(1, 5, n),
        "PC1": rng.normal(size=n), "PC2": rng.normal(size=n), "x": rng.normal(size=n), "y": rng.normal(size=n),
    })


@cache
def _figures() -> dict[str, list[go.Figure]]:
    """Every public figure function of both modules, built from text that holds markup."""
    ratings, movies = make_synthetic_frames()
    movies["title"] = [f"{TEXT} {i}" for i in range(len(movies))]
    movies["genres"] = f"{GENRE}|{LINK}"
    dataset = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), TEXT)
    frame = _movies()
    picked = int(frame["movieId"].iloc[3])
    history = [{"epoch": 1, "train_rmse": 1.1, "val_rmse": 1.2}, {"epoch": 2, "train_rmse": 0.9, "val_rmse": 1.0}]
    heat = pd.DataFrame(np.ones((3, 2)), index=frame["title"][:3], columns=[LINK, BOLD])
    split = frame.assign(predicted=frame["rating"] + 0.1, split=["train", "validation"] * 6)
    biases = frame.rename(columns={"rating": "mean_rating"}).assign(bias=frame["PC1"], off_line=frame["PC2"])
    return {
        "rating_histogram": [rating_histogram(dataset)],
        "ratings_per_user": [ratings_per_user(dataset)],
        "ratings_per_movie": [ratings_per_movie(dataset)],
        "training_curves": [training_curves(history, 3, {TEXT: 0.9}, title=TEXT)],
        "embedding_heatmap": [embedding_heatmap(heat, TEXT)],
        "variance_figure": [variance_figure(np.array([0.5, 0.3]), centered=False)],
        "pc_scatter": [pc_scatter(frame, colour, highlight=picked, you=(0.0, 0.0), x_title=TEXT, y_title=TEXT)
                       for colour in (*MAP_COLOURS, GENRE, LINK)],
        "neighbours_figure": [neighbours_figure(frame.assign(similarity=0.5))],
        "predicted_vs_actual": [predicted_vs_actual(split, 0.5, 5.0)],
        "explanation_waterfall": [explanation_waterfall(EXPLANATION)],
        "dot_product_bars": [dot_product_bars(np.ones(3), np.ones(3))],
        "compare_curves": [compare_curves({TEXT: history, LINK: history}, reference=0.9, reference_label=TEXT)],
        "baseline_ladder_figure": [baseline_ladder_figure(pd.DataFrame({"name": [TEXT, LINK],
                                                                           "val_rmse": [1.0, 0.9]}))],
        "onehot_product_figure": [onehot_product_figure(np.eye(2), np.ones((2, 2)), np.ones((2, 2)),
                                                           [TEXT, LINK], [BOLD, GENRE])],
        "aligned_maps_figure": [aligned_maps_figure(frame, frame, TEXT, LINK)],
        "bias_vs_mean_figure": [bias_figures.bias_vs_mean_figure(biases, biases.head(4))],
        "user_bias_figure": [bias_figures.user_bias_figure(np.linspace(-1, 1, 30))],
    }


def _strings(value) -> list[str]:
    """Every string inside a figure's dict: its data and its layout, arrays of text included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*_strings(key), *_strings(item))]
    if isinstance(value, np.ndarray):
        return _strings(value.tolist()) if value.dtype.kind in "OUS" else []
    if isinstance(value, list | tuple | pd.Series | pd.Index):
        return [s for item in value for s in _strings(item)]
    return []


def test_every_figure_function_is_checked():
    assert set(_figures()) == FIGURE_FUNCTIONS


@pytest.mark.parametrize("name", sorted(FIGURE_FUNCTIONS))
def test_no_text_from_the_data_reaches_a_figure_as_markup(name):
    for figure in _figures()[name]:
        strings = _strings(figure.to_dict())
        raw = [s for s in strings if any(part in s for part in RAW)]
        assert not raw, f"{name}: {raw[:3]}"
