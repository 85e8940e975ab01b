"""The article's three rating models, in Keras 3, and the hand-made embedding layer.

Every model takes one integer input of shape ``(batch, 2)`` holding
(user index, movie index) and returns predicted ratings of shape ``(batch, 1)``.
"""

from __future__ import annotations

import keras
from keras import layers, ops


def _positive_int(label: str, value) -> int:
    """``value`` as an int, or ValueError quoting it (2.5 or True are not sizes)."""
    try:
        whole = int(value)
    except (TypeError, ValueError):
        whole = None
    if isinstance(value, bool) or whole is None or whole != value or whole <= 0:
        raise ValueError(f"{label} must be a positive integer. Received: {label}={value!r}")
    return whole


def rowwise_dot(u, v):
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


class RatingModel(keras.Model):
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
class SimpleDot(RatingModel):
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
        return rowwise_dot(self.user_embedding(inputs[:, 0]), self.movie_embedding(inputs[:, 1]))


def _own_initializer(seed: int | None):
    # A hand-made layer's own start, as the article's was: Keras's "uniform" (-0.05..0.05), other random numbers.
    return keras.initializers.RandomUniform(minval=-0.05, maxval=0.05, seed=seed)


@keras.saving.register_keras_serializable(package="cfcore")
class SimpleEmbedding(RatingModel):
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
        return rowwise_dot(self.user_embedding(inputs[:, 0]), self.movie_embedding(inputs[:, 1]))


@keras.saving.register_keras_serializable(package="cfcore")
class DotWithBias(RatingModel):
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
        total = rowwise_dot(user_vec, movie_vec) + self.user_bias(users) + self.movie_bias(movies)
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
