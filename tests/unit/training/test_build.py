"""Building a model by name, and loading a saved one in a process that imported nothing else."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import REPO


@pytest.mark.slow
def test_a_saved_factor_model_loads_with_nothing_but_load_model(factor_run_dirs):
    # A fresh interpreter that imports only cfcore.training.build: every class a run's model may be is known.
    script = ("import sys\nsys.path.insert(0, sys.argv[1])\nfrom cfcore.training.build import load_model\n"
              "for folder in sys.argv[2:]:\n    print(type(load_model(folder + '/model.keras')).__name__)\n")
    folders = [str(factor_run_dirs[method]) for method in ("svd", "autorec", "implicit")]
    done = subprocess.run([sys.executable, "-c", script, str(REPO), *folders], capture_output=True, text=True,
                          timeout=300, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["FactorModel"] * 3
