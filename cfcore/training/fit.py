"""``train()``: one model trained on a dataset with progress and stop (the trainer process and the CLI only)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import keras

from cfcore.config import FACTOR_METHODS, TrainConfig, check_work
from cfcore.data.dataset import Dataset
from cfcore.data.errors import DataError
from cfcore.data.split import Split, split_dataset
from cfcore.runs.run import Progress, Run
from cfcore.training.build import configured_model, embeddings_of
from cfcore.training.callbacks import Monitor, result_of
from cfcore.training.engine import ENGINES, CompiledLoop, make_dataset, steps_per_execution
from cfcore.training.factors import compute_factors


def train(
    dataset: Dataset,
    config: TrainConfig | None = None,
    *,
    split: Split | None = None,
    listeners: list[Callable[[Progress], None]] | None = None,
    stop_event: threading.Event | None = None,
    engine: str = "compiled",
) -> Run:
    """Train one model on a dataset (or, for a :data:`~cfcore.config.FACTOR_METHODS` config, compute its factors
    with :func:`cfcore.training.factors.compute_factors`).

    Args:
        dataset: The indexed ratings.
        config: Settings; defaults to the article's.
        split: A precomputed split; made from ``config.val_fraction`` and
            ``config.seed`` when omitted.
        listeners: Called with a :class:`Progress` between batch groups and at
            each epoch end, on the training thread.
        stop_event: When set, training ends after the current batch group; the
            history so far is kept.
        engine: "compiled" (a compiled loop with lazily applied Adam row
            updates; same arithmetic as Keras' Adam, several times faster), or
            "keras" (``model.fit`` on a ``tf.data`` pipeline: the benchmarks' comparison).

    Returns:
        A :class:`Run` whose model holds the weights of the best epoch.

    Raises:
        ValueError: for an unknown engine.
        DataError: when every rating is the same value and the model scales its output to the rating range.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}. Received: engine={engine!r}")
    use_fit = engine == "keras"
    config = check_work(config or TrainConfig(), dataset.n_users, dataset.n_movies)
    if config.model in FACTOR_METHODS:  # the same entry point (and job) for every kind of run
        return compute_factors(dataset, config, split=split, listeners=listeners, stop_event=stop_event)
    if config.model in ("dot_with_bias", "svdpp") and not dataset.max_rating > dataset.min_rating:
        raise DataError(
            f"every rating in this dataset is {dataset.min_rating:g}, so the bias model's output range "
            f"({dataset.min_rating:g} to {dataset.max_rating:g}) is empty: there is nothing to learn. "
            "Use data with at least two different ratings."
        )
    split = split or split_dataset(dataset, config.val_fraction, config.seed)
    steps_per_epoch = math.ceil(split.n_train / config.batch_size)
    monitor = Monitor(config, steps_per_epoch, list(listeners or []), stop_event)
    started = time.perf_counter()
    model = configured_model(config, dataset.n_users, dataset.n_movies, dataset, split)
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
            steps_per_execution=steps_per_execution(config, steps_per_epoch),
        )
    else:
        loop = CompiledLoop(model, config, dataset, steps_per_epoch)
    if stop_event is None or not stop_event.is_set():
        if use_fit:
            train_ds = make_dataset(split.x_train, split.y_train, config.batch_size, config.seed, shuffle=True)
            val_ds = make_dataset(split.x_val, split.y_val, max(config.batch_size, 4096))
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
