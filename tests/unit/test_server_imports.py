"""The web server never imports TensorFlow, Keras or h5py: not its modules, not opening and analysing a run (from
its folder or from a zip), not any page with and without runs, before and after a training (which runs in the
trainer process). The one runtime check of it; ruff's banned-api rule checks the server's own imports statically."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.paths import REPO

SCRIPT = r'''
import importlib, pkgutil, sys, time
from streamlit.testing.v1 import AppTest
from streamlit.runtime.pages_manager import PagesManager

PAGES = ["pages/data.py", "pages/train.py", "pages/embeddings.py", "pages/recommend.py",
         "pages/under_the_hood.py", "pages/compare.py", "pages/beyond.py"]
HEAVY = ("tensorflow", "keras", "h5py")
# Everything the server imports: the packages whole, the trainer's server side (the manager and the process
# backend), the top-level modules and the web side. (The one-hot measurement imports Keras in its
# child process only, cfcore.training.onehot_cost.)
PACKAGES = ("cfcore.data", "cfcore.runs", "cfcore.analysis", "cfcore.figures", "cfcore.workspaces", "ui")
MODULES = ("cfcore.trainer.spec", "cfcore.trainer.jobs", "cfcore.trainer.manager", "cfcore.trainer.backend",
           "cfcore.trainer.caps", "cfcore.trainer.local", "cfcore.settings", "cfcore.config", "cfcore.constants",
           "cfcore.share", "cfcore.text", "cfcore.safezip", "cfcore.child", "cfcore.background", "cfcore.cli.main",
           "cfcore.cli.analysis")

def heavy():
    return sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)

def visit(ws=None):
    at = AppTest.from_file(sys.argv[2] + "/app.py", default_timeout=120)
    if ws:
        at.query_params["ws"] = ws
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.metric) >= 4, "the Data page did not render its summary"
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    return at

if __name__ == "__main__":
    imported = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        imported += [importlib.import_module(f"{name}.{info.name}").__name__
                     for info in pkgutil.iter_modules(package.__path__)]
    imported += [importlib.import_module(name).__name__ for name in MODULES]
    assert len(imported) > 60, imported
    assert not heavy(), heavy()[:5]                   # importing the server's modules

    from cfcore import share
    from cfcore.analysis.pca import pc_rankings
    from cfcore.analysis.predict import predict
    from cfcore.runs.run import load_run
    from cfcore.runs.zip import export_run_zip, load_run_from_zip
    run = load_run(sys.argv[1])
    pc_rankings(run, min_ratings=0)
    predict(run, [0, 1], [2, 3])
    share.run_zip_bytes(run); share.model_bytes(run)
    load_run_from_zip(export_run_zip(sys.argv[1]))
    assert not heavy(), heavy()[:5]                   # opening and analysing a run, from its folder and a zip

    original = PagesManager.__init__
    def init(self, *a, **k):
        original(self, *a, **k)
        PagesManager.uses_pages_directory = False
    PagesManager.__init__ = init
    from tests.support.workspaces import seed_workspace
    at = visit()                                    # no runs yet
    assert not heavy(), heavy()[:5]
    at = visit(seed_workspace({"tiny": sys.argv[1]}))  # a trained run in the workspace
    assert not heavy(), heavy()[:5]
    at.switch_page("pages/train.py").run()
    at.selectbox(key="train_preset").set_value("fast").run()
    at.button(key="train_start").click().run()      # a real training, in the trainer process
    from ui.services import training_manager
    for job in training_manager().jobs(at.session_state["ws_id"]):
        assert training_manager().wait(job, timeout=180) and job.state == "done", job.error
    visit(at.session_state["ws_id"])
    assert not heavy(), heavy()[:5]
    print("no TensorFlow, no Keras, no h5py")
'''


@pytest.mark.slow
def test_the_server_imports_no_tensorflow_keras_or_h5py(tiny_run_dir, synthetic_folder, tmp_path):
    env = {**os.environ, "CFCORE_DATA": str(synthetic_folder), "CFCORE_CACHE": str(tmp_path / "cache"),
           "CFCORE_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO)}
    script = tmp_path / "server_imports.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tiny_run_dir), str(REPO)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no TensorFlow, no Keras, no h5py" in done.stdout
