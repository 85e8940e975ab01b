"""The Ray backend on a real local head (``ray start --head``): a training runs as an actor, progress comes back,
Stop works, the run lands in the folder asked for, and the manager's capacity is the cluster's CPUs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from cfcore.config import TrainConfig
from cfcore.trainer.backend import backend_train_fn
from cfcore.trainer.manager import TrainingManager
from tests.support.paths import REPO
from tests.support.waiting import wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A local Ray head with 2 CPUs for this module; stopped afterwards."""
    ray_cli = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = subprocess.run(
        [ray_cli, "start", "--head", "--num-cpus", "2", "--disable-usage-stats", "--include-dashboard=false",
         f"--port={port}", f"--temp-dir={temp}"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert started.returncode == 0, started.stderr[-3000:]
    yield f"127.0.0.1:{port}"
    subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120, env=env)


@pytest.mark.slow
def test_a_training_runs_on_the_cluster_with_progress_and_stop(ray_head, synthetic_dataset, tmp_path):
    from cfcore.trainer.ray import RayTrainer

    backend = RayTrainer(ray_head)
    manager = TrainingManager(max_concurrent=1, capacity=backend.capacity,
                              train_fn=backend_train_fn(backend, tmp_path / "datasets"))
    try:
        assert manager.max_concurrent == 2  # the head's CPUs, not the configured 1
        done = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=2, batch_size=64, patience=0),
                              owner="a", out_dir=tmp_path / "runs" / "first")
        assert manager.wait(done, timeout=300), "the cluster did not finish a 2-epoch run"
        assert done.state == "done", done.error
        assert len(done.history) == 2 and done.run.path == tmp_path / "runs" / "first"
        assert done.run.result.epochs_run == 2 and done.run.dataset.fingerprint == synthetic_dataset.fingerprint

        long = manager.submit(synthetic_dataset, TrainConfig(embedding_dim=4, epochs=100, batch_size=16, patience=0),
                              owner="b", out_dir=tmp_path / "runs" / "long")
        wait_for(lambda: len(long.history) >= 1, timeout=240, interval=0.1)
        assert long.history and long.progress is not None and long.progress.epochs == 100
        asked = time.monotonic()
        long.stop()
        assert manager.wait(long, timeout=30)
        assert long.state == "stopped" and time.monotonic() - asked < 10
        assert long.run is not None and 1 <= long.run.result.epochs_run < 100
    finally:
        backend.shutdown()


@pytest.mark.slow
def test_without_the_variable_nothing_imports_ray():
    code = ("import sys, cfcore.trainer.jobs, cfcore.trainer.local, ui.services; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    env = {k: v for k, v in os.environ.items() if k != "CFCORE_RAY_ADDRESS"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env,
                   cwd=REPO)
