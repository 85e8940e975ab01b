"""One-hot vectors against embeddings: the article's first open question, measured.

Two facts, each shown by computing it:

1. A *linear* model on one-hot inputs (a user's one-hot vector next to the movie's, one weight per column, plus
   an intercept) is exactly the user + movie biases baseline: its weight for a user's column is that user's bias.
   :func:`onehot_linear` fits it by least squares over the sparse one-hot matrix (SciPy, no TensorFlow) with the
   baseline's own penalty, and sets its validation RMSE beside the baseline's own fit
   (:func:`cfcore.analysis.baselines.fit_biases`, run to convergence).
2. A ``Dense`` layer on one-hot inputs computes exactly what an embedding lookup does from the same weight
   matrix (one row is picked out), only at the cost of the one-hot vectors and a gradient for every row.
   :func:`measure` (TensorFlow: run it in a child process, ``python -m cfcore.analysis.onehot``, or the trainer)
   checks the two give the same predictions from the same weights and times a training step of each; :class:`CostJobs`
   runs that child for the web server, one measurement at a time, remembered by the sizes it depends on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr

from cfcore import constants as C
from cfcore.analysis.baselines import DEFAULT_BIAS_REG, fit_biases
from cfcore.background import BackgroundJob, BackgroundJobs
from cfcore.child import exit_with_parent, run_module
from cfcore.data.split import Split
from cfcore.trainer.caps import CapError, JobCaps

FLOAT_BYTES = 4
BIAS_SWEEPS = 50
# Rating pairs on which measure() checks the two models agree: one-hot rows this many at once.
CHECK_ROWS = 1024


class MeasureError(ValueError):
    """A measurement this server will not run; the message says why."""


@dataclass
class OneHotLinear:
    """The linear model on one-hot vectors next to the biases baseline, on one split."""

    val_rmse: float
    bias_val_rmse: float
    max_difference: float  # largest gap between the two models' validation predictions
    columns: int


def onehot_matrix(pairs: np.ndarray, n_users: int, n_movies: int) -> sp.csr_matrix:
    """``(n, n_users + n_movies)``: row k is user ``pairs[k, 0]``'s one-hot vector followed by the movie's."""
    rows = np.repeat(np.arange(len(pairs)), 2)
    columns = np.column_stack([pairs[:, 0], n_users + pairs[:, 1]]).ravel()
    return sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(pairs), n_users + n_movies))


def onehot_linear(split: Split, n_users: int, n_movies: int, reg: float = DEFAULT_BIAS_REG) -> OneHotLinear:
    """Fit ``rating = mean + w . [one-hot user, one-hot movie]`` by ridge least squares (penalty ``reg``, the
    baseline's), predictions clipped to the training range as the baseline's are."""
    design = onehot_matrix(split.x_train, n_users, n_movies)
    y = np.asarray(split.y_train, np.float64)
    mean = float(y.mean())
    weights = lsqr(design, y - mean, damp=math.sqrt(reg), atol=1e-10, btol=1e-10, iter_lim=2000)[0]
    low, high = float(y.min()), float(y.max())
    predicted = np.clip(mean + onehot_matrix(split.x_val, n_users, n_movies) @ weights, low, high)
    val_rmse = float(np.sqrt(np.mean((predicted - split.y_val) ** 2)))
    # The baseline's own fit, run to convergence (the baseline elsewhere stops after 10 sweeps, 1e-4 away).
    mu, user_bias, movie_bias = fit_biases(split, n_users, n_movies, reg, sweeps=BIAS_SWEEPS)
    theirs = np.clip(mu + user_bias[split.x_val[:, 0]] + movie_bias[split.x_val[:, 1]], low, high)
    return OneHotLinear(val_rmse, float(np.sqrt(np.mean((theirs - split.y_val) ** 2))),
                        float(np.abs(predicted - theirs).max()), n_users + n_movies)


def input_bytes(n_ratings: int, n_users: int, n_movies: int) -> dict[str, int]:
    """What an epoch's inputs take, built at once: float32 one-hot rows against two int32 indices a rating."""
    return {"one-hot": n_ratings * (n_users + n_movies) * FLOAT_BYTES, "lookup": n_ratings * 2 * FLOAT_BYTES}


def measure_bytes(n_users: int, n_movies: int, dim: int = 64, batch_size: int = 32) -> int:
    """About the most memory :func:`measure`'s arrays hold at once, above what its process takes for TensorFlow.

    Its one-hot rows for the check and a batch, as wide as the larger table, and both tables a dozen times over
    (start values, two models' weights, gradients, Adam's two slots). A bound with room to spare: at 40,000 to
    100,000 columns the child's peak grew by 0.6 to 0.85 of it.
    """
    columns = n_users + n_movies
    return FLOAT_BYTES * (12 * columns * dim + (CHECK_ROWS + CHECK_ROWS // 4 + batch_size) * max(n_users, n_movies))


def check_measure(n_users: int, n_movies: int, dim: int = 64, batch_size: int = 32) -> None:
    """Raise :class:`MeasureError` when :func:`measure_bytes` is past ``ONEHOT_MEASURE_MAX_BYTES``, before any
    process starts."""
    need = measure_bytes(n_users, n_movies, dim, batch_size)
    if need > C.ONEHOT_MEASURE_MAX_BYTES:
        raise MeasureError(f"measuring {n_users:,} users and {n_movies:,} movies would take about "
                           f"{need / 1e6:,.0f} MB, past the {C.ONEHOT_MEASURE_MAX_BYTES / 1e6:,.0f} MB this "
                           "server allows a measurement")


# -- the TensorFlow side (a child process) -----------------------------------------------------------------------


def measure(n_users: int, n_movies: int, n_train: int, dim: int = 64, batch_size: int = 32, steps: int = 60,
            seed: int = 0, progress=lambda fraction, stage: None) -> dict:
    """Same weights, two ways in: an embedding lookup and a Dense layer on one-hot vectors.

    Checks the predictions agree, then times ``steps`` Adam steps of each (after a few untimed ones) on random
    rating pairs of these sizes (the time depends on the sizes only) and scales to an epoch of ``n_train``.

    Returns:
        ``{"max_difference", "lookup": {...}, "one-hot": {...}}``, each side with ``seconds_per_step``,
        ``seconds_per_epoch``, ``gradient_bytes_per_step`` and ``input_bytes_per_epoch``.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    start = keras.initializers.RandomUniform(0.0, 0.05, seed=seed)
    user_table, movie_table = np.asarray(start((n_users, dim))), np.asarray(start((n_movies, dim)))
    pairs = np.column_stack([rng.integers(0, n_users, 4096), rng.integers(0, n_movies, 4096)]).astype(np.int32)
    targets = rng.integers(1, 11, len(pairs)).astype(np.float32) / 2.0

    def lookup_model():
        users = keras.layers.Embedding(n_users, dim, embeddings_initializer=keras.initializers.Constant(user_table))
        movies = keras.layers.Embedding(n_movies, dim,
                                        embeddings_initializer=keras.initializers.Constant(movie_table))

        def predict(x):
            return tf.reduce_sum(users(x[:, 0]) * movies(x[:, 1]), axis=1)

        return predict, [users, movies]

    def onehot_model():
        users = keras.layers.Dense(dim, use_bias=False, kernel_initializer=keras.initializers.Constant(user_table))
        movies = keras.layers.Dense(dim, use_bias=False, kernel_initializer=keras.initializers.Constant(movie_table))

        def predict(x):
            return tf.reduce_sum(users(tf.one_hot(x[:, 0], n_users)) * movies(tf.one_hot(x[:, 1], n_movies)), axis=1)

        return predict, [users, movies]

    sides = {"lookup": lookup_model(), "one-hot": onehot_model()}
    progress(0.05, "checking both give the same predictions")
    outputs = {name: predict(tf.constant(pairs[:CHECK_ROWS])).numpy() for name, (predict, _) in sides.items()}
    difference = float(np.abs(outputs["lookup"] - outputs["one-hot"]).max())
    result: dict = {"max_difference": difference, "dim": dim, "batch_size": batch_size, "n_train": n_train,
                    "steps_timed": steps}
    epoch_steps = math.ceil(n_train / batch_size)
    inputs = input_bytes(n_train, n_users, n_movies)
    for number, (name, (predict, layers)) in enumerate(sides.items()):
        variables = [v for layer in layers for v in layer.trainable_variables]

        step = _train_step(tf, predict, variables, keras.optimizers.Adam(0.001))

        batches = [(pairs[i:i + batch_size], targets[i:i + batch_size])
                   for i in range(0, len(pairs) - batch_size + 1, batch_size)]
        for x, y in batches[:3]:  # tracing and first-call set-up are not the step's cost
            gradient_numbers = int(step(x, y))
        progress(0.1 + 0.45 * number, f"timing {steps} training steps with the {name} input")
        began = time.perf_counter()
        for k in range(steps):
            x, y = batches[k % len(batches)]
            step(x, y)
        per_step = (time.perf_counter() - began) / steps
        result[name] = {"seconds_per_step": per_step, "seconds_per_epoch": per_step * epoch_steps,
                        "gradient_bytes_per_step": gradient_numbers * FLOAT_BYTES,
                        "input_bytes_per_epoch": inputs[name]}
    progress(1.0, "done")
    return result


def _train_step(tf, predict, variables, optimizer):
    """One compiled Adam step on the squared error; it returns how many gradient numbers the step made (the
    lookup's gradient holds only the batch's rows, the Dense layer's every row)."""

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(predict(x) - y))
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return sum(tf.size(g.values if isinstance(g, tf.IndexedSlices) else g) for g in gradients)

    return step


def main(argv: list[str] | None = None) -> int:
    """``python -m cfcore.analysis.onehot --users N --movies M --train T [--dim D] [--batch-size B] [--steps S]``: print
    progress lines, then the :func:`measure` result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m cfcore.analysis.onehot")
    for flag in ("--users", "--movies", "--train"):
        parser.add_argument(flag, type=int, required=True)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow's threads (default 1)")
    args = parser.parse_args(argv)
    exit_with_parent()
    if min(args.users, args.movies, args.train, args.dim, args.batch_size, args.steps) < 1:
        print("error: every size must be 1 or more", flush=True)
        return 2
    try:
        check_measure(args.users, args.movies, args.dim, args.batch_size)
    except MeasureError as err:
        print(f"error: {err}", flush=True)
        return 2

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(max(1, args.threads))
    tf.config.threading.set_inter_op_parallelism_threads(max(1, args.threads))

    def report(fraction: float, stage: str) -> None:
        print(f"progress {fraction:.3f} {stage}", flush=True)

    print(json.dumps(measure(args.users, args.movies, args.train, args.dim, args.batch_size, args.steps,
                             progress=report)), flush=True)
    return 0


# -- the web server's side ---------------------------------------------------------------------------------------


class CostJobs:
    """Measurements for every session of a server (a :class:`~cfcore.background.BackgroundJobs` of kind
    "measurement"), one at a time, each remembered by its sizes; a job's ``result`` is the measurement's dict.

    The measurement imports TensorFlow, which the web server never does: it runs
    ``python -m cfcore.analysis.onehot`` with one thread (the trainer needs the other core).
    """

    def __init__(self, timeout_s: float = 300.0, keep: int = 16, caps: JobCaps | None = None):
        self.timeout_s = float(timeout_s)
        self.jobs = BackgroundJobs("measurement", self._compute, caps, keep=keep, when_busy="refuse",
                                   retry_failed=True, first_stage="starting TensorFlow in a child process")
        self.caps = self.jobs.caps

    def request(self, n_users: int, n_movies: int, n_train: int, dim: int = 64, batch_size: int = 32,
                owner: str = "") -> BackgroundJob:
        """The measurement for these sizes: the one done or under way, else a new one for ``owner`` (a
        workspace) under its cap on jobs of every kind (never waits). While another runs, the job comes back
        "waiting" (ask again); a refused one comes back "failed", saying why.

        Raises:
            MeasureError: when the sizes are past the memory a measurement may take (checked before anything
                starts).
        """
        check_measure(n_users, n_movies, dim, batch_size)
        key = (int(n_users), int(n_movies), int(n_train), int(dim), int(batch_size))
        job = self.jobs.known(key)
        if job is not None:
            return job
        try:
            return self.jobs.start(key, owner, busy_stage="waiting for another measurement (about half a minute)")
        except CapError as err:
            return BackgroundJob(key, owner, state="failed", error=str(err))

    def _compute(self, job: BackgroundJob, _data: None) -> dict:
        def follow(line: str) -> None:
            if line.startswith("progress "):
                _, fraction, stage = line.strip().split(" ", 2)
                job.fraction, job.stage = float(fraction), stage

        arguments = ["--users", str(job.key[0]), "--movies", str(job.key[1]), "--train", str(job.key[2]),
                     "--dim", str(job.key[3]), "--batch-size", str(job.key[4])]
        ended = run_module("cfcore.analysis.onehot", arguments, self.timeout_s, follow)
        if ended.returncode != 0:
            raise RuntimeError(ended.reason("the measurement"))
        return json.loads(ended.lines[-1])


if __name__ == "__main__":
    sys.exit(main())
