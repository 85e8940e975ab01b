"""The article's three rating models, in Keras 3.

Every model takes one integer input of shape ``(batch, 2)`` holding
(user index, movie index) and returns predicted ratings of shape ``(batch, 1)``.
"""

from __future__ import annotations

import zipfile

import keras
import numpy as np
from keras import layers, ops

from cfcore.config import MODEL_NAMES, TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split
from cfcore.runs.embeddings import SET_NAMES, Embeddings, embeddings_from_arrays, implicit_sets
from cfcore.trainer.weights import check_weights_file


def _positive_int(label: str, value) -> int:
    """``value`` as an int, or ValueError quoting it (2.5 or True are not sizes)."""
    try:
        whole = int(value)
    except (TypeError, ValueError):
        whole = None
    if isinstance(value, bool) or whole is None or whole != value or whole <= 0:
        raise ValueError(f"{label} must be a positive integer. Received: {label}={value!r}")
    return whole


def _rowwise_dot(u, v):
    # Sum over the embedding axis only: one dot product per row of the batch.
    return ops.sum(u * v, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="cfcore")
class GatherEmbedding(layers.Layer):
    """A hand-made embedding layer: a weight matrix whose call gathers rows.

    Looking up row ``i`` is the same as multiplying the one-hot vector of ``i``
    by the weight matrix, without building the one-hot vector.

    Args:
        input_dim: Number of rows (distinct indices).
        output_dim: Length of each embedding vector.
        embeddings_initializer: Initializer of the weight matrix.

    Input shape: integer tensor ``(batch,)``. Output shape: ``(batch, output_dim)``.
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int("input_dim", input_dim)
        self.output_dim = _positive_int("output_dim", output_dim)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )

    def call(self, inputs):
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config


def _article_initializer(seed: int | None):
    # The article initialises the simple model's embeddings uniformly in [0, 0.05].
    return keras.initializers.RandomUniform(minval=0.0, maxval=0.05, seed=seed)


class _RatingModel(keras.Model):
    """Shared configuration of the three models."""

    def __init__(self, n_users: int, n_movies: int, embedding_dim: int = 64, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.n_users = _positive_int("n_users", n_users)
        self.n_movies = _positive_int("n_movies", n_movies)
        self.embedding_dim = _positive_int("embedding_dim", embedding_dim)
        self.seed = seed

    def get_config(self):
        return {
            "name": self.name,
            "n_users": self.n_users,
            "n_movies": self.n_movies,
            "embedding_dim": self.embedding_dim,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def build(self, input_shape=None):
        # Create every weight up front so a loaded model can restore them.
        for layer in self._lookup_layers():
            if not layer.built:
                layer.build((None,))
        self.built = True

    def _lookup_layers(self) -> list[layers.Layer]:
        return [self.user_embedding, self.movie_embedding]


@keras.saving.register_keras_serializable(package="cfcore")
class SimpleDot(_RatingModel):
    """Model 1: prediction = dot(user embedding, movie embedding).

    Input ``(batch, 2)`` int; output ``(batch, 1)`` float.
    """

    def __init__(self, n_users, n_movies, embedding_dim=64, seed=None, **kwargs):
        super().__init__(n_users, n_movies, embedding_dim, seed, **kwargs)
        self.user_embedding = layers.Embedding(
            self.n_users, self.embedding_dim, embeddings_initializer=_article_initializer(seed),
            name="user_embedding",
        )
        self.movie_embedding = layers.Embedding(
            self.n_movies, self.embedding_dim,
            embeddings_initializer=_article_initializer(None if seed is None else seed + 1),
            name="movie_embedding",
        )

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        return _rowwise_dot(self.user_embedding(inputs[:, 0]), self.movie_embedding(inputs[:, 1]))


def _own_initializer(seed: int | None):
    # A hand-made layer's own start, as the article's was: Keras's "uniform" (-0.05..0.05), other random numbers.
    return keras.initializers.RandomUniform(minval=-0.05, maxval=0.05, seed=seed)


@keras.saving.register_keras_serializable(package="cfcore")
class SimpleEmbedding(_RatingModel):
    """Model 3: :class:`SimpleDot` rebuilt on :class:`GatherEmbedding`.

    By default both layers start from exactly :class:`SimpleDot`'s weights (same initialiser, same seeds), so the
    two models train identically; ``own_init`` starts them from the layer's own initialiser instead.
    """

    def __init__(self, n_users, n_movies, embedding_dim=64, seed=None, own_init=False, **kwargs):
        super().__init__(n_users, n_movies, embedding_dim, seed, **kwargs)
        self.own_init = bool(own_init)
        start, offset = (_own_initializer, 1000) if self.own_init else (_article_initializer, 0)
        self.user_embedding = GatherEmbedding(
            self.n_users, self.embedding_dim, start(None if seed is None else seed + offset), name="user_embedding"
        )
        self.movie_embedding = GatherEmbedding(
            self.n_movies, self.embedding_dim,
            start(None if seed is None else seed + offset + 1), name="movie_embedding",
        )

    def get_config(self):
        return {**super().get_config(), "own_init": self.own_init}

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        return _rowwise_dot(self.user_embedding(inputs[:, 0]), self.movie_embedding(inputs[:, 1]))


@keras.saving.register_keras_serializable(package="cfcore")
class DotWithBias(_RatingModel):
    """Model 2: sigmoid(dot + user bias + movie bias [+ global bias]) scaled to the rating range.

    Args:
        min_rating, max_rating: The output range.
        user_dropout, movie_dropout: Dropout rates on the two embeddings.
        l2: L2 penalty on embeddings and biases (0 in the article).
        global_bias: Whether to learn one extra offset inside the sigmoid
            (not in the article; used by the tuned preset).
    """

    def __init__(
        self,
        n_users,
        n_movies,
        embedding_dim=64,
        seed=None,
        min_rating: float = 0.5,
        max_rating: float = 5.0,
        user_dropout: float = 0.3,
        movie_dropout: float = 0.6,
        l2: float = 0.0,
        global_bias: bool = False,
        **kwargs,
    ):
        super().__init__(n_users, n_movies, embedding_dim, seed, **kwargs)
        if not max_rating > min_rating:
            raise ValueError(
                f"max_rating must exceed min_rating. Received: min_rating={min_rating}, "
                f"max_rating={max_rating}"
            )
        for label, rate in (("user_dropout", user_dropout), ("movie_dropout", movie_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{label} must be in [0, 1). Received: {label}={rate}")
        self.min_rating = float(min_rating)
        self.max_rating = float(max_rating)
        self.user_dropout_rate = float(user_dropout)
        self.movie_dropout_rate = float(movie_dropout)
        self.l2 = float(l2)
        self.use_global_bias = bool(global_bias)
        self.user_embedding = self._table(self.n_users, self.embedding_dim, 0, "user_embedding")
        self.movie_embedding = self._table(self.n_movies, self.embedding_dim, 1, "movie_embedding")
        self.user_bias = self._table(self.n_users, 1, 2, "user_bias")
        self.movie_bias = self._table(self.n_movies, 1, 3, "movie_bias")
        self.user_dropout = layers.Dropout(self.user_dropout_rate, seed=seed)
        self.movie_dropout = layers.Dropout(self.movie_dropout_rate, seed=None if seed is None else seed + 7)

    def _table(self, rows: int, width: int, offset: int, name: str) -> layers.Embedding:
        """A table of this model: uniform in -0.05..0.05 from the seed plus ``offset``, with the model's L2."""
        start = keras.initializers.RandomUniform(-0.05, 0.05, seed=None if self.seed is None else self.seed + offset)
        return layers.Embedding(rows, width, embeddings_initializer=start, name=name,
                                embeddings_regularizer=keras.regularizers.L2(self.l2) if self.l2 > 0 else None)

    def build(self, input_shape=None):
        if self.use_global_bias and not hasattr(self, "global_offset"):
            self.global_offset = self.add_weight(shape=(1,), initializer="zeros", name="global_offset")
        super().build(input_shape)

    def _lookup_layers(self) -> list[layers.Layer]:
        return [self.user_embedding, self.movie_embedding, self.user_bias, self.movie_bias]

    def logit(self, inputs, training=False):
        """The sigmoid's input: dot + user bias + movie bias (+ global offset). Shape ``(batch, 1)``."""
        inputs = ops.cast(inputs, "int32")
        users, movies = inputs[:, 0], inputs[:, 1]
        user_vec = self.user_dropout(self.user_embedding(users), training=training)
        movie_vec = self.movie_dropout(self.movie_embedding(movies), training=training)
        total = _rowwise_dot(user_vec, movie_vec) + self.user_bias(users) + self.movie_bias(movies)
        if self.use_global_bias:
            total = total + self.global_offset
        return total

    def call(self, inputs, training=False):
        scale = self.max_rating - self.min_rating
        return ops.sigmoid(self.logit(inputs, training=training)) * scale + self.min_rating

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "min_rating": self.min_rating,
                "max_rating": self.max_rating,
                "user_dropout": self.user_dropout_rate,
                "movie_dropout": self.movie_dropout_rate,
                "l2": self.l2,
                "global_bias": self.use_global_bias,
            }
        )
        return config


