"""Data-summary charts and training curves: the figures show the numbers they claim to."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import plotly.graph_objects as go

from cfcore.figures.data import rating_histogram, ratings_per_movie, ratings_per_user
from cfcore.figures.tables import joined_sample
from cfcore.figures.training import training_curves


def test_rating_histogram_counts_every_rating(synthetic_dataset):
    fig = rating_histogram(synthetic_dataset)
    bar = fig.data[0]
    assert isinstance(fig, go.Figure) and bar.type == "bar"
    assert int(np.sum(bar.y)) == synthetic_dataset.n_ratings
    assert sorted(bar.x) == sorted(synthetic_dataset.ratings["rating"].unique().astype(float))


def test_per_user_and_per_movie_distributions(synthetic_dataset):
    per_user = ratings_per_user(synthetic_dataset).data[0]
    per_movie = ratings_per_movie(synthetic_dataset).data[0]
    assert len(per_user.x) == synthetic_dataset.n_users
    assert len(per_movie.x) == synthetic_dataset.n_movies
    assert int(np.sum(per_user.x)) == int(np.sum(per_movie.x)) == synthetic_dataset.n_ratings
    counts = synthetic_dataset.ratings.groupby("userId").size()
    assert sorted(per_user.x) == sorted(counts.to_numpy())


def test_joined_sample_has_titles_that_match_the_movies(synthetic_dataset):
    table = joined_sample(synthetic_dataset, n=7, seed=3)
    assert list(table.columns) == ["userId", "movieId", "rating", "title", "genres"]
    assert len(table) == 7
    titles = synthetic_dataset.movies.set_index("movieId")["title"]
    assert (table["title"].to_numpy() == titles.loc[table["movieId"]].to_numpy()).all()
    assert joined_sample(synthetic_dataset, n=10**9).shape[0] == synthetic_dataset.n_ratings


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


def test_charts_module_does_not_import_tensorflow():
    code = ("import sys, cfcore.figures.data, cfcore.figures.training; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_app_theme_is_the_figures_palette():
    import tomllib

    from cfcore.figures.style import THEME
    from tests.support.paths import REPO

    theme = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["theme"]
    assert {key: theme[key] for key in THEME} == THEME
