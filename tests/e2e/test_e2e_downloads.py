"""Downloads clicked one after another all arrive: a download button that reran the script let
the rerun drop the previous button's file before the browser fetched it (MediaFileStorageError in the log)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS, go_to, open_page, train_fast, wait_for_app

pytestmark = pytest.mark.e2e
BUTTONS = ("Model (.keras)", "History (CSV)", "Whole run (zip, loads below)")


def test_three_downloads_clicked_in_quick_succession_all_arrive(browser, app_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        open_page(page, app_url)
        train_fast(page)
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

        # Choosing a file in the "From a zip" tab keeps that tab open, with its Load button (it jumped back to
        # the first tab when the page above it changed).
        zipped = next(download for download in arrived if download.suggested_filename.endswith(".zip"))
        target = ARTIFACTS / "downloaded-run.zip"
        zipped.save_as(target)
        zipped.save_as(ARTIFACTS / "run-again.zip")
        page.get_by_role("tab", name="From a zip").click()
        uploader = page.get_by_test_id("stFileUploader").filter(has_text="A run zip")
        uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(target))
        expect(uploader).to_contain_text("downloaded-run.zip")
        wait_for_app(page)
        expect(page.get_by_role("tab", name="From a zip")).to_have_attribute("aria-selected", "true")
        load = page.get_by_test_id("stButton").filter(has_text="Load uploaded run").get_by_role("button")
        expect(load).to_be_visible()
        load.click()
        expect(page.get_by_test_id("stAlert").filter(has_text="already in this workspace")).to_be_visible()
        # Again, now that the notice above the tabs goes away on the next rerun.
        uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(ARTIFACTS / "run-again.zip"))
        wait_for_app(page)
        expect(page.get_by_role("tab", name="From a zip")).to_have_attribute("aria-selected", "true")
        expect(load).to_be_visible()
    finally:
        context.close()
