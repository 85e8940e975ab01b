"""What a trainer backend is: the one interface the training manager uses, implemented by
:class:`cfcore.trainer.local.LocalTrainer` (a child process on this machine) and
:class:`cfcore.trainer.ray.RayTrainer` (a reused Ray actor per node)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from cfcore.runs.run import Progress
from cfcore.trainer.spec import JobSpec, Outcome


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
