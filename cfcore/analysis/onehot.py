"""One-hot vectors against embeddings: the article's first open question, measured.

Two facts, each shown by computing it:

1. A *linear* model on one-hot inputs (a user's one-hot vector next to the movie's, one weight per column, plus
   an intercept) is exactly the user + movie biases baseline: its weight for a user's column is that user's bias.
   :func:`onehot_linear` fits it by least squares over the sparse one-hot matrix (SciPy, no TensorFlow) with the
   baseline's own penalty, and sets its validation RMSE beside the baseline's own fit
   (:func:`cfcore.analysis.baselines.fit_biases`, run to convergence).
2. A ``Dense`` layer on one-hot inputs computes exactly what an embedding lookup does from the same weight
   matrix (one row is picked out), only at the cost of the one-hot vectors and a gradient for every row.
   :func:`cfcore.training.onehot_cost.measure` (TensorFlow: run in a child process,
   ``python -m cfcore.training.onehot_cost``) checks the two give the same predictions from the same weights and
   times a training step of each; :class:`CostJobs` runs that child for the web server, one measurement at a time,
   remembered by the sizes it depends on. This module imports no TensorFlow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr

from cfcore import constants as C
from cfcore.analysis.baselines import DEFAULT_BIAS_REG, fit_biases
from cfcore.background import BackgroundJob, BackgroundJobs
from cfcore.child import run_module
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


class CostJobs:
    """Measurements for every session of a server (a :class:`~cfcore.background.BackgroundJobs` of kind
    "measurement"), one at a time, each remembered by its sizes; a job's ``result`` is the measurement's dict.

    The measurement imports TensorFlow, which the web server never does: it runs
    ``python -m cfcore.training.onehot_cost`` with one thread (the trainer needs the other core).
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
        ended = run_module("cfcore.training.onehot_cost", arguments, self.timeout_s, follow)
        if ended.returncode != 0:
            raise RuntimeError(ended.reason("the measurement"))
        return json.loads(ended.lines[-1])
