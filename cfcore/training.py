"""Training engine (the trainer process and the CLI only): ``train()`` with progress and stop, ``save_run``."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from cfcore.config import BOUNDS, FACTOR_METHODS, PRESETS, ConfigError, TrainConfig, check_work, preset
from cfcore.data.dataset import Dataset
from cfcore.data.errors import DataError
from cfcore.data.read import upload_limits
from cfcore.data.split import Split, split_dataset
from cfcore.models import build_model, embedding_arrays, embeddings_of, load_model
from cfcore.runs.embeddings import EMBEDDINGS_FILE, write_embeddings_file
from cfcore.runs.errors import RunError
from cfcore.runs.folder import RUN_FILES, read_run_files
from cfcore.runs.run import Progress, Run, TrainResult, load_run
from cfcore.trainer.weights import UnsafeWeightsError


class _Monitor(keras.callbacks.Callback):
    """Records history, reports progress, early-stops, honours stop requests, keeps best weights."""

    def __init__(self, config, steps_per_epoch, listeners, stop_event):
        super().__init__()
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.listeners = listeners
        self.stop_event = stop_event
        self.history: list[dict] = []
        self.best_val_rmse = math.inf
        self.best_epoch = 0
        self.best_weights = None
        self.wait = 0
        self.stopped_by_user = False
        self.stopped_early = False
        self.epoch_start = 0.0
        self.epoch = 0
        self.steps_done = 0

    def _notify(self, stage: str) -> None:
        progress = Progress(
            stage, self.epoch + 1, self.config.epochs, self.steps_done, self.steps_per_epoch,
            [dict(row) for row in self.history],
        )
        for listener in self.listeners:
            listener(progress)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.steps_done = 0
        self.epoch_start = time.perf_counter()
        self._notify("batch")  # "epoch n · batch 0 of N": the first sign of life comes before the first batch group

    def on_train_batch_end(self, batch, logs=None):
        self.steps_done = min(batch + 1, self.steps_per_epoch)
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped_by_user = True
            self.model.stop_training = True
        self._notify("batch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", math.nan)),
            "val_loss": float(logs.get("val_loss", math.nan)),
            "train_rmse": float(logs.get("rmse", math.nan)),
            "val_rmse": float(logs.get("val_rmse", math.nan)),
            "seconds": time.perf_counter() - self.epoch_start,
            "complete": self.steps_done >= self.steps_per_epoch,
        }
        self.history.append(row)
        # Judge epochs by validation RMSE, not val_loss: with l2 > 0 the loss includes the penalty.
        if row["val_rmse"] < self.best_val_rmse:
            self.best_val_rmse = row["val_rmse"]
            self.best_epoch = epoch + 1
            self.best_weights = self.model.get_weights()
            self.wait = 0
        else:
            self.wait += 1
            # Patience running out in the last epoch ends nothing early: every epoch ran.
            if self.config.patience and self.wait >= self.config.patience and epoch + 1 < self.config.epochs:
                self.stopped_early = True
                self.model.stop_training = True
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped_by_user = True
            self.model.stop_training = True
        self._notify("epoch")


SVDPP_STEPS_PER_CALL = 16


def _steps_per_execution(config: TrainConfig, steps_per_epoch: int) -> int:
    """Batches per compiled call: progress reports and stop requests are handled between calls."""
    if config.steps_per_execution:
        return config.steps_per_execution
    # About 10 reports per epoch, but never more than ~16k ratings (256 batches of 32) per call, so a
    # stop request is answered well within a second even on a busy two-core machine.
    cap = max(1, min(256, 16384 // config.batch_size))
    if config.model == "svdpp":
        # Each SVD++ step adds up every rated set (about 25 ms on ml-latest-small whatever the batch): 253 steps a
        # call at batch 32 kept Stop waiting about 6 s (measured); 16 keep it under half a second.
        cap = min(cap, SVDPP_STEPS_PER_CALL)
    return max(1, min(math.ceil(steps_per_epoch / 10), cap))


def _make_dataset(x, y, batch_size, seed=None, shuffle=False):
    ds = tf.data.Dataset.from_tensor_slices((x, y.reshape(-1, 1)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------
# The compiled training loop
# ---------------------------------------------------------------------------
#
# keras.optimizers.Adam is dense: every step it decays the moments of, and moves, EVERY row of every
# embedding table, although a batch of 32 ratings touches at most 64 rows. On ml-latest-small that
# is ~700k numbers per step and most of the time of ``model.fit``. The loop below does the same
# arithmetic lazily: a row that no batch touches evolves in closed form (its moments only decay),
# so it is brought up to date ("caught up") when a batch next needs it, and all rows are caught up
# before anyone looks at the weights (epoch ends). The result equals Keras' Adam to float32
# rounding, including its treatment of a row that appears twice in a batch.

_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7  # keras.optimizers.Adam's defaults
# An idle row's j-th update shrinks like (beta_1 / sqrt(beta_2)) ** j ~ 0.9 ** j; 160 of them leave
# a remainder below float32 resolution, so the catch-up sums stop there.
_HORIZON = 160
_RATIO = _BETA_1 / math.sqrt(_BETA_2)
_GROWTH = _BETA_2**-0.5
# Point of the expansion of 1 / (sqrt(v) * beta_2 ** (j/2) + eps) around j ~ 10 (see _advance).
_C_MID = _BETA_2**-5.0
# Longest run (in steps) for the row-sparse engine: it keeps a table of 3 floats per step.
_MAX_TABLE_STEPS = 2**24
ENGINES = ("auto", "compiled", "keras")


def _tail_sums(alpha: np.ndarray, steps: int) -> np.ndarray:
    """``[steps + 1, 3]``: G_m(t) = sum over i = 1..horizon of alpha[t + i] * (r * g**m) ** i, m = 0, 1, 2.

    ``alpha`` holds the step sizes alpha[1 .. steps + horizon] (alpha[0] unused); r = beta_1/sqrt(beta_2)
    and g = beta_2 ** -0.5, so (r * g**m) ** j = r**j * c_j**m (see :meth:`_RowSparseEngine._advance`).
    """
    powers = np.arange(1, _HORIZON + 1, dtype=np.float64)
    return np.stack(
        [np.correlate(alpha[1:], (_RATIO * _GROWTH**m) ** powers, "valid")[: steps + 1] for m in range(3)], axis=1
    ).astype(np.float32)


class _Adam:
    """Adam's step size as Keras computes it, for any learning rate or schedule."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def lr(self, iterations):
        """Learning rate after ``iterations`` updates (a float tensor of any shape)."""
        if callable(self.learning_rate):
            return self.learning_rate(iterations)
        return tf.constant(self.learning_rate, tf.float32)

    def alpha(self, step):
        """Bias-corrected step size of update number ``step`` (1-based float tensor)."""
        return self.lr(step - 1.0) * tf.sqrt(1.0 - tf.pow(_BETA_2, step)) / (1.0 - tf.pow(_BETA_1, step))

    def alphas(self, steps: int) -> np.ndarray:
        """``alpha(t)`` for t = 0 .. steps (entry 0 is 0), as float64."""
        values = self.alpha(tf.range(1, steps + 1, dtype=tf.float32)).numpy()
        return np.concatenate([[0.0], values]).astype(np.float64)

    def dense_update(self, variable, grad, m, v, step):
        """One Keras Adam update of a dense variable (tf.Variable) from its gradient."""
        if isinstance(grad, tf.IndexedSlices):
            # Keras squares the slices before summing a row that appears twice; keep that.
            square = tf.convert_to_tensor(tf.IndexedSlices(tf.square(grad.values), grad.indices, grad.dense_shape))
            grad = tf.convert_to_tensor(grad)
            m.assign_add((grad - m) * (1 - _BETA_1))
            v.assign_add((square - v) * (1 - _BETA_2))
            variable.assign_sub(m * self.alpha(step) / (tf.sqrt(v) + _EPSILON))
            return
        # The fused kernel does Keras' arithmetic in one pass over the variable.
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle, beta1_power=tf.pow(_BETA_1, step),
            beta2_power=tf.pow(_BETA_2, step), lr=self.lr(step - 1.0), beta1=_BETA_1, beta2=_BETA_2,
            epsilon=_EPSILON, grad=grad,
        )


