"""The compiled training loop with a row-sparse ("lazy") Adam: the same arithmetic as Keras's Adam, several
times faster on embedding tables.

keras.optimizers.Adam is dense: every step it decays the moments of, and moves, EVERY row of every
embedding table, although a batch of 32 ratings touches at most 64 rows. On ml-latest-small that
is ~700k numbers per step and most of the time of ``model.fit``. The loop below does the same
arithmetic lazily: a row that no batch touches evolves in closed form (its moments only decay),
so it is brought up to date ("caught up") when a batch next needs it, and all rows are caught up
before anyone looks at the weights (epoch ends). The result equals Keras' Adam to float32
rounding, including its treatment of a row that appears twice in a batch.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split
from cfcore.training.build import configured_model
from cfcore.training.callbacks import Monitor

SVDPP_STEPS_PER_CALL = 16


def steps_per_execution(config: TrainConfig, steps_per_epoch: int) -> int:
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


def make_dataset(x, y, batch_size, seed=None, shuffle=False):
    ds = tf.data.Dataset.from_tensor_slices((x, y.reshape(-1, 1)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


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

ENGINES = ("compiled", "keras")


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


class CompiledLoop:
    """Runs epochs as a few compiled calls each, driving the same :class:`Monitor` as ``model.fit``."""

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
        compact = configured_model(config, config.batch_size, config.batch_size, dataset) if sparse else None
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

    def fit(self, split: Split, monitor: Monitor) -> None:
        config, steps = self.config, self.steps_per_epoch
        chunk = steps_per_execution(config, steps)
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
