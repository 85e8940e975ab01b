"""Journey 3: a malformed upload gives a readable error, never a traceback, and the app keeps working."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import (
    MOVIES,
    UPLOAD_LABEL,
    assert_no_traceback,
    go_to,
    metric_value,
    open_page,
    screenshot,
    upload,
    wait_for_app,
)

pytestmark = pytest.mark.e2e

BAD_RATINGS = "userId,movieId,rating\n1,1,4.0\n2,abc,3.5\n3,2,5\n"


def test_malformed_ratings_upload_shows_a_readable_error(page, app_url, tmp_path):
    open_page(page, app_url)
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    builtin_users = metric_value(page, "Users")

    page.get_by_test_id("stRadio").get_by_text(UPLOAD_LABEL).click()
    wait_for_app(page)
    ratings, movies = tmp_path / "ratings.csv", tmp_path / "movies.csv"
    ratings.write_text(BAD_RATINGS)
    movies.write_text(MOVIES)
    upload(page, "ratings.csv (", ratings)
    upload(page, "movies.csv (", movies)

    error = page.get_by_test_id("stAlert").filter(has_text="That upload cannot be used")
    expect(error).to_be_visible()
    # The message names the file, the column, the line and the bad value.
    expect(error).to_contain_text("ratings.csv")
    expect(error).to_contain_text("'movieId' line 3")
    expect(error).to_contain_text("'abc' is not a valid id")
    assert_no_traceback(page)
    # The failed upload did not replace the dataset the session already had.
    assert metric_value(page, "Users") == builtin_users
    screenshot(page, "journey3-bad-upload-error")

    # The app keeps working: another page renders, and so does Data again.
    go_to(page, "Train")
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "journey3-after-error-train-page")
    go_to(page, "Data")
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    assert metric_value(page, "Users") == builtin_users
    assert_no_traceback(page)