def _slots(variables) -> list[tuple[tf.Variable, tf.Variable]]:
    return [(tf.Variable(tf.zeros_like(v.value), trainable=False), tf.Variable(tf.zeros_like(v.value), trainable=False))
            for v in variables]


class _DenseEngine:
    """Plain Adam on the model's own variables (used when gradients are dense, e.g. with L2)."""

    def __init__(self, model: keras.Model, adam: _Adam):
        self.model = model
        self.adam = adam
        self.variables = list(model.trainable_variables)
        self.slots = _slots(self.variables)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)

    def step(self, x, y):
        step = tf.cast(self.iterations + 1, tf.float32)
        with tf.GradientTape() as tape:
            squared = tf.square(self.model(x, training=True) - y)
            loss = tf.reduce_mean(squared)
            if self.model.losses:
                loss = loss + tf.add_n(self.model.losses)
        grads = tape.gradient(loss, [v.value for v in self.variables])
        for variable, grad, (m, v) in zip(self.variables, grads, self.slots, strict=True):
            self.adam.dense_update(variable.value, grad, m, v, step)
        self.iterations.assign_add(1)
        return loss, tf.reduce_sum(squared)

    def sync(self) -> None:
        """The model's variables are always current."""


class _Table:
    """Rows indexed by one input column (user or movie): the model's tables and their Adam state."""

    def __init__(self, column: int, full: list, compact: list):
        self.column = column
        self.full = full  # the model's embedding variables for this column
        self.compact = compact  # the batch-sized stand-ins the forward pass reads
        self.widths = [int(v.shape[1]) for v in full]
        self.width = sum(self.widths)
        weights = np.concatenate([np.asarray(v.numpy(), np.float32) for v in full], axis=1)
        n = weights.shape[0]
        # One row per index: [weights | first moment | second moment], so a step gathers once.
        self.state = tf.Variable(np.concatenate([weights, np.zeros((n, 2 * self.width), np.float32)], axis=1),
                                 trainable=False)
        self.last = tf.Variable(tf.zeros([n], tf.int32), trainable=False)  # step of the row's last update

    def split(self, state):
        w = self.width
        return state[:, :w], state[:, w:2 * w], state[:, 2 * w:]


