"""The load benchmark, small: 4 browser sessions against one server, 2 of them training at once.

The full run (`python bench/load.py --sessions 20 --trainings 5`) is a benchmark, not a test; this
checks the same machinery end to end on every CI run: every training completes, pages render, and
one idle session's server memory stays within the budget.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.e2e


def test_small_load_run_completes_every_training(tmp_path):
    report_path = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--sessions", "4", "--trainings", "2",
         "--preset", "fast", "--epochs", "1", "--rounds", "1", "--browse", "8", "--release-wait", "5",
         "--deadline", "420", "--json", str(report_path)],
        cwd=REPO, capture_output=True, text=True, timeout=480,
    )
    assert report_path.exists(), proc.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert proc.returncode == 0, proc.stderr[-3000:]
    [only_round] = report["rounds"]
    assert only_round["sessions_open"] == 4
    assert only_round["trainings_completed"] == 2
    assert only_round["trainings_failed"] == 0
    switch = report["page_switch"]
    assert not switch["timeouts"]
    # The two sessions that did not train clicked through pages while the others trained.
    assert switch["count"] >= 4
    # TensorFlow is imported lazily: a server with one idle session (no training yet) stays light.
    assert report["rss_one_idle_session_mb"] < 800
    assert report["rss_warm_idle_mb"] > report["rss_one_idle_session_mb"]
