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
from cfcore.jobs import TrainingManager
from tests.test_jobs import FakeTrainer, wait_for

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
    janitor = heap.HeapJanitor(interval=3600).start()
    try:
        janitor.poke()
        assert wait_for(lambda: janitor.passes >= 1, timeout=10)
    finally:
        janitor.stop()
    assert not janitor._thread.is_alive()


def test_janitor_runs_on_its_interval_without_pokes():
    janitor = heap.HeapJanitor(interval=0.05).start()
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

    janitor = heap.HeapJanitor(interval=0.05, before_pass=before_pass).start()
    try:
        assert wait_for(lambda: janitor.passes >= 2, timeout=10)
    finally:
        janitor.stop()
    assert calls[:2] == [0, 1]  # called before each pass; a failing call does not stop the janitor


def test_janitor_rejects_a_non_positive_interval():
    with pytest.raises(ValueError, match="interval=0"):
        heap.HeapJanitor(interval=0)


def test_manager_pokes_the_janitor_when_a_job_ends_and_when_a_run_is_released():
    janitor = heap.HeapJanitor(interval=3600).start()
    trainer = FakeTrainer()
    manager = TrainingManager(max_concurrent=1, train_fn=trainer, janitor=janitor)
    try:
        job = manager.submit(None, TrainConfig(epochs=1), owner="a")
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


def test_streamlit_does_not_collect_garbage_after_every_rerun():
    # With TensorFlow loaded a full gc.collect() holds the GIL for ~0.1 s; Streamlit's default of one per
    # script run starved training threads under load (bench/load.py). The janitor collects instead.
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
