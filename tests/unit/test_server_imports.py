"""The web server never imports TensorFlow or Keras: every page, with and without runs, before and after a
training (which runs in the trainer process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.paths import REPO

SCRIPT = r'''
import sys, time
from streamlit.testing.v1 import AppTest
from streamlit.runtime.pages_manager import PagesManager

PAGES = ["pages/data.py", "pages/train.py", "pages/embeddings.py", "pages/recommend.py",
         "pages/under_the_hood.py", "pages/compare.py", "pages/beyond.py"]
HEAVY = ("tensorflow", "keras")

def heavy():
    return sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)

def visit(ws=None):
    at = AppTest.from_file(sys.argv[2] + "/app.py", default_timeout=120)
    if ws:
        at.query_params["ws"] = ws
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    return at

if __name__ == "__main__":
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
    print("no TensorFlow, no Keras")
'''


@pytest.mark.slow
def test_no_page_imports_tensorflow_or_keras(tiny_run_dir, synthetic_folder, tmp_path):
    env = {**os.environ, "CFCORE_DATA": str(synthetic_folder), "CFCORE_CACHE": str(tmp_path / "cache"),
           "CFCORE_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO)}
    script = tmp_path / "server_imports.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tiny_run_dir), str(REPO)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no TensorFlow, no Keras" in done.stdout
