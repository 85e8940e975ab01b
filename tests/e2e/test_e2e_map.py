"""The movie map in Chromium: a t-SNE map of every movie above the filter, and what the learner can
take away from it: the coordinates as CSV and any chart as a 1920x1080 PNG or an SVG (Plotly's own export)."""

from __future__ import annotations

import csv
import io
import struct

import pytest
from playwright.sync_api import expect

from tests.support.browser import assert_no_traceback, go_to, open_page, screenshot, train_fast, wait_for_app

pytestmark = pytest.mark.e2e


def _camera(page, chart):
    """Click the chart's camera button; return the download."""
    chart.hover()
    with page.expect_download() as download:
        chart.locator(".modebar-btn[data-title^='Download plot']").click()
    return download.value


def test_a_learner_draws_a_tsne_map_and_takes_it_away(page, app_url):
    open_page(page, app_url)
    train_fast(page)

    go_to(page, "Embeddings")
    page.get_by_test_id("stRadio").get_by_text("t-SNE", exact=True).click()
    tsne = page.locator(".js-plotly-plot").filter(has_text="t-SNE 1 (no unit)")
    expect(tsne).to_be_visible(timeout=120_000)
    wait_for_app(page)
    assert "proj=tsne" in page.url and "perp=30" in page.url
    caption = page.get_by_text("every one with more than 20 ratings")
    expect(caption).to_be_visible()
    drawn = int(caption.inner_text().split(" movies")[0].replace(",", ""))
    assert drawn > 1000  # ml-latest-small has 1,235 movies with more than 20 ratings at this split's counts
    points = tsne.evaluate("el => el.querySelectorAll('.scatterlayer .point').length")  # drawn, not sampled
    assert points == drawn, (points, drawn)
    assert_no_traceback(page)
    screenshot(page, "map-01-tsne")

    image = _camera(page, tsne)
    head = image.path().read_bytes()[:24]
    assert image.suggested_filename.endswith(".png") and head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1920, 1080)

    page.get_by_test_id("stSidebar").get_by_text("SVG", exact=True).click()
    wait_for_app(page)
    svg = _camera(page, page.locator(".js-plotly-plot").filter(has_text="t-SNE 1 (no unit)"))
    assert svg.suggested_filename.endswith(".svg") and b"<svg" in svg.path().read_bytes()[:400]

    page.get_by_text("Export this view").click()
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").filter(has_text="Map coordinates (CSV)").get_by_role("button").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert len(rows) == drawn and {"movieId", "title", "x", "y"} <= set(rows[0])
    assert_no_traceback(page)
