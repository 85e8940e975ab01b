"""Browser-test harness: a real ``streamlit run app.py`` server and headless Chromium.

The server runs once per test session on a free loopback port with
``CFCORE_DATA`` pointing at the shared ml-latest-small copy; each test gets a
fresh browser context (its own Streamlit session). Screenshots and the
server log go to ``test-artifacts/`` at the repository root (gitignored).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import APP_TIMEOUT_MS, ARTIFACTS, REPO, screenshot

from tests.conftest import shared_data_path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def start_server(env_overrides: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` on a free loopback port; return (process, base URL) once healthy."""
    data = shared_data_path()
    if data is None:
        pytest.fail("the shared ml-latest-small copy was not found; set CFCORE_DATA to its folder")
    port = free_port()
    env = {**os.environ, "CFCORE_DATA": str(data), "TF_CPP_MIN_LOG_LEVEL": "2", **env_overrides}
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        # Other people edit files in this checkout: no file watcher, no reruns on save.
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop_server via the process
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_file = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop_server(process)
            pytest.fail(f"streamlit exited with code {process.returncode}:\n{_log_tail(log_path)}")
        if _healthy(url):
            return process, url
        time.sleep(0.5)
    stop_server(process)
    pytest.fail(f"streamlit was not healthy after {SERVER_START_TIMEOUT_S} s:\n{_log_tail(log_path)}")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate the server's process group (Streamlit may start helpers), then kill if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    log = getattr(process, "log_file", None)
    if log is not None:
        log.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[tuple[subprocess.Popen, str]]:
    """The running app: (process, base URL)."""
    cache = tmp_path_factory.mktemp("cfcore-cache")
    process, url = start_server({"CFCORE_CACHE": str(cache)}, ARTIFACTS / "streamlit-server.log")
    yield process, url
    stop_server(process)


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server[1]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
