"""Tables for reading: rounded numbers and readable genres, a sample of the joined data, and runs side by side.

Pure functions; no Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cfcore.config import DROPOUT_MODELS, kind_name
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


# What each factors method has of the training settings (svd trains nothing; the others train without dropout).
_FACTOR_USES = {"svd": (), "autorec": ("batch", "learning rate", "l2"), "implicit": ("batch", "learning rate", "l2")}


def runs_table(runs: Mapping[str, object]) -> pd.DataFrame:
    """One row per run (``cfcore.runs.run.Run``), numbers first (so a narrow screen shows them), then the settings
    it used; a setting a run never used (an SVD's batch size) is blank. The article's figure only where a run is
    on its data."""
    rows = []
    for name, run in runs.items():
        config, result = run.config, run.result
        rates = run.embeddings.predicts_ratings
        final = result.history[-1].get("val_rmse") if result.history and rates else None
        row = {
            "run": name,
            "best val RMSE": result.best_val_rmse if rates else np.nan,
            "article val RMSE": ARTICLE_VAL_RMSE.get(config.model, np.nan) if is_article_dataset(run.dataset)
            else np.nan,
            "final val RMSE": float(final) if final is not None else np.nan,
            "epochs run": result.epochs_run if config.model != "svd" else np.nan,
            "seconds": round(result.train_seconds, 1),
            "best epoch": result.best_epoch if rates and config.model != "svd" else np.nan,
            "model": kind_name(config.model),
            "dim": config.embedding_dim,
            "batch": config.batch_size,
            "learning rate": f"{config.learning_rate:g}",
            "schedule": config.lr_schedule,
            "dropout user/movie": f"{config.user_dropout:g}/{config.movie_dropout:g}"
            if config.model in DROPOUT_MODELS else "",
            "l2": f"{config.l2:g}" if config.l2 else "",
        }
        if config.model in _FACTOR_USES:
            used = _FACTOR_USES[config.model]
            row.update({column: np.nan if column == "batch" else "" for column in
                        ("batch", "learning rate", "schedule", "l2") if column not in used})
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty and table["article val RMSE"].isna().all():
        table = table.drop(columns="article val RMSE")
    return table
