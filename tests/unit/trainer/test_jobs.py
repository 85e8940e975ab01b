"""cfcore.trainer.jobs, the background training manager: cap and queue, stop, failures, owners, and a class pressing
Train at once (identical requests share one training, each gets its own copy of the run, a just-finished identical
run is reused, Stop detaches one learner)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from cfcore.config import ConfigError, TrainConfig
from cfcore.trainer.backend import backend_train_fn
from cfcore.trainer.jobs import AlreadyTrained, JobError
from cfcore.trainer.manager import TrainingManager
from tests.support.trainers import FakeTrainer
from tests.support.waiting import wait_for

CONFIG = TrainConfig(epochs=3)
TINY = SimpleNamespace(n_users=5, n_movies=5)  # the sizes submit checks; FakeTrainer never reads the data


def test_cap_queues_the_third_job_at_position_one():
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer)
    jobs = [manager.submit(TINY, CONFIG, owner=owner) for owner in "abc"]
    assert [job.state for job in jobs] == ["running", "running", "queued"]
    assert [job.queue_position() for job in jobs] == [0, 0, 1]
    assert manager.counts() == {"running": 2, "queued": 1}
    assert wait_for(lambda: len(trainer.started) == 2)
    time.sleep(0.1)
    assert len(trainer.started) == 2, "the cap of 2 was exceeded"
    jobs[0].stop()
    assert manager.wait(jobs[0], timeout=5)
    assert jobs[0].state == "stopped"
    assert wait_for(lambda: jobs[2].state == "running"), "the queued job did not start when a slot freed"
    assert jobs[2].queue_position() == 0
    trainer.release.set()
    for job in jobs[1:]:
        assert manager.wait(job, timeout=5)
        assert job.state == "done"
        assert job.run is not None and job.history == [{"epoch": 1, "train_rmse": 1.0, "val_rmse": 1.1}]


def test_a_waiting_page_wakes_when_the_job_changes_not_before():
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=1, train_fn=trainer)
    job = manager.submit(TINY, CONFIG, owner="a")
    assert wait_for(lambda: len(job.history) == 1)
    assert manager.wait_for_change([job], 0.2) is False, "woke with nothing new"
    threading.Timer(0.3, trainer.release.set).start()
    started = time.monotonic()
    assert manager.wait_for_change([job], 10) is True
    assert job.finished, "woke before the job was marked finished"
    assert time.monotonic() - started < 5, "the finish did not wake the wait: it ran into its timeout"


def test_queue_length_is_capped_with_a_clear_message():
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=1, max_queue=1, train_fn=trainer)
    manager.submit(TINY, CONFIG, owner="a")
    manager.submit(TINY, CONFIG, owner="b")
    with pytest.raises(JobError, match="queue is full"):
        manager.submit(TINY, CONFIG, owner="c")
    assert manager.jobs("c") == []
    trainer.release.set()


def test_stopping_a_queued_job_means_it_never_starts():
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=1, train_fn=trainer)
    first = manager.submit(TINY, CONFIG, owner="a")
    second = manager.submit(TINY, TrainConfig(model="simple_dot"), owner="a")
    second.stop()
    assert second.state == "stopped" and second.queue_position() == 0 and second.run is None
    trainer.release.set()
    assert manager.wait(first, timeout=5)
    time.sleep(0.1)
    assert trainer.started == ["dot_with_bias"]


def test_failure_is_captured_as_text_and_frees_the_slot():
    manager = TrainingManager(max_concurrent=1, train_fn=FakeTrainer(fail=ValueError("boom: bad things")))
    job = manager.submit(TINY, CONFIG, owner="a")
    assert manager.wait(job, timeout=5)
    assert job.state == "failed"
    assert job.error == "ValueError: boom: bad things"
    assert job.run is None
    again = manager.submit(TINY, CONFIG, owner="a")
    assert manager.wait(again, timeout=5) and again.state == "failed"


def test_owners_only_see_their_own_jobs():
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer)
    mine = manager.submit(TINY, CONFIG, owner="tab-1")
    theirs = manager.submit(TINY, CONFIG, owner="tab-2")
    assert manager.get(mine.id, "tab-1") is mine
    assert manager.get(mine.id, "tab-2") is None
    assert manager.jobs("tab-1") == [mine] and manager.jobs("tab-2") == [theirs]
    trainer.release.set()
    assert manager.wait(mine, timeout=5)
    manager.release(mine.id, "tab-2")  # not the owner: no effect
    assert manager.get(mine.id, "tab-1") is mine
    manager.release(mine.id, "tab-1")
    assert manager.get(mine.id, "tab-1") is None


def test_bad_config_is_rejected_at_submit():
    manager = TrainingManager(train_fn=FakeTrainer())
    with pytest.raises(ConfigError, match="epochs"):
        manager.submit(TINY, TrainConfig(epochs=0), owner="a")
    assert manager.jobs("a") == []


def test_max_concurrent_must_be_positive():
    with pytest.raises(ValueError, match="max_concurrent"):
        TrainingManager(max_concurrent=0, train_fn=FakeTrainer())


def test_one_owner_gets_one_running_and_one_waiting_training():
    """A closed tab's two long trainings held both slots; eight tabs filled the queue."""
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer)
    first = manager.submit(TINY, CONFIG, owner="tab")
    second = manager.submit(TINY, CONFIG, owner="tab")
    assert (first.state, second.state) == ("running", "queued"), "one owner may not hold both slots"
    with pytest.raises(JobError, match="already have a training running and one waiting"):
        manager.submit(TINY, CONFIG, owner="tab")
    other = manager.submit(TINY, CONFIG, owner="someone else")
    assert other.state == "running", "another visitor takes the free slot ahead of the owner's second job"
    first.stop()
    assert manager.wait(first, timeout=5) and wait_for(lambda: second.state == "running")
    trainer.release.set()
    assert manager.wait(second, timeout=5) and manager.wait(other, timeout=5)


