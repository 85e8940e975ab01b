"""A server restarted under open tabs: every tab that reconnects, and a new tab on a workspace link, gets the
app's navigation (page titles, the Dataset and Active model sections), never a menu of raw file names."""

from __future__ import annotations

import os
import signal
import tempfile

import pytest

from bench.harness import free_port, start_server, stop_server
from tests.support.browser import APP_TIMEOUT_MS, ARTIFACTS, screenshot, wait_for_app

pytestmark = pytest.mark.e2e

TITLES = ["Data", "Train", "Embeddings", "Recommend", "Under the hood", "Compare", "Beyond the article"]
DEEP_LINKS = ("train", "recommend", "compare")


def _navigation(page) -> list[str]:
    links = page.get_by_test_id("stSidebarNav").get_by_role("link").all()
    return [link.inner_text().split("\n")[-1].strip() for link in links]  # after the icon's name


def _check_routed(page, what: str) -> None:
    wait_for_app(page)
    nav = _navigation(page)
    assert nav == TITLES, f"{what}: the navigation is {nav}"
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    assert "Dataset" in sidebar and "Active model" in sidebar, f"{what}: {sidebar[:200]!r}"


def test_tabs_reconnecting_after_a_restart_keep_the_navigation(browser):
    env = {"CFCORE_STATE_DIR": tempfile.mkdtemp(prefix="cfcore-state-"),
           "CFCORE_CACHE": tempfile.mkdtemp(prefix="cfcore-cache-")}
    port = free_port()
    log = ARTIFACTS / "restart-server.log"
    process, url = start_server(env, log, port=port)
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    context.set_default_timeout(APP_TIMEOUT_MS)
    try:
        tabs = []
        for path in DEEP_LINKS:
            tab = context.new_page()
            tab.goto(f"{url}/{path}", wait_until="domcontentloaded")
            _check_routed(tab, f"/{path} before the restart")
            tabs.append(tab)
        link = tabs[0].url
        assert "ws=" in link

        os.killpg(process.pid, signal.SIGKILL)  # as a crash: no goodbye to the tabs
        process.wait(timeout=10)
        stop_server(process)
        process, _ = start_server(env, ARTIFACTS / "restart-server-2.log", port=port)

        # Tabs arriving together on the new process's first runs (new ones on deep links of the workspace,
        # and the open ones, which reconnect on their own and rerun their pages).
        arriving = []
        for path in DEEP_LINKS:
            tab = context.new_page()
            tab.goto(link.replace("/train?", f"/{path}?"), wait_until="commit")
            arriving.append((tab, f"a new tab on /{path} of the workspace link"))
        arriving += [(tab, f"/{path} reconnected") for tab, path in zip(tabs, DEEP_LINKS, strict=True)]
        for tab, what in arriving:
            tab.get_by_test_id("stApp").and_(tab.locator('[data-test-connection-state="CONNECTED"]')).wait_for(
                timeout=90_000)
            _check_routed(tab, what)
        screenshot(arriving[0][0], "restart-new-tab")
        screenshot(tabs[0], "restart-reconnected-tab")
    finally:
        context.close()
        stop_server(process)
