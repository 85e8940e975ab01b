"""cfcore.trainer.local, the trainer process: real trainings outside the calling process, stop, a killed trainer,
idling out."""

from __future__ import annotations

import os
import signal
import time

import pytest

from cfcore.config import TrainConfig
from cfcore.trainer.backend import backend_train_fn
from cfcore.trainer.local import LocalTrainer
from cfcore.trainer.manager import TrainingManager
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def trainer():
    backend = LocalTrainer(idle_seconds=600)
    backend.warm()
    assert backend.wait_ready(timeout=180), "the trainer did not warm up"
    yield backend
    backend.shutdown()


@pytest.fixture
def manager(trainer, tmp_path):
    return TrainingManager(max_concurrent=1, train_fn=backend_train_fn(trainer, tmp_path / "datasets"))


@pytest.mark.slow
def test_training_runs_in_the_trainer_and_stops_within_a_second(manager, trainer, synthetic_dataset, tmp_path):
    done = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=2, batch_size=64,
                                                         learning_rate=0.01, patience=0), owner="a",
                          out_dir=tmp_path / "runs" / "first")
    long = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=100, batch_size=16,
                                                         learning_rate=0.01, patience=0), owner="b")
    assert manager.wait(done, timeout=120), "a 2-epoch run on 1,000 ratings did not finish"
    assert done.state == "done" and done.run.result.epochs_run == 2 and len(done.history) == 2
    # The run came back as data, saved where asked, atomically (no temporary folder left beside it).
    assert done.run.path == tmp_path / "runs" / "first" and done.run.model is None
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["first"]
    assert done.run.dataset.fingerprint == synthetic_dataset.fingerprint
    assert wait_for(lambda: len(long.history) >= 1, timeout=60)
    assert long.progress is not None and long.progress.epochs == 100 and long.progress.steps_per_epoch > 0
    asked = time.monotonic()
    long.stop()
    assert manager.wait(long, timeout=10)
    assert time.monotonic() - asked < 1.0, "stop took longer than a second"
    assert long.state == "stopped"
    result = long.run.result
    assert result.stopped_by_user and 1 <= result.epochs_run < 100
    assert long.history == result.history


@pytest.mark.slow
def test_a_killed_trainer_is_a_message_and_the_next_training_gets_a_fresh_one(manager, trainer, synthetic_dataset):
    job = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=100, batch_size=16, patience=0),
                         owner="a")
    assert wait_for(lambda: len(job.history) >= 1, timeout=60)
    partial = list(job.history)
    started = trainer.processes_started
    os.kill(trainer.pid, signal.SIGKILL)
    killed = time.monotonic()
    assert manager.wait(job, timeout=5), "the training did not end within 5 s of the trainer's death"
    assert time.monotonic() - killed < 5
    assert job.state == "failed" and "the trainer stopped unexpectedly (killed by signal 9)" in job.error
    assert "try again" in job.error and job.history[: len(partial)] == partial  # the partial curve stays
    again = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=1, batch_size=64), owner="a")
    assert manager.wait(again, timeout=180) and again.state == "done"
    assert trainer.processes_started == started + 1


@pytest.mark.slow
def test_an_idle_trainer_exits_and_comes_back_on_demand(synthetic_dataset, tmp_path):
    backend = LocalTrainer(idle_seconds=1.0)
    manager = TrainingManager(train_fn=backend_train_fn(backend, tmp_path))
    try:
        job = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=1, batch_size=64), owner="a")
        assert manager.wait(job, timeout=180) and job.state == "done"
        pid = backend.pid
        assert pid is not None
        assert wait_for(lambda: backend.pid is None, timeout=20), "the idle trainer did not exit"
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10)
        again = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=1, batch_size=64), owner="a")
        assert manager.wait(again, timeout=180) and again.state == "done" and backend.processes_started == 2
    finally:
        backend.shutdown()


@pytest.mark.slow
def test_a_trainer_that_idled_out_ending_late_does_not_fail_the_next_training(synthetic_dataset, tmp_path,
                                                                              monkeypatch):
    # The stopped process's reader reports its exit some time after the next training has started in a new
    # process (CI saw it 0.4 s in): that report belongs to the old process's jobs only, and it had none.
    late = LocalTrainer._exited
    monkeypatch.setattr(LocalTrainer, "_exited", lambda self, process: (time.sleep(1.5), late(self, process)))
    backend = LocalTrainer(idle_seconds=0.5)
    manager = TrainingManager(train_fn=backend_train_fn(backend, tmp_path))
    config = TrainConfig(embedding_dim=4, epochs=1, batch_size=64)
    try:
        job = manager.submit(synthetic_dataset, config, owner="a")
        assert manager.wait(job, timeout=180) and job.state == "done"
        assert wait_for(lambda: backend.pid is None, timeout=20), "the idle trainer did not stop"
        again = manager.submit(synthetic_dataset, config, owner="a")  # before the old process's exit is reported
        assert manager.wait(again, timeout=180)
        assert again.state == "done", again.error
        assert backend.processes_started == 2
    finally:
        backend.shutdown()


def test_a_failing_training_reports_its_reason(manager, tmp_path, synthetic_dataset):
    from dataclasses import replace

    from cfcore.data.dataset import Dataset

    constant = synthetic_dataset.ratings.assign(rating=3.0)
    flat = replace(synthetic_dataset, ratings=constant, _fingerprint="")
    assert isinstance(flat, Dataset)
    job = manager.submit(flat, TrainConfig(model="dot_with_bias", embedding_dim=4, epochs=1), owner="a")
    assert manager.wait(job, timeout=120)
    assert job.state == "failed" and "every rating in this dataset is 3" in job.error
