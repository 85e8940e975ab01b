"""The epoch loop's listener: progress reports, the stop request, early stopping and the best epoch's weights."""

from __future__ import annotations

import math
import threading
import time

import keras

from cfcore.data.dataset import Dataset
from cfcore.data.split import Split
from cfcore.runs.run import Progress, TrainResult


class Monitor(keras.callbacks.Callback):
    """Records history, reports progress, early-stops, honours stop requests, keeps best weights.

    One callback rather than Keras's ``History``, ``EarlyStopping(restore_best_weights=True)`` and a progress
    callback in a ``CallbackList``: the compiled loop (:class:`cfcore.training.engine.CompiledLoop`) calls these
    hooks itself, and the run needs what those do not give. Patience running out in the last epoch must not count
    as stopping early (``EarlyStopping`` says it stopped), a learner's stop must end the epoch loop within a batch
    group and keep the best weights so far (``EarlyStopping`` restores only when it stops the run itself), and each
    history row records whether its epoch ran to the end.
    """

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


def result_of(monitor: Monitor, seconds: float, dataset: Dataset, split: Split,
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