def _rated_sums(splits, members, table):
    """``|S|^-1/2 * sum of table rows over S`` for every row's set S (0 for an empty set), all rows at once:
    cheaper per step than gathering a batch's own sets (a heavy user's runs to thousands of movies, and a batch
    holds many heavy users)."""
    import tensorflow as tf

    lengths = splits[1:] - splits[:-1]
    if members.shape[0] == 0:
        # TensorFlow 2.21's gradient of segment_sqrt_n over no members is uninitialised memory (1e+37, NaN
        # seen in tests/test_svdpp.py), not zeros: with nothing rated, there is nothing to add up.
        return tf.zeros((tf.shape(lengths)[0], tf.shape(table)[1]), table.dtype)
    rows = tf.repeat(tf.range(tf.shape(lengths)[0]), lengths)
    return tf.sparse.segment_sqrt_n(table, members, rows, num_segments=tf.shape(lengths)[0])


@keras.saving.register_keras_serializable(package="cfcore")
class SVDpp(DotWithBias):
    """Model 4, SVD++-style: the bias model whose user vector adds what the user rated and whose movie vector
    adds who rated it: ``p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j`` and ``q_i + |R(i)|^-1/2 sum_{v in R(i)} z_v``.

    N(u) (the movies u rated) and R(i) (the users who rated i) come from the training ratings only
    (:func:`implicit_sets`), kept in the model as integer weights so a saved model predicts on its own. With
    empty sets it is exactly :class:`DotWithBias`.

    Args:
        n_user_links, n_movie_links: Sizes of the sets' member arrays (the number of training ratings).
    """

    def __init__(self, n_users, n_movies, embedding_dim=64, seed=None, n_user_links: int = 0,
                 n_movie_links: int = 0, **kwargs):
        super().__init__(n_users, n_movies, embedding_dim, seed, **kwargs)
        self.n_user_links, self.n_movie_links = int(n_user_links), int(n_movie_links)
        # y_j: what having rated movie j adds to a user; z_v: what having been rated by user v adds to a movie.
        self.rated_embedding = self._table(self.n_movies, self.embedding_dim, 4, "rated_embedding")
        self.rater_embedding = self._table(self.n_users, self.embedding_dim, 5, "rater_embedding")

    def build(self, input_shape=None):
        if not hasattr(self, "user_splits"):
            sizes = {"user_splits": self.n_users + 1, "user_movies": self.n_user_links,
                     "movie_splits": self.n_movies + 1, "movie_users": self.n_movie_links}
            for name, size in sizes.items():
                setattr(self, name, self.add_weight(shape=(size,), initializer="zeros", dtype="int32",
                                                    trainable=False, name=name))
        for layer in (self.rated_embedding, self.rater_embedding):
            if not layer.built:
                layer.build((None,))
        super().build(input_shape)

    def set_implicit(self, sets: tuple[np.ndarray, ...]) -> None:
        """Put :func:`implicit_sets`' arrays in (their sizes must be the model's)."""
        for variable, values in zip((self.user_splits, self.user_movies, self.movie_splits, self.movie_users),
                                    sets, strict=True):
            variable.assign(np.asarray(values, dtype=np.int32))

    def implicit_parts(self, users, movies):
        """The two implicit terms for a batch: ``(user part, movie part)``, each ``(batch, d)``."""
        every_user = _rated_sums(self.user_splits, self.user_movies, self.rated_embedding.embeddings)
        every_movie = _rated_sums(self.movie_splits, self.movie_users, self.rater_embedding.embeddings)
        return ops.take(every_user, users, axis=0), ops.take(every_movie, movies, axis=0)

    def logit(self, inputs, training=False):
        inputs = ops.cast(inputs, "int32")
        users, movies = inputs[:, 0], inputs[:, 1]
        user_part, movie_part = self.implicit_parts(users, movies)
        user_vec = self.user_dropout(self.user_embedding(users) + user_part, training=training)
        movie_vec = self.movie_dropout(self.movie_embedding(movies) + movie_part, training=training)
        total = _rowwise_dot(user_vec, movie_vec) + self.user_bias(users) + self.movie_bias(movies)
        if self.use_global_bias:
            total = total + self.global_offset
        return total

    def get_config(self):
        return {**super().get_config(), "n_user_links": self.n_user_links, "n_movie_links": self.n_movie_links}


