"""Two browser sessions never see each other's data: an upload stays in the session that made it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import (
    MOVIES,
    UPLOAD_LABEL,
    assert_no_traceback,
    metric_value,
    open_page,
    screenshot,
    upload,
    wait_for_app,
)

pytestmark = pytest.mark.e2e

# 3 users, 3 movies, 5 ratings: numbers no built-in dataset has.
SMALL_RATINGS = "userId,movieId,rating\n1,1,4.0\n1,2,3.0\n2,2,5.0\n3,1,2.5\n3,3,4.5\n"


def test_an_upload_is_private_to_its_session(browser, app_url, tmp_path):
    alice = browser.new_context(viewport={"width": 1400, "height": 1000})
    bob = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page_a, page_b = alice.new_page(), bob.new_page()
        for pg in (page_a, page_b):
            pg.set_default_timeout(60_000)

        open_page(page_a, app_url)
        builtin = {label: metric_value(page_a, label) for label in ("Users", "Movies", "Ratings")}
        assert builtin["Users"] == "610" and builtin["Ratings"] == "100,836"

        page_a.get_by_test_id("stRadio").get_by_text(UPLOAD_LABEL).click()
        wait_for_app(page_a)
        ratings, movies = tmp_path / "ratings.csv", tmp_path / "movies.csv"
        ratings.write_text(SMALL_RATINGS)
        movies.write_text(MOVIES)
        upload(page_a, "ratings.csv (", ratings)
        upload(page_a, "movies.csv (", movies)
        expect(page_a.get_by_role("heading", name="Summary: upload", exact=False)).to_be_visible()
        assert [metric_value(page_a, label) for label in ("Users", "Movies", "Ratings")] == ["3", "3", "5"]
        screenshot(page_a, "isolation-session-a-uploaded")

        # Bob's session, opened after Alice's upload, still has the built-in data.
        open_page(page_b, app_url)
        assert {label: metric_value(page_b, label) for label in builtin} == builtin
        assert "upload" not in page_b.get_by_test_id("stSidebar").inner_text().lower()
        assert_no_traceback(page_b)
        screenshot(page_b, "isolation-session-b-builtin")

        # A reload gives Bob a new session on the same server: still not Alice's data.
        page_b.reload(wait_until="domcontentloaded")
        wait_for_app(page_b)
        assert metric_value(page_b, "Users") == "610"
        # And Alice still has hers.
        assert metric_value(page_a, "Users") == "3"
    finally:
        alice.close()
        bob.close()
