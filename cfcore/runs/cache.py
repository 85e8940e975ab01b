"""Runs loaded from their folders, kept for the sessions of one server process."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from cfcore.data.dataset import Dataset
from cfcore.runs.errors import RunError
from cfcore.runs.run import Run, load_run


class RunCache:
    """Runs loaded from their folders, shared by the sessions of one server process.

    At most ``max_runs`` are kept, and one unused for ``idle_seconds`` is let go (a daemon thread looks once a
    minute), so memory goes back after a class leaves. Runs on the same data share one :class:`Dataset` object.
    Keyed by the folder's path: only a session that knows the workspace's id can name its folders.
    """

    def __init__(self, max_runs: int = 64, idle_seconds: float = 300.0):
        import threading
        import weakref
        from collections import OrderedDict

        self.max_runs, self.idle_seconds = int(max_runs), float(idle_seconds)
        self._lock = threading.Lock()
        self._runs: OrderedDict[tuple, tuple[Run, float]] = OrderedDict()
        self._datasets: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="cfcore-run-cache", daemon=True)
        self._sweeper.start()

    def get(self, folder: str | Path) -> Run:
        """The run in ``folder`` (loaded once; again when its files change).

        Raises:
            RunError: for a folder that is not a complete, valid run.
        """
        folder = Path(folder)
        try:
            key = (str(folder), (folder / "result.json").stat().st_mtime_ns)
        except OSError:
            raise RunError(f"{folder.name}: the run folder is gone or incomplete") from None
        with self._lock:
            if key in self._runs:
                run = self._runs[key][0]
                self._runs[key] = (run, time.monotonic())
                self._runs.move_to_end(key)
                return run
        run = load_run(folder)
        with self._lock:
            run.dataset = self._shared_locked(run.dataset)
            self._keep_locked(key, run)
        return run

    def put(self, folder: str | Path, run: Run) -> None:
        """Keep ``run``, already loaded, as the run in ``folder`` (the manager hands over finished runs)."""
        folder = Path(folder)
        try:
            key = (str(folder), (folder / "result.json").stat().st_mtime_ns)
        except OSError:
            return
        with self._lock:
            self._keep_locked(key, replace(run, dataset=self._shared_locked(run.dataset)))

    def share(self, dataset: Dataset) -> Dataset:
        """The one :class:`Dataset` object this cache knows for ``dataset``'s data (``dataset`` itself, kept
        from now on, when it knows none): a session's chosen dataset and its runs then hold one copy."""
        with self._lock:
            return self._shared_locked(dataset)

    def _shared_locked(self, dataset: Dataset) -> Dataset:
        share = (dataset.fingerprint, dataset.source)
        shared = self._datasets.get(share)
        if shared is not None and len(shared.ratings) == len(dataset.ratings):
            return shared
        self._datasets[share] = dataset
        return dataset

    def _keep_locked(self, key: tuple, run: Run) -> None:
        self._runs[key] = (run, time.monotonic())
        while len(self._runs) > self.max_runs:
            self._runs.popitem(last=False)

    def forget(self, folder: str | Path) -> None:
        with self._lock:
            for key in [key for key in self._runs if key[0] == str(folder)]:
                del self._runs[key]

    def sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [key for key, (_, used) in self._runs.items() if now - used > self.idle_seconds]:
                del self._runs[key]

    def __len__(self) -> int:
        return len(self._runs)

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(min(60.0, self.idle_seconds))
            self.sweep()
