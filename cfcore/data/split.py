"""A seeded random train/validation split of a dataset's ratings, or the split a run folder recorded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cfcore import constants as C
from cfcore.data.dataset import Dataset
from cfcore.data.errors import DataError


@dataclass
class Split:
    """A seeded random train/validation split of a dataset's ratings.

    ``x_*`` arrays have shape ``(n, 2)`` holding (user index, movie index);
    ``y_*`` have shape ``(n,)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    val_fraction: float
    seed: int

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_val(self) -> int:
        return len(self.y_val)

    def cold_start_counts(self) -> dict[str, int]:
        """Validation ratings whose user, movie, or either never appears in training."""
        seen_users = np.zeros(int(max(self.x_train[:, 0].max(initial=0), self.x_val[:, 0].max(initial=0))) + 1, bool)
        seen_movies = np.zeros(int(max(self.x_train[:, 1].max(initial=0), self.x_val[:, 1].max(initial=0))) + 1, bool)
        seen_users[self.x_train[:, 0]] = True
        seen_movies[self.x_train[:, 1]] = True
        new_user = ~seen_users[self.x_val[:, 0]]
        new_movie = ~seen_movies[self.x_val[:, 1]]
        return {
            "unseen_user": int(new_user.sum()),
            "unseen_movie": int(new_movie.sum()),
            "unseen_either": int((new_user | new_movie).sum()),
        }


def split_dataset(dataset: Dataset, val_fraction: float = 0.2, seed: int = C.DEFAULT_SEED) -> Split:
    """Randomly split ratings into train and validation sets, reproducibly.

    Raises:
        DataError: if ``val_fraction`` is not in (0, 1) or a side would be empty.
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be between 0 and 1. Received: {val_fraction}")
    n = dataset.n_ratings
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if n_val == 0 or n_val == n:
        raise DataError(f"a validation fraction of {val_fraction} leaves one side empty ({n} ratings)")
    val_rows, train_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
    x = dataset.ratings[["user", "movie"]].to_numpy(dtype=np.int32)
    y = dataset.ratings["rating"].to_numpy(dtype=np.float32)
    return Split(x[train_rows], y[train_rows], x[val_rows], y[val_rows], train_rows, val_rows, val_fraction, seed)


def split_from_rows(ratings: pd.DataFrame, val_rows: np.ndarray, val_fraction: float, seed: int) -> Split:
    """The :class:`Split` whose validation rows are ``val_rows`` of ``ratings``."""
    mask = np.zeros(len(ratings), dtype=bool)
    mask[val_rows] = True
    x = ratings[["user", "movie"]].to_numpy(dtype=np.int32)
    y = ratings["rating"].to_numpy(dtype=np.float32)
    train_rows = np.flatnonzero(~mask)
    return Split(x[train_rows], y[train_rows], x[val_rows], y[val_rows], train_rows, np.asarray(val_rows),
                 val_fraction, seed)
