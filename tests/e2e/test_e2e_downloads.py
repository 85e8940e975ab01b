"""Downloads clicked one after another all arrive (issue 15.20): a download button that reran the script let
the rerun drop the previous button's file before the browser fetched it (MediaFileStorageError in the log)."""

from __future__ import annotations

import pytest
from e2e_helpers import ARTIFACTS, go_to, open_page, select_option
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
BUTTONS = ("Model (.keras)", "History (CSV)", "Whole run (zip, loads below)")


def test_three_downloads_clicked_in_quick_succession_all_arrive(browser, app_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        open_page(page, app_url)
        go_to(page, "Train")
        select_option(page, "Preset", "fast (seconds)")
        page.get_by_test_id("stButton").filter(has_text="Train").get_by_role("button").click()
        expect(page.get_by_test_id("stMetricLabel").get_by_text("Final val RMSE", exact=True)).to_be_visible(
            timeout=180_000)
        go_to(page, "Compare")
        log = ARTIFACTS / "streamlit-server.log"
        errors_before = log.read_text(errors="replace").count("MediaFileStorageError")
        arrived = []
        page.on("download", lambda download: arrived.append(download))
        for _ in range(3):
            for label in BUTTONS:
                page.get_by_test_id("stDownloadButton").filter(has_text=label).get_by_role("button").click()
                page.wait_for_timeout(60)
        page.wait_for_timeout(3000)
        names = [download.suggested_filename for download in arrived if download.path().stat().st_size > 0]
        assert len(names) == 3 * len(BUTTONS), names
        assert {"model.keras", "history.csv"} <= set(names)
        assert log.read_text(errors="replace").count("MediaFileStorageError") == errors_before
    finally:
        context.close()
