"""The indexed dataset: validated ratings with dense 0-based user and movie indices, and its movie table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from cfcore import constants as C
from cfcore.data.errors import DataError
from cfcore.data.read import Limits, Source, read_movies, read_ratings, upload_limits
from cfcore.data.validate import line_of


@dataclass
class Dataset:
    """Validated ratings with dense 0-based user and movie indices.

    Attributes:
        ratings: One row per rating: userId, movieId, rating[, timestamp], and
            the dense indices ``user`` and ``movie`` (int32).
        movies: movieId, title, genres for every rated movie, ordered by movie
            index, plus ``num_ratings`` and ``mean_rating``.
        index_to_user: ``index_to_user[i]`` is the userId of user index i.
        index_to_movie: ``index_to_movie[j]`` is the movieId of movie index j.
        source: Where the data came from, for display.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame
    index_to_user: np.ndarray
    index_to_movie: np.ndarray
    source: str = ""
    _fingerprint: str = field(default="", repr=False)

    @cached_property
    def user_to_index(self) -> dict[int, int]:
        return {int(u): i for i, u in enumerate(self.index_to_user)}

    @cached_property
    def movie_to_index(self) -> dict[int, int]:
        return {int(m): j for j, m in enumerate(self.index_to_movie)}

    @cached_property
    def _movie_ids(self) -> pd.Index:
        # A pandas Index, not movie_to_index's dict: an upload's 200,000 movies made that dict 21 MB, for a page
        # that looks up a few thousand titles.
        return pd.Index(self.index_to_movie)

    def movie_title(self, movie_id) -> str | None:
        """The title of ``movie_id``, or None for a movie not in this dataset."""
        try:
            index = self._movie_ids.get_loc(int(movie_id))  # sorted ids: a binary search, no hash table
        except KeyError:
            return None
        return str(self.movies["title"].iat[index])

    @property
    def n_users(self) -> int:
        return len(self.index_to_user)

    @property
    def n_movies(self) -> int:
        return len(self.index_to_movie)

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    @property
    def min_rating(self) -> float:
        return float(self.ratings["rating"].min())

    @property
    def max_rating(self) -> float:
        return float(self.ratings["rating"].max())

    @property
    def sparsity(self) -> float:
        """Fraction of the user x movie matrix that has no rating."""
        return 1.0 - self.n_ratings / float(self.n_users * self.n_movies)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the content a learner sees: the (userId, movieId, rating) triples and every movie's
        id, title and genres.

        Caches shared across sessions are keyed by it, so two datasets with the same ratings but other
        titles (an upload that copies the built-in ratings) must never share a fingerprint.
        """
        if not self._fingerprint:
            digest = hashlib.sha256()
            for column in ("userId", "movieId"):
                digest.update(np.ascontiguousarray(self.ratings[column].to_numpy(dtype=np.int64)).tobytes())
            digest.update(np.ascontiguousarray(self.ratings["rating"].to_numpy(dtype=np.float32)).tobytes())
            digest.update(np.ascontiguousarray(self.movies["movieId"].to_numpy(dtype=np.int64)).tobytes())
            for column in ("title", "genres"):
                # Length-prefixed, so no choice of separators inside titles can make two tables collide.
                for text in self.movies[column].astype(str):
                    encoded = text.encode("utf-8", "surrogatepass")
                    digest.update(len(encoded).to_bytes(8, "little") + encoded)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def summary(self) -> dict[str, float | int | str]:
        return {
            "source": self.source,
            "n_users": self.n_users,
            "n_movies": self.n_movies,
            "n_ratings": self.n_ratings,
            "sparsity": self.sparsity,
            "min_rating": self.min_rating,
            "max_rating": self.max_rating,
        }


def build_dataset(ratings: pd.DataFrame, movies: pd.DataFrame, source: str = "") -> Dataset:
    """Index validated ratings and join movie titles onto them.

    Args:
        ratings: Output of :func:`validate_ratings`.
        movies: Output of :func:`validate_movies`.
        source: Description of where the data came from.

    Returns:
        A :class:`Dataset`; only movies with at least one rating get an index.

    Raises:
        DataError: if a rating refers to a movie missing from ``movies``.
    """
    known = np.isin(ratings["movieId"].to_numpy(), movies["movieId"].to_numpy())
    if not known.all():
        pos = int(np.flatnonzero(~known)[0])
        raise DataError(
            f"{C.RATINGS_FILE}: column 'movieId' line {line_of(ratings, pos)}: movieId "
            f"{int(ratings['movieId'].iloc[pos])} is not in {C.MOVIES_FILE}"
        )
    index_to_user, user_index = np.unique(ratings["userId"].to_numpy(), return_inverse=True)
    index_to_movie, movie_index = np.unique(ratings["movieId"].to_numpy(), return_inverse=True)
    ratings = ratings.reset_index(drop=True).copy()
    ratings["user"] = user_index.astype(np.int32)
    ratings["movie"] = movie_index.astype(np.int32)
    stats = ratings.groupby("movie")["rating"].agg(["size", "mean"])
    table = movies.set_index("movieId").loc[index_to_movie].reset_index()
    table["num_ratings"] = stats["size"].to_numpy().astype(np.int64)
    table["mean_rating"] = stats["mean"].to_numpy().astype(np.float64)
    return Dataset(ratings, table, index_to_user, index_to_movie, source)


def dataset_from_files(
    ratings_source: Source,
    movies_source: Source,
    *,
    source: str = "upload",
    limits: Limits | None = None,
    ratings_name: str = C.RATINGS_FILE,
    movies_name: str = C.MOVIES_FILE,
) -> Dataset:
    """Build a dataset from two files or byte strings (used for uploads; ``limits`` default to
    :func:`upload_limits`)."""
    limits = limits or upload_limits()
    ratings = read_ratings(ratings_source, ratings_name, limits)
    movies = read_movies(movies_source, movies_name, limits)
    return build_dataset(ratings, movies, source)


def is_article_dataset(dataset: Dataset) -> bool:
    """Whether ``dataset`` is MovieLens ml-latest-small (today's release or the article's), the data the
    article's RMSEs were measured on."""
    return (dataset.n_users, dataset.n_ratings) in C.ARTICLE_DATASET_SHAPES
