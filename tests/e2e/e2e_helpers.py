"""Helpers for the browser tests: waiting for Streamlit, navigation, reading the page, screenshots."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
# Streamlit reruns a script in well under a second here, but the first Data page load parses 100k ratings.
APP_TIMEOUT_MS = 60_000
SKELETON_WAIT_MS = 10_000


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_app(page, timeout: int = APP_TIMEOUT_MS) -> None:
    """Wait until the page is connected and its script has finished (reruns included)."""
    app = page.locator('[data-testid="stApp"]')
    app.and_(page.locator('[data-test-connection-state="CONNECTED"]')).wait_for(timeout=timeout)
    # A script may call st.rerun(): require the idle state twice, a moment apart.
    for _ in range(2):
        page.wait_for_function(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                return app && app.getAttribute('data-test-script-state') === 'notRunning';
            }""",
            timeout=timeout,
        )
        page.wait_for_timeout(400)
    # Some widgets (selectboxes) mount lazily behind grey placeholders for a second or two after the
    # script ends; screenshots and clicks want the real widget. Not fatal if a placeholder stays.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0", timeout=SKELETON_WAIT_MS
        )


def open_page(page, base_url: str, path: str = "") -> None:
    """Go to ``base_url/path`` and wait for the app to settle."""
    page.goto(f"{base_url}/{path}", wait_until="domcontentloaded")
    wait_for_app(page)


def go_to(page, title: str) -> None:
    """Follow the sidebar link called ``title`` and wait for the new page."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    wait_for_app(page)


def page_text(page) -> str:
    return page.locator('[data-testid="stApp"]').inner_text()


def assert_no_traceback(page) -> None:
    text = page_text(page)
    assert "Traceback" not in text, text[:2000]
    assert page.get_by_test_id("stException").count() == 0, "the page shows an exception"


def metric_value(page, label: str) -> str:
    """The displayed value of the ``st.metric`` whose label is exactly ``label``."""
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return metric.first.get_by_test_id("stMetricValue").inner_text().strip()
