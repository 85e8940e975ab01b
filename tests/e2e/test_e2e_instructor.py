"""Journey 2, the instructor: a shared link opens the Train page with its settings; a saved run needs no training."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import expect

from bench.harness import shared_data_path
from cfcore import share
from cfcore.config import PRESETS
from cfcore.runs.zip import export_run_zip
from tests.support.browser import (
    REPO,
    assert_no_traceback,
    check_embeddings_page,
    go_to,
    metric_value,
    number_input_value,
    open_page,
    screenshot,
    selectbox_value,
    slider_value,
    wait_for_app,
)

pytestmark = pytest.mark.e2e

# Every value differs from the Train page's defaults (the article preset), so a page that ignores the
# link fails. Keys are TrainConfig field names, as cfcore.share documents and decodes them.
SHARED_SETTINGS = {"model": "simple_dot", "embedding_dim": "32", "epochs": "3", "batch_size": "512",
                   "learning_rate": "0.003", "patience": "0", "seed": "7"}
CLI_TIMEOUT_S = 180


@pytest.fixture(scope="session")
def demo_run_zip(tmp_path_factory):
    """A run trained ahead of class with the CLI (fast preset, 2 epochs), zipped as the app's download is."""
    data = shared_data_path()
    if data is None:
        pytest.fail("the shared ml-latest-small copy was not found; set CFCORE_DATA to its folder")
    out = tmp_path_factory.mktemp("instructor") / "runs" / "demo"
    command = [sys.executable, "-m", "cfcore", "train", "--data", str(data), "--preset", "fast", "--epochs", "2",
               "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, f"cfcore train failed:\n{done.stdout}\n{done.stderr}"
    path = out.parent / "demo.zip"
    path.write_bytes(export_run_zip(out))
    return path


def test_a_shared_link_opens_train_with_its_settings(page, app_url):
    assert set(SHARED_SETTINGS) <= set(share.CONFIG_KEYS)
    assert share.params_to_config_overrides(SHARED_SETTINGS)  # the keys and values decode as documented
    open_page(page, app_url, f"train?{urlencode(SHARED_SETTINGS)}")
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    # A fresh session has no data yet: the instructor's class loads the default first.
    load = page.get_by_test_id("stButton").filter(has_text="Load the default dataset")
    if load.count():
        load.get_by_role("button").click()
        wait_for_app(page)
    expect(page.get_by_test_id("stSlider").filter(has_text="Epochs")).to_be_visible()
    screenshot(page, "journey2-01-shared-link-train")
    assert_no_traceback(page)

    shown = {
        "model": selectbox_value(page, "Model"),
        "embedding_dim": number_input_value(page, "Embedding dimension"),
        "epochs": slider_value(page, "Epochs"),
        "batch_size": slider_value(page, "Batch size"),
        "learning_rate": slider_value(page, "Learning rate (Adam)"),
        "patience": slider_value(page, "Early-stopping patience"),
        "seed": number_input_value(page, "Seed"),
    }
    assert shown == {**SHARED_SETTINGS, "model": "Dot"}, shown
    # The URL keeps mirroring the settings, so the page's own link can be shared on.
    mirrored = parse_qs(urlparse(page.url).query)
    assert {key: mirrored.get(key, [None])[-1] for key in SHARED_SETTINGS} == SHARED_SETTINGS, page.url


def test_a_saved_run_is_explored_without_training(page, app_url, demo_run_zip):
    started = time.monotonic()
    open_page(page, app_url)
    go_to(page, "Compare")
    expect(page.get_by_role("heading", name="Compare", exact=True)).to_be_visible()
    expect(page.get_by_text("No trained runs yet")).to_be_visible()

    page.get_by_role("tab", name="From a zip").click()
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="A run zip")
    uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(demo_run_zip))
    expect(uploader).to_contain_text(demo_run_zip.name)
    wait_for_app(page)
    page.get_by_test_id("stButton").filter(has_text="Load uploaded run").get_by_role("button").click()
    wait_for_app(page)
    loaded = page.get_by_test_id("stAlert").filter(has_text="Loaded Dot + biases #1")
    expect(loaded).to_be_visible()
    loaded.scroll_into_view_if_needed()
    active = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Active model").input_value()
    assert active.startswith("Dot + biases #1 · 0."), active
    assert_no_traceback(page)
    screenshot(page, "journey2-02-run-loaded")

    # The Embeddings page works on the loaded run; nothing was trained in this session.
    check_embeddings_page(page, PRESETS["fast"].embedding_dim)
    assert_no_traceback(page)
    screenshot(page, "journey2-03-embeddings-from-saved-run")

    # The Train page lists the loaded run and has no job running.
    go_to(page, "Train")
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    assert metric_value(page, "Epochs run") == "2 of 2"
    assert_no_traceback(page)
    print(f"\njourney 2b: {time.monotonic() - started:.1f} s after the run zip was ready")
