"""The one-hot measurement's TensorFlow side, run in a child process (``python -m cfcore.training.onehot_cost``,
started by :class:`cfcore.analysis.onehot.CostJobs`): the same weights as an embedding lookup and as a Dense layer
on one-hot vectors, their predictions compared and a training step of each timed."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from cfcore.analysis.onehot import CHECK_ROWS, FLOAT_BYTES, MeasureError, check_measure, input_bytes
from cfcore.child import exit_with_parent


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
    """``python -m cfcore.training.onehot_cost --users N --movies M --train T [--dim D] [--batch-size B]
    [--steps S]``: print progress lines, then the :func:`measure` result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m cfcore.training.onehot_cost")
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


if __name__ == "__main__":
    sys.exit(main())
