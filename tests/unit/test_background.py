"""The keyed background runner under the maps and the measurements: reuse by key, a queue or a refusal when
busy, failures, the workspace caps, and how many may be unfinished."""

from __future__ import annotations

import threading

import pytest

from cfcore.background import WAITING, BackgroundJobs, TooManyJobs
from cfcore.trainer.caps import CapError, JobCaps
from tests.support.waiting import wait_for


def _gated():
    """A work function that waits for its gate, and the gate."""
    gate = threading.Event()

    def work(job, data):
        job.stage = "working"
        assert gate.wait(10)
        if data == "boom":
            raise ValueError("it broke")
        return data * 2

    return work, gate


def test_a_key_is_computed_once_and_the_next_waits_in_the_queue():
    work, gate = _gated()
    jobs = BackgroundJobs("map", work, JobCaps(), first_stage="waiting for another map to finish")
    first = jobs.start("a", "ws1", 1)
    assert jobs.known("a") is first
    second = jobs.start("b", "ws2", 2)
    assert wait_for(lambda: first.state == "running")
    assert second.state == "queued" and second.stage == "waiting for another map to finish"
    gate.set()
    assert wait_for(lambda: first.finished and second.finished)
    assert (first.state, first.result, second.result) == ("done", 2, 4)
    assert first.fraction == 1.0 and first.seconds >= 0


def test_refusing_when_busy_keeps_nothing_and_a_failure_is_retried():
    work, gate = _gated()
    jobs = BackgroundJobs("measurement", work, JobCaps(), when_busy="refuse", retry_failed=True)
    running = jobs.start("a", "ws1", "boom")
    refused = jobs.start("b", "ws1", 1, busy_stage="waiting for another measurement")
    assert refused.state == WAITING and refused.stage == "waiting for another measurement"
    assert jobs.get("b") is None
    gate.set()
    assert wait_for(lambda: running.finished)
    assert running.state == "failed" and running.error == "it broke"
    assert jobs.known("a") is None  # a failed one is asked for again


def test_the_workspace_cap_counts_these_jobs_and_so_does_the_limit_on_unfinished_ones():
    work, gate = _gated()
    caps = JobCaps(max_per_owner=1)
    jobs = BackgroundJobs("map", work, caps)
    jobs.start("a", "ws1", 1)
    with pytest.raises(CapError):
        jobs.start("b", "ws1", 2)
    with pytest.raises(TooManyJobs) as busy:
        jobs.start("c", "ws2", 3, max_unfinished=1)
    assert busy.value.unfinished == 1
    gate.set()
    assert wait_for(lambda: jobs.unfinished() == 0)
    assert jobs.start("b", "ws1", 2).key == "b"


def test_a_finished_job_can_be_forgotten_and_only_the_last_ones_are_kept():
    jobs = BackgroundJobs("map", lambda job, data: data, JobCaps(), keep=2)
    for key in "abc":
        job = jobs.start(key, "ws", 0)
        assert wait_for(lambda job=job: job.finished)
    assert jobs.get("a") is None and jobs.get("b") is not None
    jobs.forget("b")
    assert jobs.get("b") is None
