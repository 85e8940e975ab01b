"""What a trainer backend is: the one interface the training manager uses, implemented by
:class:`cfcore.trainer.local.LocalTrainer` (a child process on this machine) and
:class:`cfcore.trainer.ray.RayTrainer` (a reused Ray actor per node), and the manager's training function over one
(:func:`backend_train_fn`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cfcore.runs.run import Progress
from cfcore.trainer.spec import FAILED, JobSpec, Outcome

# What the manager calls to train one Training: (dataset, config, *, split, listeners, stop_event, job) -> Run | None.
TrainFn = Callable[..., Any]


@runtime_checkable
class TrainerBackend(Protocol):
    """Runs one training at a time per call, blocking: ``run`` returns how it ended.

    ``warm`` starts what the backend needs ahead of a first training (a process, a connection); ``shutdown`` ends
    it. A backend with a ``capacity()`` method (Ray: the cluster's CPUs) says how many trainings may run at once.
    """

    def warm(self) -> None: ...

    def shutdown(self) -> None: ...

    def run(self, spec: JobSpec, on_progress: Callable[[Progress], None], stop_event: threading.Event) -> Outcome:
        """Train ``spec``: progress reported through ``on_progress`` (on a thread of the backend's), stopped
        after the current batch group once ``stop_event`` is set; the run folder is written to
        ``spec.out_dir``."""
        ...


class TrainingFailed(RuntimeError):
    """A training ended with an error; the message is for the learner as it stands."""


def backend_train_fn(backend: TrainerBackend, datasets_dir: Path) -> TrainFn:
    """The manager's training function for a backend (:class:`~cfcore.trainer.backend.TrainerBackend`): the
    dataset goes to ``datasets_dir`` once per fingerprint, the trainer saves the run folder, and the run comes back
    as arrays (:func:`cfcore.runs.run.load_run`)."""
    from cfcore.data.dataset_file import save_dataset_file
    from cfcore.runs.run import load_run
    from cfcore.trainer.spec import JobSpec

    def train(dataset, config, *, split, listeners, stop_event, job):
        from cfcore.data.split import split_dataset

        split = split or split_dataset(dataset, config.val_fraction, config.seed)
        dataset_file = save_dataset_file(dataset, Path(datasets_dir) / f"{dataset.fingerprint}.npz")
        out_dir = Path(datasets_dir).parent / "scratch-runs" / job.id  # each watcher gets a copy
        spec = JobSpec(job.id, config.to_dict(), str(dataset_file), dataset.fingerprint, split.val_rows,
                       int(split.seed), str(out_dir), job.name)

        def on_progress(progress):
            for listener in listeners:
                listener(progress)

        outcome = backend.run(spec, on_progress, stop_event)
        if outcome.state == FAILED:
            raise TrainingFailed(outcome.error)
        return None if outcome.folder is None else load_run(outcome.folder)

    return train
