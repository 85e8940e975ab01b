"""The Ray backend: trainings as Ray actors on a cluster, for more than one machine.

Used when ``CFCORE_RAY_ADDRESS`` is set (``auto`` or ``ray://host:10001``); nothing imports Ray otherwise. The
same :func:`cfcore.trainer.worker.run_job` runs inside each actor. Because a worker may be on another machine,
the data goes through Ray's object store (one object per dataset fingerprint) and the finished run comes back as
a run zip, which the server checks and unpacks into the workspace like any uploaded run. Progress is polled from
the actor; Stop is an actor call; a lost actor or node is a failed training with a message, like a dead local
trainer. The manager's capacity follows the cluster's CPUs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cfcore.runs.run import Progress
from cfcore.trainer.spec import DIED_MESSAGE, FAILED, JobSpec, Outcome, progress_from_message

_LOG = logging.getLogger(__name__)
_POLL_S = 0.25
_CAPACITY_REFRESH_S = 10.0


def _actor_class():
    import ray

    @ray.remote(num_cpus=1, max_concurrency=4)
    class TrainingActor:
        """One training: ``run`` trains (on one thread of the actor), ``drain`` and ``stop`` answer meanwhile."""

        def __init__(self):
            self._events: list[dict] = []
            self._lock = threading.Lock()
            self._stop = threading.Event()

        def run(self, spec: JobSpec, dataset: bytes) -> tuple[Outcome, bytes | None]:
            from cfcore.trainer.worker import run_job_portable

            return run_job_portable(spec, dataset, self._progress, self._stop)

        def _progress(self, message: dict) -> None:
            with self._lock:
                self._events.append(message)

        def drain(self) -> list[dict]:
            with self._lock:
                events, self._events = self._events, []
            return events

        def stop(self) -> None:
            self._stop.set()

    return TrainingActor


class RayTrainer:
    """Runs job specs as Ray actors on the cluster at ``address`` (thread-safe).

    Args:
        address: ``auto`` (a cluster on this machine), ``ray://host:10001``, or a head's ``host:port``.
    """

    def __init__(self, address: str):
        self.address = address
        self._lock = threading.Lock()
        self._actor = None
        self._datasets: dict[str, object] = {}
        self._capacity, self._capacity_at = 1, 0.0
        self.processes_started = 0
        self.pid = None  # no local process

    def _connect(self):
        import ray

        with self._lock:
            if not ray.is_initialized():
                ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False,
                         logging_level=logging.WARNING)
            if self._actor is None:
                self._actor = _actor_class()
        return ray

    def warm(self) -> None:
        """Connect to the cluster (trainings then start without that wait)."""
        self._connect()

    def shutdown(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()

    def capacity(self) -> int:
        """Trainings the cluster can run at once: its CPUs (one per training), refreshed every few seconds."""
        now = time.monotonic()
        if now - self._capacity_at > _CAPACITY_REFRESH_S:
            try:
                ray = self._connect()
                self._capacity = max(1, int(ray.cluster_resources().get("CPU", 1)))
            except Exception:  # an unreachable cluster keeps the last known size; trainings report the error
                _LOG.exception("asking the Ray cluster for its size failed")
            self._capacity_at = now
        return self._capacity

    def _dataset_ref(self, ray, spec: JobSpec):
        with self._lock:
            ref = self._datasets.get(spec.fingerprint)
        if ref is None:
            ref = ray.put(Path(spec.dataset_file).read_bytes())
            with self._lock:
                self._datasets[spec.fingerprint] = ref
                while len(self._datasets) > 4:
                    self._datasets.pop(next(iter(self._datasets)))
        return ref

    def run(self, spec: JobSpec, on_progress: Callable[[Progress], None], stop_event: threading.Event) -> Outcome:
        """Run ``spec`` on the cluster and wait for it; as :meth:`cfcore.trainer.local.LocalTrainer.run`."""
        try:
            ray = self._connect()
            actor = self._actor.remote()
            self.processes_started += 1
            done = actor.run.remote(replace(spec, dataset_file=""), self._dataset_ref(ray, spec))
        except Exception as err:
            return Outcome(FAILED, error=DIED_MESSAGE.format(why=f"the Ray cluster could not start it: {err}"))
        stop_sent = False
        try:
            while True:
                ready, _ = ray.wait([done], timeout=_POLL_S)
                if stop_event.is_set() and not stop_sent:
                    actor.stop.remote()
                    stop_sent = True
                for message in ray.get(actor.drain.remote()):
                    on_progress(progress_from_message(message))
                if ready:
                    outcome, archive = ray.get(done)
                    break
        except Exception as err:  # a lost actor or node: RayActorError, WorkerCrashedError, ...
            return Outcome(FAILED, error=DIED_MESSAGE.format(why=f"{type(err).__name__} on the Ray cluster"))
        finally:
            ray.kill(actor, no_restart=True)
        if archive is not None:
            from cfcore.runs.zip import RunZipError, load_run_from_zip

            try:
                load_run_from_zip(archive, Path(spec.out_dir))
            except RunZipError as err:
                return Outcome(FAILED, error=f"the run came back from the cluster damaged: {err}")
            outcome = replace(outcome, folder=spec.out_dir)
        return outcome