class _RowSparseEngine:
    """Adam with lazily applied updates of embedding rows; equal to Keras' dense Adam (see above).

    The forward pass runs on a second, batch-sized copy of the model (same class and seeds, so the
    same dropout masks): each step copies the batch's rows into it, takes the gradient there, and
    writes the updated rows back.
    """

    def __init__(self, model: keras.Model, compact: keras.Model, adam: _Adam, batch_size: int, total_steps: int):
        self.model = model
        self.compact = compact
        self.adam = adam
        self.batch_size = batch_size
        self.tables = [
            _Table(column, [getattr(model, name).embeddings for name in names],
                   [getattr(compact, name).embeddings for name in names])
            for column, names in _lookup_layers(model)
        ]
        table_ids = {id(v) for t in self.tables for v in t.compact}
        self.dense = [v for v in compact.trainable_variables if id(v) not in table_ids]
        full_ids = {id(v) for t in self.tables for v in t.full}
        self.full_dense = [v for v in model.trainable_variables if id(v) not in full_ids]
        self.slots = _slots(self.dense)
        # Sums of step sizes over idle stretches come from a per-step table (see _advance).
        self.tails = tf.constant(_tail_sums(adam.alphas(total_steps + _HORIZON + 1), total_steps + 1))
        self.rates = tf.constant([_RATIO * _GROWTH**m for m in range(3)], tf.float64)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)

    @staticmethod
    def suits(model: keras.Model, batch_size: int, total_steps: int) -> bool:
        """Whether this engine can train ``model`` and is likely the faster one."""
        if model.losses:
            return False  # a penalty on whole tables makes every row move every step
        if hasattr(model, "rated_embedding"):
            return False  # SVD++: a batch reads every row its users rated, not one row per rating
        if total_steps > _MAX_TABLE_STEPS:
            return False  # the step-size table would be too large
        try:
            _lookup_layers(model)
        except AttributeError:
            return False
        # A dense step touches every row once; a sparse one does ~25x more work per batch row
        # (catch-up, gathers, scatters), so with huge batches on small tables dense wins.
        return batch_size * 24 <= model.n_users + model.n_movies

    @staticmethod
    def matches(model: keras.Model, compact: keras.Model) -> bool:
        """True when every trainable variable is a row table or the same size in both models."""
        names = [name for _, group in _lookup_layers(model) for name in group]
        table_ids = {id(getattr(model, name).embeddings) for name in names}
        compact_ids = {id(getattr(compact, name).embeddings) for name in names}
        rest = [v for v in model.trainable_variables if id(v) not in table_ids]
        compact_rest = [v for v in compact.trainable_variables if id(v) not in compact_ids]
        return len(rest) == len(compact_rest) and all(
            tuple(a.shape) == tuple(b.shape) for a, b in zip(rest, compact_rest, strict=True))

    def _idle_sums(self, last, idle):
        """``[rows, 3]``: W_n = sum over idle steps j = 1..idle of alpha(last + j) * r**j * (c_j - c_mid)**n.

        From the table, sum_{j <= idle} alpha(last + j) (r g**m)**j = G_m(last) - (r g**m)**idle * G_m(last + idle);
        expanding (c_j - c_mid)**n in powers of c_j = g**j gives W_n. Done in float64: the terms cancel.
        """
        tails = tf.cast(tf.gather(self.tails, last), tf.float64)
        later = tf.cast(tf.gather(self.tails, last + idle), tf.float64)
        d = tails - tf.pow(self.rates, tf.cast(idle, tf.float64)[:, None]) * later
        c = _C_MID
        sums = tf.stack([d[:, 0], d[:, 1] - c * d[:, 0], d[:, 2] - 2 * c * d[:, 1] + c * c * d[:, 0]], axis=1)
        return tf.cast(sums, tf.float32)

    def _advance(self, table: _Table, state, last, target):
        """Rows' ``(w, m, v)`` after the idle steps ``last+1 .. target`` (no gradient) of dense Adam.

        In the j-th idle step after its last update a row moves by
        alpha_j * beta_1**j * m / (beta_2**(j/2) * sqrt(v) + eps). With r = beta_1/sqrt(beta_2) and
        c_j = beta_2**(-j/2) that is alpha_j * r**j * m / (sqrt(v) + c_j * eps); c_j stays within
        a few percent of c_mid over the steps that matter, so a second-order expansion around c_mid
        turns the sum into three per-row sums (:meth:`_idle_sums`) times per-element factors, exact
        to float32 rounding.
        """
        w, m, v = table.split(state)
        idle = target - last
        sums = self._idle_sums(last, idle)
        inv = 1.0 / (tf.sqrt(v) + _C_MID * _EPSILON)
        drift = inv * (sums[:, 0:1] - _EPSILON * inv * (sums[:, 1:2] - _EPSILON * inv * sums[:, 2:3]))
        idle = tf.cast(idle, tf.float32)[:, None]
        return w - m * drift, m * tf.pow(_BETA_1, idle), v * tf.pow(_BETA_2, idle)

    def step(self, x, y):
        step = tf.cast(self.iterations, tf.int32) + 1
        positions, pending = [], []
        for table in self.tables:
            rows, position = tf.unique(x[:, table.column])
            count = tf.shape(rows)[0]
            w, m, v = self._advance(table, tf.gather(table.state, rows), tf.gather(table.last, rows), step - 1)
            padded = tf.pad(w, [[0, self.batch_size - count], [0, 0]])
            offset = 0
            for variable, width in zip(table.compact, table.widths, strict=True):
                variable.assign(padded[:, offset:offset + width])
                offset += width
            positions.append(position)
            pending.append((table, rows, count, w, m, v))
        watched = [v.value for t in self.tables for v in t.compact] + [v.value for v in self.dense]
        with tf.GradientTape() as tape:
            squared = tf.square(self.compact(tf.stack(positions, axis=1), training=True) - y)
            loss = tf.reduce_mean(squared)
            if self.compact.losses:  # penalties the model adds on the rows of the batch
                loss = loss + tf.add_n(self.compact.losses)
        grads = tape.gradient(loss, watched)
        alpha = self.adam.alpha(tf.cast(step, tf.float32))
        index = 0
        for table, rows, count, w, m, v in pending:
            sums, squares = [], []
            for _ in table.compact:
                grad = grads[index]
                index += 1
                if isinstance(grad, tf.IndexedSlices):
                    sums.append(tf.math.unsorted_segment_sum(grad.values, grad.indices, count))
                    # Keras squares the slices before summing a row that appears twice; so do we.
                    squares.append(tf.math.unsorted_segment_sum(tf.square(grad.values), grad.indices, count))
                else:
                    sums.append(grad[:count])
                    squares.append(tf.square(grad[:count]))
            grad, square = tf.concat(sums, axis=1), tf.concat(squares, axis=1)
            m = m + (grad - m) * (1 - _BETA_1)
            v = v + (square - v) * (1 - _BETA_2)
            w = w - m * alpha / (tf.sqrt(v) + _EPSILON)
            table.state.scatter_update(tf.IndexedSlices(tf.concat([w, m, v], axis=1), rows))
            table.last.scatter_update(tf.IndexedSlices(tf.fill([count], step), rows))
        for variable, grad, (m, v) in zip(self.dense, grads[index:], self.slots, strict=True):
            self.adam.dense_update(variable.value, grad, m, v, tf.cast(step, tf.float32))
        self.iterations.assign_add(1)
        return loss, tf.reduce_sum(squared)

    def sync(self) -> None:
        """Catch every row up to now and copy the weights into the model (eagerly, at epoch ends)."""
        now = tf.cast(self.iterations, tf.int32)
        for table in self.tables:
            w, m, v = self._advance(table, table.state.value(), table.last.value(), now)
            table.state.assign(tf.concat([w, m, v], axis=1))
            table.last.assign(tf.fill(tf.shape(table.last), now))
            offset = 0
            for variable, width in zip(table.full, table.widths, strict=True):
                variable.assign(w[:, offset:offset + width])
                offset += width
        for full, compact in zip(self.full_dense, self.dense, strict=True):
            full.assign(compact)


