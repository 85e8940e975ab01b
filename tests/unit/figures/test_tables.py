"""cfcore.figures.tables: tables for display, readable genres, the joined sample and the runs table."""

from __future__ import annotations

import math

import pandas as pd

from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.figures.tables import for_display, genre_names, has_genre, joined_sample, readable_genres, runs_table


def test_joined_sample_has_titles_that_match_the_movies(synthetic_dataset):
    table = joined_sample(synthetic_dataset, n=7, seed=3)
    assert list(table.columns) == ["userId", "movieId", "rating", "title", "genres"]
    assert len(table) == 7
    titles = synthetic_dataset.movies.set_index("movieId")["title"]
    assert (table["title"].to_numpy() == titles.loc[table["movieId"]].to_numpy()).all()
    assert joined_sample(synthetic_dataset, n=10**9).shape[0] == synthetic_dataset.n_ratings


def test_readable_genres_and_genre_helpers():
    assert readable_genres("Action|Thriller") == "Action, Thriller"
    assert readable_genres("Action, Thriller") == "Action, Thriller"  # idempotent
    assert readable_genres("(no genres listed)") == ""
    series = pd.Series(["Action|Thriller", "Comedy", "Sci-Fi|Action"])
    assert genre_names(series) == ["Action", "Comedy", "Sci-Fi", "Thriller"]
    # Exact genre match: "Action" is not found inside "Sci-Fi".
    assert has_genre(series, "Action").tolist() == [True, False, True]
    assert has_genre(series, "Fi").tolist() == [False, False, False]


def test_for_display_rounds_floats_and_formats_genres():
    frame = pd.DataFrame({"title": ["A"], "PC1": [0.123456], "num_ratings": [5], "genres": ["Action|Drama"]})
    shown = for_display(frame, decimals=2)
    assert shown.loc[0, "PC1"] == 0.12
    assert shown.loc[0, "genres"] == "Action, Drama"
    assert shown.loc[0, "num_ratings"] == 5
    assert frame.loc[0, "PC1"] == 0.123456  # the input is not modified


def test_runs_table_one_row_per_run(tiny_run):
    table = runs_table({"a": tiny_run, "b": tiny_run})
    assert table["run"].tolist() == ["a", "b"]
    assert table.loc[0, "best val RMSE"] == tiny_run.result.best_val_rmse
    assert table.loc[0, "epochs run"] == tiny_run.result.epochs_run
    assert table.loc[0, "dropout user/movie"] == "0.3/0.6"
    assert table.loc[0, "final val RMSE"] == tiny_run.result.history[-1]["val_rmse"]
    # The article's figure only stands next to runs on its data; tiny_run's is synthetic.
    assert "article val RMSE" not in table.columns and tiny_run.config.model in ARTICLE_VAL_RMSE
    assert table.columns[:3].tolist() == ["run", "best val RMSE", "final val RMSE"]  # numbers before settings
    assert table.loc[0, "model"] == "Dot + biases"


def test_runs_table_leaves_blank_what_a_factors_run_never_used(factor_run_dirs):
    from cfcore.runs.run import load_run

    runs = {method: load_run(folder) for method, folder in factor_run_dirs.items()}
    table = runs_table(runs).set_index("run")
    assert math.isnan(table.loc["svd", "batch"]) and table.loc["svd", "learning rate"] == ""
    assert table.loc["svd", "schedule"] == "" and math.isnan(table.loc["svd", "epochs run"])
    assert table.loc["autorec", "l2"] == "0.02" and table.loc["autorec", "schedule"] == ""
    assert math.isnan(table.loc["implicit", "best epoch"]) and math.isnan(table.loc["implicit", "best val RMSE"])
    assert table.loc["implicit", "model"] == "Implicit"
