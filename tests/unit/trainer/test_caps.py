"""cfcore.trainer.caps: one cap per workspace over every kind of background job, per client address, and
queues nobody waits for."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from cfcore.analysis.onehot import CostJobs
from cfcore.analysis.projection import ProjectionError, ProjectionJobs
from cfcore.config import TrainConfig
from cfcore.trainer.caps import CapError, JobCaps
from cfcore.trainer.jobs import JobError
from cfcore.trainer.manager import TrainingManager
from tests.support.waiting import wait_for

TINY = SimpleNamespace(n_users=5, n_movies=5)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Releasable:
    """A training that runs until released or stopped."""

    def __init__(self):
        self.release = threading.Event()
        self.started: list[int] = []

    def __call__(self, dataset, config, *, split, listeners, stop_event, **_):
        self.started.append(config.seed)
        while not (self.release.is_set() or stop_event.is_set()):
            time.sleep(0.01)
        return SimpleNamespace(result=SimpleNamespace(history=[], stopped_by_user=stop_event.is_set()))


def _config(seed: int) -> TrainConfig:
    return TrainConfig(epochs=3, seed=seed)


def test_a_workspace_with_nothing_running_still_cannot_queue_more_than_its_cap():
    """The per-workspace cap once counted only a workspace that had a training running: with the server busy,
    one workspace queued four jobs."""
    trainer = Releasable()
    manager = TrainingManager(max_concurrent=1, train_fn=trainer)
    manager.submit(TINY, _config(1), owner="someone else")
    first = manager.submit(TINY, _config(2), owner="a")
    second = manager.submit(TINY, _config(3), owner="a")
    assert first.state == second.state == "queued"
    with pytest.raises(JobError, match="already"):
        manager.submit(TINY, _config(4), owner="a")
    trainer.release.set()


def test_maps_measurements_and_trainings_share_one_cap():
    caps = JobCaps()
    trainer = Releasable()
    manager = TrainingManager(max_concurrent=2, train_fn=trainer, caps=caps)
    maps, measurements = ProjectionJobs(caps=caps), CostJobs(caps=caps)
    manager.submit(TINY, _config(1), owner="a")
    caps.count_with("measurement", lambda: ["a"])  # stands for a measurement of "a" under way
    vectors = np.random.default_rng(0).normal(size=(60, 4))
    with pytest.raises(ProjectionError, match=r"already has 2 jobs under way \(1 measurement, 1 training\)"):
        maps.request(vectors, seed=0, perplexity=5, owner="a")
    with pytest.raises(JobError, match="already has 2 jobs under way"):
        manager.submit(TINY, _config(2), owner="a")
    refused = measurements.request(10, 10, 50, owner="a")
    assert refused.state == "failed" and "already has" in refused.error
    trainer.release.set()


def test_one_client_address_shares_a_cap_across_its_workspaces():
    caps = JobCaps(max_per_client=2)
    trainer = Releasable()
    manager = TrainingManager(max_concurrent=4, train_fn=trainer, caps=caps)
    for owner in ("x", "y", "z"):
        caps.seen(owner, "203.0.113.7")
    caps.seen("w", "198.51.100.1")
    manager.submit(TINY, _config(1), owner="x")
    manager.submit(TINY, _config(2), owner="y")
    with pytest.raises(JobError, match="your network address already has 2 jobs"):
        manager.submit(TINY, _config(3), owner="z")
    manager.submit(TINY, _config(4), owner="w")  # another address is not held back
    trainer.release.set()


def test_a_flood_of_closed_tabs_does_not_keep_an_honest_visitor_waiting():
    """21 workspaces press Train and close their tabs; one running, twenty queued for an hour and more. Once
    they have been gone a few minutes, an honest visitor's training is next, within one training's time."""
    clock = Clock()
    caps = JobCaps(clock=clock)
    trainer = Releasable()
    manager = TrainingManager(max_concurrent=1, max_queue=20, train_fn=trainer, caps=caps)
    flood = []
    for index in range(21):
        caps.seen(f"closed-{index}")
        flood.append(manager.submit(TINY, _config(100 + index), owner=f"closed-{index}"))
    assert manager.counts() == {"running": 1, "queued": 20}
    clock.now += 60  # still there a minute later: the queue holds
    caps.seen("honest")
    with pytest.raises(JobError, match="queue is full"):
        manager.submit(TINY, _config(1), owner="honest")
    clock.now += caps.absent_after_s  # the closed tabs have been gone past the limit
    caps.seen("honest")
    honest = manager.submit(TINY, _config(1), owner="honest")
    assert honest.state == "queued" and honest.queue_position() == 1
    assert all(job.state == "stopped" for job in flood[1:]) and flood[0].state == "running"
    trainer.release.set()  # the running one (its time limit still applies) ends
    assert wait_for(lambda: len(trainer.started) == 2)
    assert trainer.started == [100, 1]  # the honest visitor's came straight after the running one


def test_workspaces_unseen_for_a_day_are_forgotten_once_many_are_known(monkeypatch):
    from cfcore.trainer import caps as caps_module

    monkeypatch.setattr(caps_module, "_PRUNE_ABOVE", 3)
    clock = Clock()
    caps = JobCaps(max_per_client=1, clock=clock)
    caps.count_with("training", lambda: ["b"])  # "b" has a training under way
    for owner in "abc":
        caps.seen(owner, "203.0.113.1")
    with pytest.raises(CapError, match="your network address"):
        caps.check("a", "training")
    clock.now += caps_module._FORGET_AFTER_S + 1
    caps.seen("d")
    caps.seen("e")
    caps.check("a", "training")  # forgotten: its address no longer ties it to "b"
