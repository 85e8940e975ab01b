"""Factors from another method (an SVD, AutoRec, the implicit task) as a model with the rating models' input and
output, so every page and the CLI treat them like a trained run."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from cfcore.runs.embeddings import LINKS
from cfcore.training.models import RatingModel, rowwise_dot


@keras.saving.register_keras_serializable(package="cfcore")
class FactorModel(RatingModel):
    """Factors from another method (:mod:`cfcore.training.factors`: an SVD, AutoRec, the implicit task) as a model
    with the rating models' input and output: ``link(user . movie + user bias + movie bias + offset)``.

    Nothing here is trained: the method computes the tables, :func:`factor_model` puts them in. ``link`` is
    "identity" (the SVD's prediction as it is), "sigmoid" (scaled to ``min_rating``..``max_rating``) or "logistic"
    (a probability: the implicit task's "was it rated at all").
    """

    def __init__(self, n_users, n_movies, embedding_dim=64, seed=None, method: str = "svd", link: str = "identity",
                 min_rating: float = 0.5, max_rating: float = 5.0, global_bias: bool = True, **kwargs):
        # ``global_bias`` is always True (the offset is always there); it is in the config for the run reader.
        super().__init__(n_users, n_movies, embedding_dim, seed, **kwargs)
        if link not in LINKS:  # the links cfcore.runs.embeddings.link_output knows
            raise ValueError(f"link must be one of {', '.join(LINKS)}. Received: link={link!r}")
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
        logit = (rowwise_dot(self.user_embedding(users), self.movie_embedding(movies)) + self.user_bias(users)
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
    """A :class:`FactorModel` holding ``embeddings`` (a :class:`cfcore.runs.embeddings.Embeddings` with biases)."""
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