@keras.saving.register_keras_serializable(package="cfcore")
class FactorModel(_RatingModel):
    """Factors from another method (:mod:`cfcore.training.factors`: an SVD, AutoRec, the implicit task) as a model
    with the rating models' input and output: ``link(user . movie + user bias + movie bias + offset)``.

    Nothing here is trained: the method computes the tables, :func:`factor_model` puts them in. ``link`` is
    "identity" (the SVD's prediction as it is), "sigmoid" (scaled to ``min_rating``..``max_rating``) or "logistic"
    (a probability: the implicit task's "was it rated at all").
    """

    LINKS = ("identity", "sigmoid", "logistic")

    def __init__(self, n_users, n_movies, embedding_dim=64, seed=None, method: str = "svd", link: str = "identity",
                 min_rating: float = 0.5, max_rating: float = 5.0, global_bias: bool = True, **kwargs):
        # ``global_bias`` is always True (the offset is always there); it is in the config for the run reader.
        super().__init__(n_users, n_movies, embedding_dim, seed, **kwargs)
        if link not in self.LINKS:
            raise ValueError(f"link must be one of {', '.join(self.LINKS)}. Received: link={link!r}")
        self.method, self.link = str(method), link
        self.min_rating, self.max_rating = float(min_rating), float(max_rating)
        self.use_global_bias = True
        self.user_embedding = layers.Embedding(self.n_users, self.embedding_dim, "zeros", name="user_embedding")
        self.movie_embedding = layers.Embedding(self.n_movies, self.embedding_dim, "zeros", name="movie_embedding")
        self.user_bias = layers.Embedding(self.n_users, 1, "zeros", name="user_bias")
        self.movie_bias = layers.Embedding(self.n_movies, 1, "zeros", name="movie_bias")

    def build(self, input_shape=None):
        if not hasattr(self, "global_offset"):
            self.global_offset = self.add_weight(shape=(1,), initializer="zeros", name="global_offset")
        super().build(input_shape)

    def _lookup_layers(self) -> list[layers.Layer]:
        return [self.user_embedding, self.movie_embedding, self.user_bias, self.movie_bias]

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        users, movies = inputs[:, 0], inputs[:, 1]
        logit = (_rowwise_dot(self.user_embedding(users), self.movie_embedding(movies)) + self.user_bias(users)
                 + self.movie_bias(movies) + self.global_offset)
        if self.link == "identity":
            return logit
        if self.link == "logistic":
            return ops.sigmoid(logit)
        return ops.sigmoid(logit) * (self.max_rating - self.min_rating) + self.min_rating

    def get_config(self):
        return {**super().get_config(), "method": self.method, "link": self.link, "min_rating": self.min_rating,
                "max_rating": self.max_rating, "global_bias": True}


