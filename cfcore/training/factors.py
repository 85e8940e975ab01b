"""Other ways to get movie factors than the article's models: an SVD, an autoencoder, another task.

The article opens with the SVD of a rating matrix and ends asking how embeddings differ with the task they were
trained on, and from an autoencoder's codes. Each method here gives a :class:`~cfcore.runs.run.Run` like a trained
model's (saved with :func:`cfcore.training.save.save_run`, read by ``explore``, ``export`` and every page), whose
model is a :class:`~cfcore.training.factor_model.FactorModel`:

- ``svd``: a truncated SVD of the training ratings after removing user and movie biases (missing = 0); movie
  factors ``V sqrt(Sigma)``, user factors ``U sqrt(Sigma)``; it predicts ``mu + b_u + b_i + p_u . q_i``.
- ``autorec``: an item-based autoencoder (Sedhain et al. 2015): a movie's ratings by every user in, a hidden
  layer of ``dim`` sigmoid units, ratings out, the loss on observed ratings only. The hidden code is the movie's
  factors; the output layer's weights are the user factors, its bias the user bias.
- ``implicit``: embeddings trained on whether a user rated a movie at all (each training rating a positive, a few
  movies the user did not rate, drawn at random each epoch, negatives), never the rating itself; the epoch with
  the lowest validation loss is kept (on held-out ratings against sampled movies nobody rated).

Trainer side: TensorFlow and SciPy. Progress, Stop and early stopping go through the training engine's monitor.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf
from scipy.sparse.linalg import svds

from cfcore.analysis.baselines import fit_biases
from cfcore.config import FACTOR_LINKS, FACTOR_METHODS, ConfigError, TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split, split_dataset
from cfcore.runs.embeddings import Embeddings
from cfcore.runs.run import Progress, Run
from cfcore.training.callbacks import Monitor, result_of
from cfcore.training.factor_model import factor_model

# Negatives drawn per training rating, each epoch, for the implicit task.
IMPLICIT_NEGATIVES = 4


def compute_factors(dataset: Dataset, config: TrainConfig, *, split: Split | None = None,
                    listeners: list[Callable[[Progress], None]] | None = None,
                    stop_event: threading.Event | None = None) -> Run:
    """Compute one factors method's run (``config.model`` is one of :data:`~cfcore.config.FACTOR_METHODS`).

    Raises:
        ConfigError: for a method this module does not know, or a size the data cannot give (an SVD of rank
            ``dim`` needs more users and movies than ``dim``).
    """
    if config.model not in FACTOR_METHODS:
        raise ConfigError(f"unknown method {config.model!r}; choose one of {', '.join(FACTOR_METHODS)}")
    split = split or split_dataset(dataset, config.val_fraction, config.seed)
    started = time.perf_counter()
    compute = {"svd": _svd, "autorec": _autorec, "implicit": _implicit}[config.model]
    monitor, embeddings = compute(dataset, config, split, list(listeners or []), stop_event)
    model = factor_model(embeddings, config.model, config.seed)
    result = result_of(monitor, time.perf_counter() - started, dataset, split, stop_event)
    return Run(embeddings, dataset, split, result, name=config.model, model=model)


def _monitor(config: TrainConfig, steps: int, listeners, stop_event, model: keras.Model | None) -> Monitor:
    monitor = Monitor(config, steps, listeners, stop_event)
    monitor.set_model(model if model is not None else _Tables([]))
    return monitor


def _rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted, np.float64) - actual) ** 2))) if len(actual) else math.nan


# -- SVD ---------------------------------------------------------------------------------------------------------


def svd_factors(users: np.ndarray, movies: np.ndarray, ratings: np.ndarray, n_users: int, n_movies: int,
                dim: int, seed: int = 0) -> Embeddings:
    """The truncated SVD of ``ratings`` (at ``users``, ``movies``) after removing user and movie biases.

    The biases are :func:`cfcore.analysis.baselines.fit_biases`'s; the residuals go in a sparse user x movie matrix with
    missing entries 0, whose ``dim`` largest singular triplets give ``U sqrt(S)`` (users) and ``V sqrt(S)``
    (movies), largest first, each column's sign chosen so that its movie factors sum to a positive number.

    Raises:
        ConfigError: when ``dim`` is not below the number of users and of movies.
    """
    if not 1 <= dim < min(n_users, n_movies):
        raise ConfigError(f"an SVD of rank {dim} needs more than {dim} users and movies; this data has "
                          f"{n_users:,} users and {n_movies:,} movies: choose a size below {min(n_users, n_movies)}")
    pairs = np.column_stack([users, movies]).astype(np.int32)
    y = np.asarray(ratings, dtype=np.float64)
    mu, user_bias, movie_bias = fit_biases(Split(pairs, y, pairs[:0], y[:0], np.arange(len(y)), np.arange(0), 0.0, 0),
                                           n_users, n_movies)
    residual = y - mu - user_bias[users] - movie_bias[movies]
    matrix = sp.csr_matrix((residual, (users, movies)), shape=(n_users, n_movies))
    start = np.random.default_rng(seed).standard_normal(min(n_users, n_movies))
    u, s, vt = svds(matrix, k=dim, v0=start)
    order = np.argsort(s)[::-1]
    u, s, vt = u[:, order], s[order], vt[order]
    signs = np.where(vt.sum(axis=1) < 0, -1.0, 1.0)
    root = np.sqrt(s)
    return Embeddings(
        (u * signs * root).astype(np.float32), (vt.T * signs * root).astype(np.float32),
        user_bias.astype(np.float32), movie_bias.astype(np.float32), float(mu), link=FACTOR_LINKS["svd"],
    )


def _svd(dataset, config, split, listeners, stop_event):
    monitor = _monitor(config, 1, listeners, stop_event, None)
    monitor.on_epoch_begin(0)
    users, movies = split.x_train[:, 0], split.x_train[:, 1]
    embeddings = svd_factors(users, movies, split.y_train, dataset.n_users, dataset.n_movies,
                             config.embedding_dim, config.seed)
    embeddings.min_rating, embeddings.max_rating = dataset.min_rating, dataset.max_rating
    monitor.on_train_batch_end(0)
    train_rmse = _rmse(embeddings.predict(users, movies), split.y_train)
    val_rmse = _rmse(embeddings.predict(split.x_val[:, 0], split.x_val[:, 1]), split.y_val)
    monitor.on_epoch_end(0, {"loss": train_rmse**2, "val_loss": val_rmse**2, "rmse": train_rmse,
                             "val_rmse": val_rmse})
    return monitor, embeddings


# -- AutoRec -----------------------------------------------------------------------------------------------------


def masked_mse(target: tf.Tensor, predicted: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean squared error over the observed entries only (``mask`` 1), whatever the others hold."""
    observed = tf.reduce_sum(mask)
    return tf.reduce_sum(mask * tf.square(target - predicted)) / tf.maximum(observed, 1.0)


