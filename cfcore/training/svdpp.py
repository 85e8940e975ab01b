"""SVD++ (Koren 2008) as the bias model plus what each user rated and who rated each movie, in Keras 3."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cfcore.training.models import DotWithBias, rowwise_dot


def _rated_sums(splits, members, table):
    """``|S|^-1/2 * sum of table rows over S`` for every row's set S (0 for an empty set), all rows at once:
    cheaper per step than gathering a batch's own sets (a heavy user's runs to thousands of movies, and a batch
    holds many heavy users)."""
    import tensorflow as tf

    lengths = splits[1:] - splits[:-1]
    if members.shape[0] == 0:
        # TensorFlow 2.21's gradient of segment_sqrt_n over no members is uninitialised memory (1e+37, NaN
        # seen in tests/unit/training/test_models.py), not zeros: with nothing rated, there is nothing to add up.
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
        total = rowwise_dot(user_vec, movie_vec) + self.user_bias(users) + self.movie_bias(movies)
        if self.use_global_bias:
            total = total + self.global_offset
        return total

    def get_config(self):
        return {**super().get_config(), "n_user_links": self.n_user_links, "n_movie_links": self.n_movie_links}
