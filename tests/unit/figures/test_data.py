"""cfcore.figures.data: the data summary's charts show the numbers they claim to."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cfcore.figures.data import rating_histogram, ratings_per_movie, ratings_per_user


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


def test_the_rating_histogram_labels_whole_stars_only(synthetic_dataset):
    ticks = list(rating_histogram(synthetic_dataset).layout.xaxis.tickvals)
    assert ticks and all(float(t).is_integer() for t in ticks)