def _lookup_layers(model: keras.Model) -> list[tuple[int, list[str]]]:
    """(input column, layer names) of the model's row tables: users are column 0, movies column 1."""
    groups = []
    for column, who in ((0, "user"), (1, "movie")):
        names = [f"{who}_embedding"] + ([f"{who}_bias"] if hasattr(model, f"{who}_bias") else [])
        for name in names:
            getattr(model, name).embeddings  # noqa: B018 - AttributeError when it is not a table
        groups.append((column, names))
    return groups


class _CompiledLoop:
    """Runs epochs as a few compiled calls each, driving the same :class:`_Monitor` as ``model.fit``."""

    def __init__(self, model: keras.Model, config: TrainConfig, dataset: Dataset, steps_per_epoch: int,
                 sparse: bool | None = None):
        self.model = model
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        learning_rate = config.learning_rate
        if config.lr_schedule == "cosine":
            learning_rate = keras.optimizers.schedules.CosineDecay(
                config.learning_rate, decay_steps=steps_per_epoch * config.epochs
            )
        adam = _Adam(learning_rate)
        total = steps_per_epoch * config.epochs
        if sparse is None:
            sparse = _RowSparseEngine.suits(model, config.batch_size, total)
        compact = _build(config, config.batch_size, config.batch_size, dataset) if sparse else None
        if sparse and _RowSparseEngine.matches(model, compact):
            self.engine = _RowSparseEngine(model, compact, adam, config.batch_size, total)
        else:
            self.engine = _DenseEngine(model, adam)
        self.kind = type(self.engine).__name__
        batch = config.batch_size
        engine = self.engine

        @tf.function(input_signature=[
            tf.TensorSpec([None, 2], tf.int32), tf.TensorSpec([None, 1], tf.float32),
            tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
        ])
        def run_steps(x, y, first, stop):
            n = tf.shape(x)[0]

            def body(i, loss_sum, squared_sum):
                start = i * batch
                end = tf.minimum(start + batch, n)
                loss, squared = engine.step(x[start:end], y[start:end])
                return i + 1, loss_sum + loss * tf.cast(end - start, tf.float32), squared_sum + squared

            # One step at a time: each reads what the previous one wrote.
            _, loss_sum, squared_sum = tf.while_loop(
                lambda i, *_: i < stop, body, (first, tf.constant(0.0), tf.constant(0.0)), parallel_iterations=1
            )
            return loss_sum, squared_sum

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.int32), tf.TensorSpec([None, 1], tf.float32)])
        def squared_error(x, y):
            return tf.reduce_sum(tf.square(model(x, training=False) - y))

        self._run_steps = run_steps
        self._squared_error = squared_error

    def evaluate(self, x: np.ndarray, y: np.ndarray, block: int = 65536) -> tuple[float, float]:
        """(loss, rmse) on held-out ratings, as Keras reports them (the loss includes any penalty)."""
        total = 0.0
        for start in range(0, len(y), block):
            stop = start + block
            total += float(self._squared_error(x[start:stop], y[start:stop].reshape(-1, 1)))
        mse = total / max(1, len(y))
        penalty = float(sum(float(loss) for loss in self.model.losses))
        return mse + penalty, math.sqrt(mse)

    def fit(self, split: Split, monitor: _Monitor) -> None:
        config, steps = self.config, self.steps_per_epoch
        chunk = _steps_per_execution(config, steps)
        monitor.set_model(self.model)
        self.model.stop_training = False
        order_rng = np.random.default_rng([config.seed, 1])
        for epoch in range(config.epochs):
            monitor.on_epoch_begin(epoch)
            order = order_rng.permutation(split.n_train)
            x = tf.constant(split.x_train[order])
            y = tf.constant(split.y_train[order].reshape(-1, 1))
            loss_sum = squared_sum = 0.0
            done = 0
            for first in range(0, steps, chunk):
                stop = min(steps, first + chunk)
                loss, squared = self._run_steps(x, y, first, stop)
                loss_sum += float(loss)
                squared_sum += float(squared)
                done = stop
                monitor.on_train_batch_end(stop - 1)
                if self.model.stop_training:
                    break
            self.engine.sync()
            seen = max(1, min(split.n_train, done * config.batch_size))
            val_loss, val_rmse = self.evaluate(split.x_val, split.y_val)
            monitor.on_epoch_end(epoch, {
                "loss": loss_sum / seen, "rmse": math.sqrt(squared_sum / seen),
                "val_loss": val_loss, "val_rmse": val_rmse,
            })
            if self.model.stop_training:
                break