def autorec_network(n_users: int, dim: int, seed: int, l2: float, low: float, high: float) -> keras.Model:
    """Item-based AutoRec: a movie's ``(n_users,)`` ratings (0 where missing) -> ``dim`` sigmoid units ->
    ``(n_users,)`` ratings, sigmoid-scaled to ``low``..``high``."""
    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((n_users,))
    code = keras.layers.Dense(dim, activation="sigmoid", kernel_regularizer=reg, name="encoder",
                              kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    logit = keras.layers.Dense(n_users, kernel_regularizer=reg, name="decoder",
                               kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(code)
    outputs = keras.layers.Lambda(lambda z: low + (high - low) * keras.ops.sigmoid(z), name="scale")(logit)
    return keras.Model(inputs, outputs, name="autorec")


def _autorec(dataset, config, split, listeners, stop_event):
    n_users, n_movies = dataset.n_users, dataset.n_movies
    low, high = dataset.min_rating, dataset.max_rating
    if not high > low:
        raise ConfigError("AutoRec scales its output to the rating range, and every rating here is the same")
    users, movies = split.x_train[:, 0], split.x_train[:, 1]
    # Rows are movies; a rating goes in as 1 (the lowest) to 2 (the highest), so 0 only ever means missing.
    encoded = 1.0 + (split.y_train - low) / (high - low)
    values = sp.csr_matrix((encoded, (movies, users)), shape=(n_movies, n_users), dtype=np.float32)
    targets = sp.csr_matrix((split.y_train, (movies, users)), shape=(n_movies, n_users), dtype=np.float32)
    observed = sp.csr_matrix((np.ones(len(users), np.float32), (movies, users)), shape=(n_movies, n_users))
    rated = np.flatnonzero(np.diff(observed.indptr) > 0)
    steps = max(1, math.ceil(len(rated) / config.batch_size))
    tf.random.set_seed(config.seed)
    network = autorec_network(n_users, config.embedding_dim, config.seed, config.l2, low, high)
    network.stop_training = False  # model.fit sets it; the monitor sets it to stop here
    optimizer = keras.optimizers.Adam(config.learning_rate)
    monitor = _monitor(config, steps, listeners, stop_event, network)

    @tf.function(reduce_retracing=True)
    def step(x, y, mask):
        with tf.GradientTape() as tape:
            loss = masked_mse(y, network(x, training=True), mask)
            penalty = tf.add_n(network.losses) if network.losses else 0.0
            total = loss + penalty / tf.cast(tf.shape(x)[0], tf.float32)
        optimizer.apply_gradients(zip(tape.gradient(total, network.trainable_variables),
                                      network.trainable_variables, strict=True))
        return loss * tf.reduce_sum(mask), tf.reduce_sum(mask)

    rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        monitor.on_epoch_begin(epoch)
        order = rng.permutation(rated)
        squared, count = 0.0, 0.0
        for batch in range(steps):
            rows = order[batch * config.batch_size:(batch + 1) * config.batch_size]
            loss_sum, n = step(values[rows].toarray(), targets[rows].toarray(), observed[rows].toarray())
            squared, count = squared + float(loss_sum), count + float(n)
            monitor.on_train_batch_end(batch)
            if network.stop_training:
                break
        train_rmse = math.sqrt(squared / max(count, 1.0))
        val_rmse = _rmse(_autorec_embeddings(network, values, low, high).predict(split.x_val[:, 0],
                                                                                 split.x_val[:, 1]), split.y_val)
        monitor.on_epoch_end(epoch, {"loss": train_rmse**2, "val_loss": val_rmse**2, "rmse": train_rmse,
                                     "val_rmse": val_rmse})
        if network.stop_training:
            break
    if monitor.best_weights is not None:
        network.set_weights(monitor.best_weights)
    return monitor, _autorec_embeddings(network, values, low, high)


def _autorec_embeddings(network: keras.Model, values: sp.csr_matrix, low: float, high: float,
                        block: int = 4096) -> Embeddings:
    """The network as tables: movie factors are the codes of every movie's ratings, user factors the decoder's
    weights, the user bias its bias; ``rating = low + (high - low) sigmoid(user . code + bias)``."""
    encoder, decoder = network.get_layer("encoder"), network.get_layer("decoder")
    kernel, bias = (np.asarray(w) for w in encoder.get_weights())
    codes = np.vstack([1.0 / (1.0 + np.exp(-(values[start:start + block] @ kernel + bias)))
                       for start in range(0, values.shape[0], block)]).astype(np.float32)
    weights, user_bias = (np.asarray(w, np.float32) for w in decoder.get_weights())
    return Embeddings(weights.T.copy(), codes, user_bias, np.zeros(values.shape[0], np.float32), 0.0, low, high,
                      link=FACTOR_LINKS["autorec"])


# -- the implicit task -------------------------------------------------------------------------------------------


def sample_negatives(users: np.ndarray, positive_keys: np.ndarray, n_movies: int, per_positive: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``users`` (one entry per positive), ``per_positive`` random movies that user did not rate.

    ``positive_keys`` is ``sorted(user * n_movies + movie)`` of every rating the user may not be given as a
    negative; a drawn movie the user rated is dropped, so slightly fewer come back for prolific users.
    """
    repeated = np.repeat(users.astype(np.int64), per_positive)
    drawn = rng.integers(0, n_movies, len(repeated))
    keys = repeated * n_movies + drawn
    found = np.searchsorted(positive_keys, keys)
    found = np.minimum(found, len(positive_keys) - 1)
    keep = positive_keys[found] != keys
    return repeated[keep], drawn[keep]


def _implicit(dataset, config, split, listeners, stop_event):
    n_users, n_movies, dim = dataset.n_users, dataset.n_movies, config.embedding_dim
    users, movies = split.x_train[:, 0].astype(np.int64), split.x_train[:, 1].astype(np.int64)
    # Training negatives avoid the training ratings only (what the held-out ones are must not shape training);
    # validation negatives avoid every rating, so none of them is in fact a positive.
    keys = np.unique(users * n_movies + movies)
    every = np.unique(np.concatenate([keys, split.x_val[:, 0].astype(np.int64) * n_movies + split.x_val[:, 1]]))
    rng = np.random.default_rng(config.seed)
    val_users, val_movies = sample_negatives(split.x_val[:, 0], every, n_movies, IMPLICIT_NEGATIVES, rng)
    val_x = np.concatenate([split.x_val, np.column_stack([val_users, val_movies])]).astype(np.int32)
    val_y = np.concatenate([np.ones(len(split.x_val)), np.zeros(len(val_users))]).astype(np.float32)

    start = keras.initializers.RandomNormal(stddev=0.05, seed=config.seed)
    tables = {
        "user": keras.Variable(start((n_users, dim)), name="user"),
        "movie": keras.Variable(keras.initializers.RandomNormal(stddev=0.05, seed=config.seed + 1)((n_movies, dim)),
                                name="movie"),
        "movie_bias": keras.Variable(np.zeros(n_movies, np.float32), name="movie_bias"),
    }
    variables = list(tables.values())
    optimizer = keras.optimizers.Adam(config.learning_rate)
    holder = _Tables(variables)
    per_epoch = len(users) * (1 + IMPLICIT_NEGATIVES)
    steps = max(1, math.ceil(per_epoch / config.batch_size))
    monitor = _monitor(config, steps, listeners, stop_event, holder)

    def logits(x):
        """The batch's logits, and its user and movie rows (the penalty needs them too)."""
        u, m = tf.gather(tables["user"], x[:, 0]), tf.gather(tables["movie"], x[:, 1])
        return tf.reduce_sum(u * m, axis=1) + tf.gather(tables["movie_bias"], x[:, 1]), u, m

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            z, u, m = logits(x)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z))
            # The penalty per rating, like the loss (summed over the batch it would outweigh the loss 1,024 times).
            penalty = tf.reduce_sum(tf.square(u), axis=1) + tf.reduce_sum(tf.square(m), axis=1)
            total = loss + config.l2 * tf.reduce_mean(penalty)
        optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
        return loss

    @tf.function(reduce_retracing=True)
    def bce(x, y):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits(x)[0]))

    best: tuple[float, list | None] = (math.inf, None)
    for epoch in range(config.epochs):
        monitor.on_epoch_begin(epoch)
        neg_users, neg_movies = sample_negatives(users, keys, n_movies, IMPLICIT_NEGATIVES, rng)
        x = np.concatenate([np.column_stack([users, movies]), np.column_stack([neg_users, neg_movies])])
        y = np.concatenate([np.ones(len(users)), np.zeros(len(neg_users))]).astype(np.float32)
        order = rng.permutation(len(y))
        x, y = x[order].astype(np.int32), y[order]
        total, batches = 0.0, 0
        for batch in range(math.ceil(len(y) / config.batch_size)):
            part = slice(batch * config.batch_size, (batch + 1) * config.batch_size)
            total, batches = total + float(step(x[part], y[part])), batches + 1
            monitor.on_train_batch_end(min(batch, steps - 1))
            if holder.stop_training:
                break
        val_loss = float(bce(val_x, val_y)) if len(val_y) else math.nan
        if val_loss < best[0]:  # no RMSE to judge epochs by: the best validation loss is kept
            best = (val_loss, holder.get_weights())
        monitor.on_epoch_end(epoch, {"loss": total / max(batches, 1), "val_loss": val_loss})
        if holder.stop_training:
            break
    user, movie, movie_bias = (np.asarray(w, np.float32) for w in (best[1] or holder.get_weights()))
    return monitor, Embeddings(user, movie, np.zeros(n_users, np.float32), movie_bias, 0.0, dataset.min_rating,
                               dataset.max_rating, link=FACTOR_LINKS["implicit"])


class _Tables:
    """What the monitor needs of a model where there is none, only tables (the implicit task; the SVD: none)."""

    def __init__(self, variables: list):
        self.variables = variables
        self.stop_training = False

    def get_weights(self) -> list:
        return [v.numpy() for v in self.variables]
