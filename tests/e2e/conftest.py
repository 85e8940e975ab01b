"""Browser-test harness: a real ``streamlit run app.py`` server and headless Chromium.

The server runs once per test session on a free loopback port with
``CFCORE_DATA`` pointing at the shared ml-latest-small copy; each test gets a
fresh browser context (its own Streamlit session). Screenshots and the
server log go to ``test-artifacts/`` at the repository root (gitignored).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import ServerError, launch_chromium, start_server, stop_server
from tests.support.browser import APP_TIMEOUT_MS, ARTIFACTS, screenshot

E2E_FOLDER = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser (or real-server) test: ``-m "not e2e"`` leaves them all out."""
    for item in items:
        if E2E_FOLDER in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[tuple[subprocess.Popen, str]]:
    """The running app: (process, base URL)."""
    cache = tmp_path_factory.mktemp("cfcore-cache")
    try:
        process, url = start_server({"CFCORE_CACHE": str(cache)}, ARTIFACTS / "streamlit-server.log")
    except ServerError as err:
        pytest.fail(str(err))
    yield process, url
    stop_server(process)


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server[1]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    """A fresh browser context: its own cookies and its own Streamlit session."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(APP_TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, request):
    """A page in a fresh context; a screenshot is saved when the test fails."""
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        with contextlib.suppress(Exception):
            screenshot(pg, f"FAILED-{request.node.name}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