def _build(config: TrainConfig, n_users: int, n_movies: int, dataset: Dataset, split: Split | None = None
           ) -> keras.Model:
    return build_model(
        config.model, n_users, n_movies, config.embedding_dim, seed=config.seed,
        min_rating=dataset.min_rating, max_rating=dataset.max_rating,
        user_dropout=config.user_dropout, movie_dropout=config.movie_dropout,
        l2=config.l2, global_bias=config.global_bias, own_init=config.own_init,
        train_pairs=None if split is None else split.x_train,
    )


def train(
    dataset: Dataset,
    config: TrainConfig | None = None,
    *,
    split: Split | None = None,
    listeners: list[Callable[[Progress], None]] | None = None,
    stop_event: threading.Event | None = None,
    strategy: tf.distribute.Strategy | None = None,
    engine: str = "auto",
) -> Run:
    """Train one model on a dataset (or, for a :data:`~cfcore.config.FACTOR_METHODS` config, compute its factors
    with :func:`cfcore.factors.compute_factors`).

    Args:
        dataset: The indexed ratings.
        config: Settings; defaults to the article's.
        split: A precomputed split; made from ``config.val_fraction`` and
            ``config.seed`` when omitted.
        listeners: Called with a :class:`Progress` between batch groups and at
            each epoch end, on the training thread.
        stop_event: When set, training ends after the current batch group; the
            history so far is kept.
        strategy: Optional ``tf.distribute.Strategy`` to build and train under
            (uses ``model.fit``).
        engine: "compiled" (a compiled loop with lazily applied Adam row
            updates; same arithmetic as Keras' Adam, several times faster),
            "keras" (``model.fit`` on a ``tf.data`` pipeline), or "auto"
            ("keras" under a strategy, otherwise "compiled").

    Returns:
        A :class:`Run` whose model holds the weights of the best epoch.

    Raises:
        ValueError: for an unknown engine, or "compiled" with a strategy.
        DataError: when every rating is the same value and the model scales its output to the rating range.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}. Received: engine={engine!r}")
    if engine == "compiled" and strategy is not None:
        raise ValueError("the compiled engine runs on one device; use engine='keras' with a strategy")
    use_fit = engine == "keras" or (engine == "auto" and strategy is not None)
    config = check_work(config or TrainConfig(), dataset.n_users, dataset.n_movies)
    if config.model in FACTOR_METHODS:  # the same entry point (and job) for every kind of run
        from cfcore.factors import compute_factors

        return compute_factors(dataset, config, split=split, listeners=listeners, stop_event=stop_event)
    if config.model in ("dot_with_bias", "svdpp") and not dataset.max_rating > dataset.min_rating:
        raise DataError(
            f"every rating in this dataset is {dataset.min_rating:g}, so the bias model's output range "
            f"({dataset.min_rating:g} to {dataset.max_rating:g}) is empty: there is nothing to learn. "
            "Use data with at least two different ratings."
        )
    split = split or split_dataset(dataset, config.val_fraction, config.seed)
    steps_per_epoch = math.ceil(split.n_train / config.batch_size)
    monitor = _Monitor(config, steps_per_epoch, list(listeners or []), stop_event)
    started = time.perf_counter()
    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        model = _build(config, dataset.n_users, dataset.n_movies, dataset, split)
        if use_fit:
            learning_rate = config.learning_rate
            if config.lr_schedule == "cosine":
                learning_rate = keras.optimizers.schedules.CosineDecay(
                    config.learning_rate, decay_steps=steps_per_epoch * config.epochs
                )
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate),
                loss="mse",
                metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
                # Keras 3 cannot run several steps per call under a distribution strategy
                # (keras-team/keras#19246: "You must feed a value for placeholder tensor").
                steps_per_execution=1 if strategy is not None else _steps_per_execution(config, steps_per_epoch),
            )
        else:
            loop = _CompiledLoop(model, config, dataset, steps_per_epoch)
    if stop_event is None or not stop_event.is_set():
        if use_fit:
            train_ds = _make_dataset(split.x_train, split.y_train, config.batch_size, config.seed, shuffle=True)
            # Under a strategy Keras builds the model from the first validation batch split across the
            # replicas, and fails when the parts differ in size: keep that batch a multiple of them.
            val_batch = max(config.batch_size, 4096)
            replicas = strategy.num_replicas_in_sync if strategy is not None else 1
            if replicas > 1:
                val_batch = max(replicas, min(val_batch, split.n_val) // replicas * replicas)
            val_ds = _make_dataset(split.x_val, split.y_val, val_batch)
            model.fit(
                train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=[monitor], verbose=0,
                shuffle=False,
            )
        else:
            loop.fit(split, monitor)
    if monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)
    result = result_of(monitor, time.perf_counter() - started, dataset, split, stop_event)
    return Run(embeddings_of(model), dataset, split, result, name=config.model, model=model)


def result_of(monitor: _Monitor, seconds: float, dataset: Dataset, split: Split,
              stop_event: threading.Event | None) -> TrainResult:
    """What a finished epoch loop (``monitor``'s) comes to: the history and its best epoch."""
    best_rmse = monitor.best_val_rmse if monitor.best_epoch else math.nan
    return TrainResult(
        config=monitor.config,
        history=monitor.history,
        best_epoch=monitor.best_epoch,
        best_val_rmse=float(best_rmse),
        train_seconds=seconds,
        stopped_by_user=monitor.stopped_by_user or (stop_event is not None and stop_event.is_set()),
        stopped_early=monitor.stopped_early,
        n_users=dataset.n_users,
        n_movies=dataset.n_movies,
        n_train=split.n_train,
        n_val=split.n_val,
    )


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------
# Run directories
# ---------------------------------------------------------------------------

def save_run(run: Run, directory: str | Path) -> Path:
    """Save model, learned arrays, config, history, id maps, data fingerprint and ratings to a folder (the
    trainer's side: it needs the run's live Keras model; :func:`cfcore.runs.run.load_run` reads the folder back
    without Keras, its arrays from ``embeddings.npz``).

    The ratings and split are saved too, so a run opens with no network and no
    dataset (a class demo); ``result.json`` holds the dataset fingerprint.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    run.model.save(out / "model.keras")
    write_embeddings_file(embedding_arrays(run.model), out)
    (out / "config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
    summary = run.result.summary()
    summary.update(
        {
            "history": run.result.history,
            "dataset": {**run.dataset.summary(), "fingerprint": run.dataset.fingerprint},
            "name": run.name,
        }
    )
    (out / "result.json").write_text(json.dumps(summary, indent=2))
    pd.DataFrame(run.result.history).to_csv(out / "history.csv", index=False)
    pd.DataFrame({"index": np.arange(run.dataset.n_users), "userId": run.dataset.index_to_user}).to_csv(
        out / "users.csv", index=False
    )
    movies = run.dataset.movies.copy()
    movies.insert(0, "index", np.arange(run.dataset.n_movies))
    movies.to_csv(out / "movies.csv", index=False)
    ratings = run.dataset.ratings
    np.savez_compressed(
        out / "ratings.npz",
        user=ratings["user"].to_numpy(),
        movie=ratings["movie"].to_numpy(),
        rating=ratings["rating"].to_numpy(),
        val_rows=run.split.val_rows,
    )
    return out


def upgrade_run(directory: str | Path) -> Path:
    """Give a run folder of an older version, whose learned arrays lie only in ``model.keras``, the
    ``embeddings.npz`` the web server reads. Every other file is checked first (the model's declared sizes
    included), the weights file is refused if it reaches outside itself
    (:func:`cfcore.trainer.weights.check_weights_file`), Keras opens the model in safe mode, and the folder is
    checked whole afterwards.

    Raises:
        RunError: for a run that is broken, unsafe or not a cfcore run; the folder then has no embeddings.npz.
    """
    folder = Path(directory)
    read_run_files(folder, upload_limits(), with_embeddings=False)
    try:
        model = load_model(folder / "model.keras")
        write_embeddings_file(embedding_arrays(model), folder)
        read_run_files(folder, upload_limits())
    except UnsafeWeightsError as err:
        raise RunError(f"model.keras: {err}") from None
    except RunError:
        (folder / EMBEDDINGS_FILE).unlink(missing_ok=True)
        raise
    except Exception as err:  # noqa: BLE001 - Keras can raise nearly anything on a hostile file
        (folder / EMBEDDINGS_FILE).unlink(missing_ok=True)
        raise RunError(f"model.keras: Keras could not open it ({type(err).__name__}: {str(err)[:120]})") from None
    return folder


__all__ = [
    "BOUNDS", "ConfigError", "PRESETS", "Progress", "RUN_FILES", "Run", "RunError", "TrainConfig", "TrainResult",
    "load_run", "preset", "save_run", "train", "upgrade_run",
]