def test_the_time_limit_stops_a_training_and_keeps_its_run():
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=1, train_fn=trainer, max_seconds=0.3)
    job = manager.submit(TINY, CONFIG, owner="a")
    assert manager.wait(job, timeout=5), "the time limit did not stop the training"
    assert job.state == "stopped" and job.time_limited and job.run is not None
    quick = manager.submit(TINY, CONFIG, owner="a")
    trainer.release.set()
    assert manager.wait(quick, timeout=5) and quick.state == "done" and not quick.time_limited


def test_a_model_too_large_for_the_server_is_refused_at_submit():
    manager = TrainingManager(train_fn=FakeTrainer())
    huge = SimpleNamespace(n_users=1_000_000, n_movies=200_000)
    with pytest.raises(ConfigError, match="over the limit of 20,000,000; choose a smaller embedding size"):
        manager.submit(huge, TrainConfig(embedding_dim=256), owner="a")
    assert manager.jobs("a") == []


class CountingTrainer(FakeTrainer):
    """The fake backend (``tests.support.trainers.FakeTrainer``), counting the trainings it ran."""

    @property
    def calls(self) -> int:
        return len(self.started)


JOIN_CONFIG = TrainConfig(embedding_dim=4, epochs=3, batch_size=64)


def test_identical_requests_share_one_training_and_different_ones_do_not(synthetic_dataset):
    trainer = CountingTrainer()
    manager = TrainingManager(max_concurrent=4, train_fn=trainer, join=True)
    first = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="a")
    assert wait_for(lambda: first.history)
    late = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="b")  # joins: the curve so far at once
    assert late.joined and late.history == first.history and late.state == "running"
    other_seed = manager.submit(synthetic_dataset, replace(JOIN_CONFIG, seed=7), owner="c")
    assert not other_seed.joined
    assert wait_for(lambda: trainer.calls == 2)
    trainer.release.set()
    for job in (first, late, other_seed):
        assert manager.wait(job, timeout=10) and job.state == "done"
    assert trainer.calls == 2  # three requests, two trainings


