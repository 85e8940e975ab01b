"""Journey 3: a malformed upload gives a readable error, never a traceback, and the app keeps working."""

from __future__ import annotations

import pytest
from e2e_helpers import assert_no_traceback, go_to, metric_value, open_page, screenshot, wait_for_app
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

MOVIES = "movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n3,Up (2009),Animation\n"
BAD_RATINGS = "userId,movieId,rating\n1,1,4.0\n2,abc,3.5\n3,2,5\n"
UPLOAD_LABEL = "Upload ratings.csv and movies.csv"


def upload(page, label_start: str, path) -> None:
    """Attach a file to the uploader whose label starts with ``label_start`` and wait for the rerun."""
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=label_start)
    uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(uploader).to_contain_text(path.name)
    wait_for_app(page)


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
