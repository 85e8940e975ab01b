"""A class pressing Train at once: identical requests share one training, each gets its own copy of the run,
a just-finished identical run is reused, Stop detaches one learner, and the engine is really deterministic."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cfcore.config import PRESETS, TrainConfig
from cfcore.trainer.jobs import TrainingManager, backend_train_fn
from tests.support.trainers import FakeTrainer
from tests.support.waiting import wait_for


class CountingTrainer(FakeTrainer):
    """test_jobs's fake backend, counting the trainings it ran."""

    @property
    def calls(self) -> int:
        return len(self.started)


CONFIG = TrainConfig(embedding_dim=4, epochs=3, batch_size=64)


def test_identical_requests_share_one_training_and_different_ones_do_not(synthetic_dataset):
    trainer = CountingTrainer()
    manager = TrainingManager(max_concurrent=4, train_fn=trainer, join=True)
    first = manager.submit(synthetic_dataset, CONFIG, owner="a")
    assert wait_for(lambda: first.history)
    late = manager.submit(synthetic_dataset, CONFIG, owner="b")  # joins: the curve so far at once
    assert late.joined and late.history == first.history and late.state == "running"
    other_seed = manager.submit(synthetic_dataset, replace(CONFIG, seed=7), owner="c")
    assert not other_seed.joined
    assert wait_for(lambda: trainer.calls == 2)
    trainer.release.set()
    for job in (first, late, other_seed):
        assert manager.wait(job, timeout=10) and job.state == "done"
    assert trainer.calls == 2  # three requests, two trainings


def test_stop_detaches_one_learner_and_stops_the_training_only_for_the_last(synthetic_dataset):
    trainer = CountingTrainer()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer, join=True)
    a = manager.submit(synthetic_dataset, CONFIG, owner="a")
    b = manager.submit(synthetic_dataset, CONFIG, owner="b")
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
        first = manager.submit(synthetic_dataset, CONFIG, owner="a", out_dir=tmp_path / "a" / "run")
        second = manager.submit(synthetic_dataset, CONFIG, owner="b", out_dir=tmp_path / "b" / "run")
        assert manager.wait(first, timeout=180) and manager.wait(second, timeout=30)
        assert second.joined and first.state == second.state == "done"
        assert first.run.path == tmp_path / "a" / "run" and second.run.path == tmp_path / "b" / "run"
        assert all((tmp_path / owner / "run" / "model.keras").is_file() for owner in "ab")
        assert backend.processes_started == 1
        reused = manager.submit(synthetic_dataset, CONFIG, owner="c", out_dir=tmp_path / "c" / "run")
        assert reused.finished and reused.reused and reused.state == "done"  # at once, no training
        copied, original = (tmp_path / owner / "run" / "history.csv" for owner in "ca")
        assert copied.read_text() == original.read_text()
        fresh = manager.submit(synthetic_dataset, CONFIG, owner="d", out_dir=tmp_path / "d" / "run", reuse=False)
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


@pytest.mark.parametrize("preset", ["fast", "article"])
def test_the_compiled_loop_is_deterministic(preset, synthetic_dataset):
    """Two trainings of one identity give identical histories and weights: what joining assumes."""
    from cfcore.data.split import split_dataset
    from cfcore.training.fit import train
    from cfcore.training.models import embeddings_of

    config = replace(PRESETS[preset], epochs=2)
    split = split_dataset(synthetic_dataset, 0.2, 42)
    one, two = (train(synthetic_dataset, config, split=split) for _ in range(2))
    assert [r["val_rmse"] for r in one.result.history] == [r["val_rmse"] for r in two.result.history]
    for key in ("user", "movie", "user_bias", "movie_bias"):
        np.testing.assert_array_equal(getattr(embeddings_of(one.model), key), getattr(embeddings_of(two.model), key))


def test_joining_is_off_unless_asked(synthetic_dataset):
    trainer = CountingTrainer()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer)
    a = manager.submit(synthetic_dataset, CONFIG, owner="a")
    b = manager.submit(synthetic_dataset, CONFIG, owner="b")
    assert not b.joined and wait_for(lambda: trainer.calls == 2)
    trainer.release.set()
    assert manager.wait(a, timeout=10) and manager.wait(b, timeout=10)