def test_asking_again_for_what_just_finished_for_you_names_your_run_instead_of_copying_it(synthetic_dataset):
    trainer = CountingTrainer()
    trainer.release.set()
    manager = TrainingManager(train_fn=trainer, join=True)
    first = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="a", name="dot_with_bias #1")
    assert manager.wait(first, timeout=10) and first.state == "done"
    with pytest.raises(AlreadyTrained) as again:
        manager.submit(synthetic_dataset, JOIN_CONFIG, owner="a", name="dot_with_bias #2")
    assert again.value.name == "dot_with_bias #1" and "dot_with_bias #1" in str(again.value)
    other = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="b", name="dot_with_bias #1")
    assert other.reused  # someone else still gets it at once
    with pytest.raises(AlreadyTrained):
        manager.submit(synthetic_dataset, JOIN_CONFIG, owner="b", name="dot_with_bias #2")
    fresh = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="a", name="dot_with_bias #2", reuse=False)
    assert manager.wait(fresh, timeout=10) and not fresh.reused and trainer.calls == 2


def test_stop_detaches_one_learner_and_stops_the_training_only_for_the_last(synthetic_dataset):
    trainer = CountingTrainer()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer, join=True)
    a = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="a")
    b = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="b")
    assert wait_for(lambda: a.history and b.history)
    a.stop()
    assert a.finished and a.detached and a.run is None
    assert b.state == "running"  # the training goes on for b
    b.stop()
    assert manager.wait(b, timeout=10) and b.state == "stopped" and not b.detached and b.run is not None


@pytest.mark.slow
def test_a_just_finished_identical_run_is_reused_and_each_owner_gets_a_copy(synthetic_dataset, tmp_path):
    from cfcore.trainer.local import LocalTrainer

    backend = LocalTrainer(idle_seconds=600)
    manager = TrainingManager(train_fn=backend_train_fn(backend, tmp_path / "datasets"), join=True)
    try:
        first = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="a", out_dir=tmp_path / "a" / "run")
        second = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="b", out_dir=tmp_path / "b" / "run")
        assert manager.wait(first, timeout=180) and manager.wait(second, timeout=30)
        assert second.joined and first.state == second.state == "done"
        assert first.run.path == tmp_path / "a" / "run" and second.run.path == tmp_path / "b" / "run"
        assert all((tmp_path / owner / "run" / "model.keras").is_file() for owner in "ab")
        assert backend.processes_started == 1
        reused = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="c", out_dir=tmp_path / "c" / "run")
        assert reused.finished and reused.reused and reused.state == "done"  # at once, no training
        copied, original = (tmp_path / owner / "run" / "history.csv" for owner in "ca")
        assert copied.read_text() == original.read_text()
        fresh = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="d", out_dir=tmp_path / "d" / "run", reuse=False)
        assert not fresh.reused and manager.wait(fresh, timeout=180)
        # Determinism, which joining relies on: a fresh training of the same identity gives the same run.
        def numbers(history):
            return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

        assert numbers(fresh.history) == numbers(first.history)
        np.testing.assert_array_equal(fresh.run.embeddings.movie, first.run.embeddings.movie)
        np.testing.assert_array_equal(fresh.run.embeddings.user_bias, first.run.embeddings.user_bias)
        leftovers = list((tmp_path / "scratch-runs").iterdir()) if (tmp_path / "scratch-runs").exists() else []
        assert len(leftovers) <= 2  # the kept copies for reuse, nothing else
    finally:
        backend.shutdown()


def test_joining_is_off_unless_asked(synthetic_dataset):
    trainer = CountingTrainer()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer)
    a = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="a")
    b = manager.submit(synthetic_dataset, JOIN_CONFIG, owner="b")
    assert not b.joined and wait_for(lambda: trainer.calls == 2)
    trainer.release.set()
    assert manager.wait(a, timeout=10) and manager.wait(b, timeout=10)
