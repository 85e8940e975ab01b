"""A lesson survives a reload: the live training comes back after F5, the run is there after it ends, a second
browser with no link sees nothing of it, and the web server never maps TensorFlow's library."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import assert_no_traceback, go_to, open_page, screenshot, wait_for_app

pytestmark = pytest.mark.e2e
TRAIN_TIMEOUT_S = 240


def _tensorflow_libraries(pid: int) -> list[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return sorted({line.split()[-1] for line in maps.splitlines() if "tensorflow" in line.lower()})


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(child) for child in children]
    return found


def test_a_reload_brings_the_live_training_back_and_keeps_the_run(page, browser, app_server):
    process, url = app_server
    open_page(page, url)
    go_to(page, "Train")  # the article's settings (batch 32): a training long enough to reload in the middle
    page.get_by_test_id("stButton").filter(has_text="Train").get_by_role("button").click()
    stop = page.get_by_test_id("stButton").filter(has_text="Stop")
    expect(stop).to_be_visible(timeout=60_000)
    link = page.url
    assert re.search(r"[?&]ws=[A-Za-z0-9_-]{32}", link), link

    # F5 in the middle of the training: the same workspace, and its live panel is back.
    page.reload(wait_until="domcontentloaded")
    # Not wait_for_app: the live panel's script keeps running on the server until the training ends.
    page.locator('[data-test-connection-state="CONNECTED"]').wait_for()
    expect(page.get_by_test_id("stButton").filter(has_text="Stop")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stProgress").filter(has_text=re.compile("epoch|starting|waiting"))).to_be_visible()
    screenshot(page, "workspace-01-reloaded-during-training")

    # Stop it once an epoch is in (the reloaded tab's Stop works like the first one's).
    expect(page.get_by_test_id("stProgress").filter(has_text=re.compile(r"epoch [2-9]"))).to_be_visible(
        timeout=TRAIN_TIMEOUT_S * 1000)
    page.get_by_test_id("stButton").filter(has_text="Stop").get_by_role("button").click()
    final = page.get_by_test_id("stMetricLabel").get_by_text("Final val RMSE", exact=True)
    expect(final).to_be_visible(timeout=30_000)
    assert_no_traceback(page)

    # After the training: the server (not its trainer child) has no TensorFlow mapped.
    assert _tensorflow_libraries(process.pid) == [], "the web server process loaded TensorFlow"
    trainers = [child for child in _children(process.pid) if _tensorflow_libraries(child)]
    assert trainers, "no trainer process holds TensorFlow: where did the training run?"

    # Reload again: the run is still there, and the active model.
    page.reload(wait_until="domcontentloaded")
    wait_for_app(page)
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_role("combobox").first.input_value().strip().startswith("Dot + biases #1 · 0.")
    screenshot(page, "workspace-02-reloaded-after-training")

    # Another browser with no link: a workspace of its own, nothing of this one.
    stranger = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = stranger.new_page()
        other.set_default_timeout(60_000)
        open_page(other, url, "train")
        assert "Dot + biases #1" not in other.get_by_test_id("stSidebar").inner_text()
        expect(other.get_by_test_id("stSidebar").get_by_text("None yet (Train page).")).to_be_visible()
        assert re.search(r"ws=", other.url) and other.url.split("ws=")[1][:32] != link.split("ws=")[1][:32]
    finally:
        stranger.close()
