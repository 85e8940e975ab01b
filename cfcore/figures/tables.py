"""Tables for reading: rounded numbers and readable genres, a sample of the joined data, and runs side by side.

Pure functions; no Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cfcore.config import DROPOUT_MODELS
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.data.dataset import Dataset, is_article_dataset


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


def joined_sample(dataset: Dataset, n: int = 10, seed: int = 0) -> pd.DataFrame:
    """A few random ratings with the movie title and genres joined on (the table the model learns from)."""
    rows = dataset.ratings.sample(n=min(n, dataset.n_ratings), random_state=seed)
    titles = dataset.movies[["movieId", "title", "genres"]]
    table = rows[["userId", "movieId", "rating"]].merge(titles, on="movieId", how="left")
    return table.reset_index(drop=True)


def runs_table(runs: Mapping[str, object]) -> pd.DataFrame:
    """One row per run (``cfcore.runs.run.Run``): its settings and outcome, for a side-by-side table."""
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
