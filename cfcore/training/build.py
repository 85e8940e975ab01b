"""A model by name (:func:`build_model`, :func:`configured_model`), a saved one loaded (checked first), and the
arrays of a live model (:func:`embedding_arrays`, :func:`embeddings_of`)."""

from __future__ import annotations

import zipfile

import keras
import numpy as np

from cfcore.config import MODEL_NAMES, TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split
from cfcore.runs.embeddings import SET_NAMES, Embeddings, embeddings_from_arrays, implicit_sets
from cfcore.training.factor_model import FactorModel
from cfcore.training.models import DotWithBias, RatingModel, SimpleDot, SimpleEmbedding
from cfcore.training.svdpp import SVDpp
from cfcore.training.weights import check_weights_file

MODEL_CLASSES: dict[str, type[RatingModel]] = {
    "simple_dot": SimpleDot,
    "dot_with_bias": DotWithBias,
    "simple_embedding": SimpleEmbedding,
    "svdpp": SVDpp,
}

# Every class a saved run's model may be, by its registered name: Keras's safe mode loads only classes it knows,
# and naming them here makes a model load whatever else was imported before.
SAVED_CLASSES = {keras.saving.get_registered_name(cls): cls for cls in (*MODEL_CLASSES.values(), FactorModel)}


def build_model(
    name: str,
    n_users: int,
    n_movies: int,
    embedding_dim: int = 64,
    *,
    seed: int | None = None,
    min_rating: float = 0.5,
    max_rating: float = 5.0,
    user_dropout: float = 0.3,
    movie_dropout: float = 0.6,
    l2: float = 0.0,
    global_bias: bool = False,
    own_init: bool = False,
    train_pairs: np.ndarray | None = None,
) -> keras.Model:
    """Build one of :data:`MODEL_NAMES`, with all weights created.

    ``train_pairs`` (``svdpp`` only): the training ``(user, movie)`` pairs its rated sets come from (none: empty
    sets, the bias model).

    Raises:
        ValueError: for an unknown name or a bad size.
    """
    if name not in MODEL_CLASSES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if name in ("dot_with_bias", "svdpp"):
        settings = dict(min_rating=min_rating, max_rating=max_rating, user_dropout=user_dropout,
                        movie_dropout=movie_dropout, l2=l2, global_bias=global_bias, name=name)
        if name == "svdpp":
            sets = implicit_sets(np.zeros((0, 2)) if train_pairs is None else train_pairs, n_users, n_movies)
            model = SVDpp(n_users, n_movies, embedding_dim, seed, n_user_links=len(sets[1]),
                          n_movie_links=len(sets[3]), **settings)
            model.build((None, 2))
            model.set_implicit(sets)
            return model
        model = DotWithBias(n_users, n_movies, embedding_dim, seed, **settings)
    elif name == "simple_embedding":
        model = SimpleEmbedding(n_users, n_movies, embedding_dim, seed, own_init=own_init, name=name)
    else:
        model = MODEL_CLASSES[name](n_users, n_movies, embedding_dim, seed, name=name)
    model.build((None, 2))
    return model


def load_model(path) -> keras.Model:
    """Load a saved ``.keras`` model with Keras safe mode on (no arbitrary code), after
    :func:`check_weights_file` has found its weights wholly inside the file.

    Raises:
        cfcore.training.weights.UnsafeWeightsError: for weights that reach outside the file or are not a model's
            plain tables.
    """
    with zipfile.ZipFile(path) as archive:
        check_weights_file(archive.read("model.weights.h5"))
    return keras.saving.load_model(path, safe_mode=True, compile=False, custom_objects=SAVED_CLASSES)


def embedding_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """Every array of a model that the web server needs, by the names of a run's ``embeddings.npz``.

    The user and movie tables for every model; biases, global offset, rating range and link for models with
    biases; SVD++'s own tables (its movie part, ``rated``, ``rater``) and its rated sets. :func:`cfcore.runs.embeddings.
    embeddings_from_arrays` turns them into :class:`~cfcore.runs.embeddings.Embeddings`.
    """
    def weights(variable):
        return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float32)

    arrays = {"user": weights(model.user_embedding.embeddings), "movie": weights(model.movie_embedding.embeddings)}
    if not hasattr(model, "user_bias"):
        return arrays
    offset = weights(model.global_offset).reshape(-1)[0] if model.use_global_bias else np.float32(0.0)
    arrays.update(user_bias=weights(model.user_bias.embeddings)[:, 0],
                  movie_bias=weights(model.movie_bias.embeddings)[:, 0], global_offset=np.float32(offset),
                  min_rating=np.float64(model.min_rating), max_rating=np.float64(model.max_rating),
                  link=np.str_(getattr(model, "link", "sigmoid")))
    if isinstance(model, SVDpp):
        arrays.update(rated=weights(model.rated_embedding.embeddings), rater=weights(model.rater_embedding.embeddings))
        for name, variable in zip(SET_NAMES, (model.user_splits, model.user_movies, model.movie_splits,
                                              model.movie_users), strict=True):
            arrays[name] = np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.int32)
    return arrays


def embeddings_of(model: keras.Model) -> Embeddings:
    """Copy the user and movie matrices (and biases, where present) out of any of the models.

    Returns:
        :class:`cfcore.runs.embeddings.Embeddings` with ``user`` ``(n_users, d)`` and ``movie`` ``(n_movies, d)``.
    """
    return embeddings_from_arrays(embedding_arrays(model))


def configured_model(config: TrainConfig, n_users: int, n_movies: int, dataset: Dataset, split: Split | None = None
                     ) -> keras.Model:
    """The untrained model ``config`` describes, with ``n_users`` and ``n_movies`` rows, its output scaled to
    ``dataset``'s rating range (SVD++'s rated sets from ``split``'s training pairs)."""
    return build_model(
        config.model, n_users, n_movies, config.embedding_dim, seed=config.seed,
        min_rating=dataset.min_rating, max_rating=dataset.max_rating,
        user_dropout=config.user_dropout, movie_dropout=config.movie_dropout,
        l2=config.l2, global_bias=config.global_bias, own_init=config.own_init,
        train_pairs=None if split is None else split.x_train,
    )
