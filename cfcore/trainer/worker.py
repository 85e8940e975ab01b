"""The trainer's side: runs :class:`~cfcore.trainer.spec.JobSpec` trainings and saves their run folders.

Imported only in the trainer process (local backend) or on a Ray worker: this is where TensorFlow lives.
:func:`run_job` is the one entry point both backends call; :func:`serve` is the local process's main loop.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up notes out of the server's log

from cfcore.config import TrainConfig  # noqa: E402
from cfcore.data.dataset_file import read_dataset_file  # noqa: E402
from cfcore.data.split import split_from_rows  # noqa: E402
from cfcore.runs.run import Progress  # noqa: E402
from cfcore.trainer.spec import DONE, FAILED, STOPPED, JobSpec, Outcome, progress_to_message  # noqa: E402

_LOG = logging.getLogger(__name__)
# Batch-stage progress is sent at most this often (epoch ends always): the page polls once a second.
PROGRESS_INTERVAL_S = 0.1
_DATASETS_KEPT = 4
_datasets: OrderedDict = OrderedDict()
_datasets_lock = threading.Lock()


def _dataset(spec: JobSpec):
    with _datasets_lock:
        if spec.fingerprint in _datasets:
            _datasets.move_to_end(spec.fingerprint)
            return _datasets[spec.fingerprint]
    dataset = read_dataset_file(spec.dataset_file)
    with _datasets_lock:
        _datasets[spec.fingerprint] = dataset
        while len(_datasets) > _DATASETS_KEPT:
            _datasets.popitem(last=False)
    return dataset


def run_job(spec: JobSpec, send_progress: Callable[[dict], None], stop_event: threading.Event) -> Outcome:
    """Train one job and save its run folder at ``spec.out_dir`` (complete, or not at all).

    Never raises: a failure is an :class:`Outcome` with state "failed" and the reason.
    """
    from cfcore.training.fit import train
    from cfcore.training.save import save_run

    try:
        dataset = _dataset(spec)
        config = TrainConfig.from_dict(spec.config)
        split = split_from_rows(dataset.ratings, spec.val_rows, config.val_fraction, spec.split_seed)
        last = [0.0]

        def listener(progress: Progress) -> None:
            now = time.monotonic()
            if progress.stage == "epoch" or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                send_progress(progress_to_message(progress))

        run = train(dataset, config, split=split, listeners=[listener], stop_event=stop_event)
        run.name = spec.name or config.model
        state = STOPPED if run.result.stopped_by_user else DONE
        if not run.result.history:
            return Outcome(state)
        return Outcome(state, str(_save_atomically(run, Path(spec.out_dir), spec.job_id, save_run)))
    except Exception as err:  # a failed run must never take the trainer down
        _LOG.exception("training job %s failed", spec.job_id)
        return Outcome(FAILED, error=f"{type(err).__name__}: {err}")


def run_job_portable(spec: JobSpec, dataset: bytes, send_progress: Callable[[dict], None],
                     stop_event: threading.Event) -> tuple[Outcome, bytes | None]:
    """:func:`run_job` where the server's disk is out of reach (a Ray worker on another machine): the dataset
    file comes as bytes, and the run folder goes back as a run zip (None when nothing was saved)."""
    import tempfile
    from dataclasses import replace

    from cfcore.runs.zip import export_run_zip

    with tempfile.TemporaryDirectory(prefix="cfcore-ray-job-") as folder:
        data_file = Path(folder) / "dataset.npz"
        data_file.write_bytes(dataset)
        local = replace(spec, dataset_file=str(data_file), out_dir=str(Path(folder) / "run"))
        outcome = run_job(local, send_progress, stop_event)
        if outcome.folder is None:
            return outcome, None
        return replace(outcome, folder=None), export_run_zip(outcome.folder, top="run")


def _save_atomically(run, out_dir: Path, job_id: str, save_run) -> Path:
    # Written under a temporary name, then renamed: a crash mid-save leaves no half run for a loader to trip on.
    temporary = out_dir.with_name(f"{out_dir.name}.tmp-{job_id[:12]}")
    shutil.rmtree(temporary, ignore_errors=True)
    save_run(run, temporary)
    os.replace(temporary, out_dir)
    return out_dir


def warm_up(busy: Callable[[], bool] = lambda: False) -> None:
    """Import TensorFlow and train a tiny model once per model class, so a learner's first training starts at
    once (TensorFlow's one-time set-up, the compiled loop's first tracing). Stops early once ``busy()`` says a
    real job is waiting: it should not wait for the rest."""
    import numpy as np
    import pandas as pd

    from cfcore.config import MODEL_NAMES
    from cfcore.data.dataset import build_dataset
    from cfcore.data.split import split_dataset
    from cfcore.data.validate import validate_movies, validate_ratings
    from cfcore.training.fit import train

    rng = np.random.default_rng(0)
    n = 400
    ratings = pd.DataFrame({"userId": rng.integers(1, 30, n), "movieId": rng.integers(1, 40, n),
                            "rating": rng.integers(1, 11, n) / 2.0}).drop_duplicates(["userId", "movieId"])
    movies = pd.DataFrame({"movieId": np.arange(1, 40), "title": [f"m{i}" for i in range(1, 40)],
                           "genres": "Drama"})
    dataset = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "warm-up")
    split = split_dataset(dataset, 0.2, 0)
    for model in MODEL_NAMES:
        if busy():
            return
        train(dataset, TrainConfig(model=model, embedding_dim=8, epochs=1, batch_size=32), split=split)


def serve(conn) -> None:
    """The local trainer process's main loop: commands in, events out, over one duplex ``multiprocessing`` pipe.

    In: ``("train", spec)``, ``("stop", job_id)``, ``("shutdown",)``. Out: ``("ready",)`` once warm,
    ``("progress", job_id, message)``, ``("outcome", job_id, Outcome)``. The pipe closing (the server went away)
    ends the process too.
    """
    send_lock = threading.Lock()
    stops: dict[str, threading.Event] = {}

    def send(message) -> None:
        with send_lock:
            try:
                conn.send(message)
            except (OSError, EOFError):  # the server is gone; the recv loop ends the process
                pass

    def work(spec: JobSpec, stop: threading.Event) -> None:
        outcome = run_job(spec, lambda message: send(("progress", spec.job_id, message)), stop)
        stops.pop(spec.job_id, None)
        send(("outcome", spec.job_id, outcome))

    try:
        warm_up(busy=conn.poll)
    except Exception:  # a job will report the real problem
        _LOG.exception("warming up the trainer failed")
    send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message[0] == "train":
            spec = message[1]
            stops[spec.job_id] = threading.Event()
            threading.Thread(target=work, args=(spec, stops[spec.job_id]), name=f"cfcore-train-{spec.job_id[:8]}",
                             daemon=True).start()
        elif message[0] == "stop" and message[1] in stops:
            stops[message[1]].set()
        elif message[0] == "shutdown":
            break
    for stop in list(stops.values()):
        stop.set()
    os._exit(0)  # daemon training threads hold TensorFlow; no interpreter teardown to wait for


def main() -> None:
    """``python -m cfcore.trainer.worker ADDRESS``, the authentication key on stdin: connect back, then serve."""
    import sys
    from multiprocessing.connection import Client

    authkey = bytes.fromhex(sys.stdin.readline().strip())
    serve(Client(sys.argv[1], family="AF_UNIX", authkey=authkey))


if __name__ == "__main__":
    main()
