"""The "Beyond the article" page in Chromium: a learner trains, computes the implicit task's and
AutoRec's factors, reads the comparisons, and measures what one-hot vectors cost."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import assert_no_traceback, go_to, open_page, page_text, screenshot, train_fast, wait_for_app

pytestmark = pytest.mark.e2e


def _compute(page, method_label: str, name: str) -> None:
    page.get_by_test_id("stRadio").get_by_text(method_label, exact=True).click()
    wait_for_app(page)
    page.get_by_test_id("stButton").filter(has_text=f"Compute {method_label}").get_by_role("button").click()
    expect(page.get_by_test_id("stAlertContentSuccess").filter(has_text=f"{name} is saved in this workspace")
           ).to_be_visible(timeout=180_000)
    wait_for_app(page)


def test_a_learner_answers_the_articles_questions(page, app_url):
    open_page(page, app_url)
    train_fast(page)
    go_to(page, "Beyond the article")
    text = page_text(page)
    # (The table's cells are drawn on a canvas; its numbers are checked by the AppTest.)
    assert "On the split of the active model, Dot + biases #1" in text
    assert "better than the one-hot linear model" in text

    _compute(page, "Implicit", "Implicit #1")
    _compute(page, "AutoRec", "AutoRec #1")
    text = page_text(page)
    assert text.count("Linear CKA") >= 3, text[:3000]  # both questions and the free pair
    assert "times what chance would give" in text
    maps = page.locator(".js-plotly-plot").filter(has_text="turned onto it")
    expect(maps.first).to_be_visible()
    assert maps.count() == 3
    # Every shared movie above the filter is drawn on both sides.
    points = maps.first.evaluate("el => el.querySelectorAll('.scatterlayer .point').length")
    assert points > 2000, points  # 2 x the ~1,235 movies with more than 20 ratings
    maps.first.scroll_into_view_if_needed()
    screenshot(page, "beyond-02-task-maps")
    maps.nth(1).scroll_into_view_if_needed()
    screenshot(page, "beyond-03-autorec-maps")

    page.get_by_test_id("stButton").filter(has_text="Measure it").get_by_role("button").click()
    expect(page.get_by_text("the very same predictions", exact=False)).to_be_visible(timeout=180_000)
    assert_no_traceback(page)
    screenshot(page, "beyond-01-onehot-cost")

    # The implicit run as the active model: Embeddings explores it, Recommend explains why it cannot.
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.get_by_role("combobox").click()
    page.get_by_role("option").filter(has_text="Implicit #1").click()
    wait_for_app(page)
    go_to(page, "Recommend")
    expect(page.get_by_text("was trained on whether a movie was rated at all", exact=False)).to_be_visible()
    go_to(page, "Embeddings")
    assert_no_traceback(page)
    screenshot(page, "beyond-04-implicit-embeddings")
