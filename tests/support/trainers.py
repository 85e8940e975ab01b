"""Stand-ins for a training, for the training manager's tests."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace


class FakeTrainer:
    """Stands in for ``cfcore.training.fit.train``: one epoch row per release, ends on release or stop."""

    def __init__(self, fail: Exception | None = None):
        self.fail = fail
        self.started: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, dataset, config, *, split, listeners, stop_event, **_):
        with self.lock:
            self.started.append(config.model)
        if self.fail is not None:
            raise self.fail
        history = [{"epoch": 1, "train_rmse": 1.0, "val_rmse": 1.1}]
        for listener in listeners:
            listener(SimpleNamespace(stage="epoch", epoch=1, epochs=config.epochs, step=1, steps_per_epoch=1,
                                     history=list(history)))
        while not (self.release.is_set() or stop_event.is_set()):
            time.sleep(0.01)
        result = SimpleNamespace(history=history, stopped_by_user=stop_event.is_set())
        return SimpleNamespace(result=result)
