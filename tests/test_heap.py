"""Handing freed memory back to the OS: malloc_trim, the janitor thread, and the server setting it relies on."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from cfcore import heap
from cfcore.config import TrainConfig
from cfcore.trainer.jobs import TrainingManager
from tests.test_jobs import TINY, FakeTrainer, wait_for

REPO = Path(__file__).resolve().parent.parent


_RELEASE_SCRIPT = """
import gc
import numpy as np
from cfcore import heap

def rss():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))

# Many small arrays come from malloc's heap (not separate mmaps), so freeing them alone keeps the RSS.
blocks = [np.ones(2000) for _ in range(40_000)]  # ~640 MB in 16 kB blocks
del blocks
gc.collect()
before = rss()
heap.release_memory()
print(before, rss())
"""


@pytest.mark.skipif(not heap.can_trim(), reason="needs glibc's malloc_trim (Linux)")
def test_release_memory_returns_freed_small_blocks_to_the_os():
    # In a fresh interpreter: in the test process another test's janitor thread may trim the heap first.
    done = subprocess.run([sys.executable, "-c", _RELEASE_SCRIPT], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=True)
    before, after = (int(n) for n in done.stdout.split())
    assert before - after > 200 * 1024 * 1024, (before, after)


def test_janitor_runs_when_poked_and_stops():
    janitor = heap.HeapJanitor(interval=3600, min_gap=0).start()
    try:
        janitor.poke()
        assert wait_for(lambda: janitor.passes >= 1, timeout=10)
    finally:
        janitor.stop()
    assert not janitor._thread.is_alive()


def test_janitor_runs_on_its_interval_without_pokes():
    janitor = heap.HeapJanitor(interval=0.05, min_gap=0).start()
    try:
        assert wait_for(lambda: janitor.passes >= 3, timeout=10)
    finally:
        janitor.stop()


def test_janitor_calls_before_pass_first_and_survives_its_errors():
    calls = []

    def before_pass():
        calls.append(janitor.passes)
        if len(calls) == 1:
            raise RuntimeError("the first one fails")

    janitor = heap.HeapJanitor(interval=0.05, before_pass=before_pass, min_gap=0).start()
    try:
        assert wait_for(lambda: janitor.passes >= 2, timeout=10)
    finally:
        janitor.stop()
    assert calls[:2] == [0, 1]  # called before each pass; a failing call does not stop the janitor


def test_janitor_rejects_a_non_positive_interval():
    with pytest.raises(ValueError, match="interval=0"):
        heap.HeapJanitor(interval=0)


def test_manager_pokes_the_janitor_when_a_job_ends_and_when_a_run_is_released():
    janitor = heap.HeapJanitor(interval=3600, min_gap=0).start()
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=1, train_fn=trainer, janitor=janitor)
    try:
        job = manager.submit(TINY, TrainConfig(epochs=1), owner="a")
        assert wait_for(lambda: trainer.started)
        time.sleep(0.1)
        assert janitor.passes == 0  # nothing has ended yet
        trainer.release.set()
        assert manager.wait(job, timeout=10)
        assert wait_for(lambda: janitor.passes >= 1)
        passes = janitor.passes
        manager.release(job.id, "a")
        assert wait_for(lambda: janitor.passes > passes)
    finally:
        janitor.stop()


def test_janitor_waits_while_busy_but_not_longer_than_max_defer():
    busy = {"now": True}
    janitor = heap.HeapJanitor(interval=0.05, min_gap=0, busy=lambda: busy["now"], max_defer=3600).start()
    try:
        assert wait_for(lambda: janitor.deferred >= 3)
        assert janitor.passes == 0
        busy["now"] = False
        assert wait_for(lambda: janitor.passes >= 1)
    finally:
        janitor.stop()
    always = heap.HeapJanitor(interval=0.05, min_gap=0, busy=lambda: True, max_defer=0.3).start()
    try:
        assert wait_for(lambda: always.passes >= 1)  # continuous load still gets a pass every max_defer
        assert always.deferred >= 1
    finally:
        always.stop()


def test_janitor_makes_one_pass_of_a_burst_of_pokes():
    janitor = heap.HeapJanitor(interval=3600, min_gap=0.5).start()
    try:
        for _ in range(5):
            janitor.poke()
            time.sleep(0.02)
        assert wait_for(lambda: janitor.passes >= 1)
        time.sleep(1.2)
        assert janitor.passes == 1
        janitor.poke()
        assert wait_for(lambda: janitor.passes == 2)
    finally:
        janitor.stop()


def test_manager_does_not_poke_the_janitor_while_other_jobs_train():
    janitor = heap.HeapJanitor(interval=3600, min_gap=0)  # not started: count pokes, run no passes
    pokes = []
    janitor.poke = lambda: pokes.append(manager.busy())
    trainers = {"a": FakeTrainer(), "b": FakeTrainer()}
    manager = TrainingManager(max_concurrent=2, janitor=janitor,
                              train_fn=lambda *a, **k: trainers["a" if k["split"] == "a" else "b"](*a, **k))
    first = manager.submit(TINY, TrainConfig(epochs=1), owner="x", split="a")
    second = manager.submit(TINY, TrainConfig(epochs=1), owner="y", split="b")
    assert wait_for(lambda: trainers["a"].started and trainers["b"].started)
    trainers["a"].release.set()
    assert manager.wait(first, timeout=10)
    manager.release(first.id, "x")
    time.sleep(0.1)
    assert pokes == [] and manager.busy()  # the second job still trains
    trainers["b"].release.set()
    assert manager.wait(second, timeout=10)
    assert wait_for(lambda: pokes == [False])
    manager.release(second.id, "y")
    assert pokes == [False, False]


def test_streamlit_does_not_collect_garbage_after_every_rerun():
    # With TensorFlow loaded a full gc.collect() holds the GIL for ~0.1 s; Streamlit's default of one per
    # script run starved training threads under load (bench/load.py). The janitor collects instead.
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