def factor_model(embeddings, method: str, seed: int | None = None) -> FactorModel:
    """A :class:`FactorModel` holding ``embeddings`` (a :class:`cfcore.runs.Embeddings` with biases)."""
    n_users, dim = embeddings.user.shape
    model = FactorModel(n_users, embeddings.movie.shape[0], dim, seed, method=method, link=embeddings.link,
                        min_rating=embeddings.min_rating, max_rating=embeddings.max_rating, name=method)
    model.build((None, 2))
    model.user_embedding.embeddings.assign(embeddings.user)
    model.movie_embedding.embeddings.assign(embeddings.movie)
    model.user_bias.embeddings.assign(np.asarray(embeddings.user_bias, np.float32)[:, None])
    model.movie_bias.embeddings.assign(np.asarray(embeddings.movie_bias, np.float32)[:, None])
    model.global_offset.assign([embeddings.global_offset])
    return model


MODEL_CLASSES: dict[str, type[_RatingModel]] = {
    "simple_dot": SimpleDot,
    "dot_with_bias": DotWithBias,
    "simple_embedding": SimpleEmbedding,
    "svdpp": SVDpp,
}


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
        cfcore.trainer.weights.UnsafeWeightsError: for weights that reach outside the file or are not a model's
            plain tables.
    """
    with zipfile.ZipFile(path) as archive:
        check_weights_file(archive.read("model.weights.h5"))
    return keras.saving.load_model(path, safe_mode=True, compile=False)


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
