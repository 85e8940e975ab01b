"""The hostile corpus (tests/support/hostile.py) through the app: malformed uploads on the Data page,
damaged run zips on the Compare page and bad URL values on every page, never an exception."""

from __future__ import annotations

import io
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.app import PAGES
from tests.support.hostile import URL_KEYS, URL_VALUES, ZIP_EVERY, csv_pairs, run_folder_mutations
from tests.support.paths import APP


@pytest.fixture(scope="module")
def mutations(tiny_run_dir):
    return run_folder_mutations(tiny_run_dir)


def _app(page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def test_hostile_uploads_through_the_data_page(data_env):
    pairs = csv_pairs()
    at = _app()
    at.radio(key="data_source").set_value("upload").run()
    for number, (label, ratings, movies) in enumerate(pairs):
        at.file_uploader(key="data_upload_ratings").set_value((f"r{number}.csv", ratings, "text/csv"))
        at.file_uploader(key="data_upload_movies").set_value((f"m{number}.csv", movies, "text/csv"))
        at.run()
        assert not at.exception, (label, at.exception)


@pytest.mark.slow
def test_damaged_run_zips_through_the_compare_page(data_env, mutations):
    chosen = mutations[::ZIP_EVERY]
    at = _app("pages/compare.py")
    for number, (label, files) in enumerate(chosen):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in files.items():
                archive.writestr(f"run/{name}", content)
        at.file_uploader(key="cmp_upload").set_value((f"run{number}.zip", buffer.getvalue(), "application/zip"))
        at.run()
        at.button(key="cmp_load_zip").click().run()
        assert not at.exception, (label, at.exception)


@pytest.mark.slow
def test_hostile_url_values_on_every_page(data_env):
    for count, (key, value) in enumerate((key, value) for key in URL_KEYS for value in URL_VALUES):
        page = PAGES[count % len(PAGES)]
        at = _app(page, **{key: value})
        assert not at.exception, (key, value, page, at.exception)
