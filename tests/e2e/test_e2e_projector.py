"""On a projector: nothing cut at 1024x768 or at 150% zoom of 1366x768, presenter mode, and the
live panel brought into view when Train is pressed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import APP_TIMEOUT_MS, go_to, open_page, screenshot, select_option, wait_for_app

pytestmark = pytest.mark.e2e

PAGES = ("Data", "Train", "Embeddings", "Recommend", "Under the hood", "Compare")
# Every metric's label and value, and every select box's shown choice, whose text is wider than its box.
CUT_JS = """() => {
  const cut = [];
  for (const el of document.querySelectorAll('[data-testid="stMetric"] *, [data-testid="stSelectbox"] input')) {
    const box = el.getBoundingClientRect();  // a shut sidebar keeps its elements, off screen
    if (!el.checkVisibility({visibilityProperty: true}) || box.right <= 0 || box.width === 0) continue;
    const text = String((el.tagName === 'INPUT' ? el.value : el.children.length === 0 ? el.innerText : '') || '');
    if (text.trim() && el.scrollWidth > el.clientWidth + 1) cut.push(text.trim().slice(0, 60));
  }
  return cut;
}"""
# The numbers a table exists for. Tables draw only the columns in view (Streamlit's grid is virtualised), so a
# column whose header is not drawn with the table scrolled fully left is off to the right.
TABLE_NUMBERS = {"their rating", "predicted", "error", "mean rating", "ratings", "PC1", "PC2", "cosine similarity",
                 "val RMSE", "article", "final", "epochs", "you said", "rating"}
TABLE_JS = """async () => {
  const heads = (df) => Array.from(df.querySelectorAll('[role="columnheader"]')).map(h => h.textContent.trim());
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const out = [];
  for (const df of document.querySelectorAll('[data-testid="stDataFrame"]')) {
    const scroller = df.querySelector('.dvn-scroller');
    if (!scroller || !df.checkVisibility()) continue;
    scroller.scrollLeft = 0; await frame();
    const inView = heads(df), scrolls = scroller.scrollWidth > scroller.clientWidth + 1;
    scroller.scrollLeft = scroller.scrollWidth; await frame();
    const all = Array.from(new Set([...inView, ...heads(df)]));
    scroller.scrollLeft = 0; await frame();
    out.push({inView, all, scrolls});
  }
  return out;
}"""


def hidden_numbers(tables: list[dict]) -> list[str]:
    """The table numbers off screen: not drawn with the table scrolled left, or the last column drawn (cut) of a
    table that scrolls."""
    hidden = []
    for table in tables:
        cut = table["inView"][-1:] if table["scrolls"] else []
        hidden += [h for h in table["all"] if h in TABLE_NUMBERS and (h not in table["inView"] or h in cut)]
    return hidden


SIZES = {"1024x768": ({"width": 1024, "height": 768}, 1, ""),
         "1366x768 at 150%": ({"width": 910, "height": 512}, 1.5, ""),
         "1024x768 presenter": ({"width": 1024, "height": 768}, 1, "&present=1")}


def go_to_page(page, title: str) -> None:
    """The sidebar's link, or in presenter mode (the sidebar shut) the navigation at the top of the page."""
    if page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).is_visible():
        go_to(page, title)
    else:
        page.get_by_role("link", name=title, exact=True).first.click()
        wait_for_app(page)


@pytest.fixture(scope="module")
def trained_link(browser, app_url):
    """A workspace link with a fast bias-model run in it, trained at 1024x768: the panel must come into view."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(APP_TIMEOUT_MS)
    open_page(page, app_url)
    go_to(page, "Train")
    select_option(page, "Model", "Dot + biases")
    select_option(page, "Preset", "fast (seconds)")
    button = page.get_by_test_id("stButton").filter(has_text="Train").get_by_role("button")
    button.scroll_into_view_if_needed()
    panel = page.locator(".st-key-train_panel")
    assert panel.evaluate("el => el.getBoundingClientRect().top") < 0, "the panel was in view before: no test"
    button.click()
    expect(page.get_by_test_id("stProgress").or_(page.get_by_test_id("stMetricLabel").first)).to_be_visible()
    top = panel.evaluate("el => el.getBoundingClientRect().top")
    assert -5 <= top < 768 / 2, f"the live panel is not in view after Train (its top at {top} px)"
    screenshot(page, "projector-01-after-train")
    expect(page.get_by_test_id("stMetricLabel").get_by_text("Final val RMSE", exact=True)).to_be_visible(
        timeout=180_000)
    link = page.url
    context.close()
    return link


@pytest.mark.parametrize("size", list(SIZES))
def test_nothing_is_cut_on_any_page(browser, trained_link, size):
    viewport, scale, extra = SIZES[size]
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    try:
        page = context.new_page()
        page.set_default_timeout(APP_TIMEOUT_MS)
        page.goto(trained_link + extra, wait_until="domcontentloaded")
        wait_for_app(page)
        problems, tables_seen = {}, 0
        for title in PAGES:
            go_to_page(page, title)
            page.wait_for_timeout(300)
            tables = page.evaluate(TABLE_JS)
            tables_seen += len(tables)
            if cut := page.evaluate(CUT_JS) + hidden_numbers(tables):
                problems[title] = cut
            screenshot(page, f"projector-{size.replace(' ', '-')}-{title.replace(' ', '-')}")
        assert tables_seen >= 5, tables_seen  # Data's sample, Train's and Compare's runs, Embeddings', Recommend's
        assert not problems, problems
    finally:
        context.close()


def test_presenter_mode_is_big_and_keeps_the_model_picker_on_the_page(browser, trained_link):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        page.set_default_timeout(APP_TIMEOUT_MS)
        page.goto(trained_link + "&present=1", wait_until="domcontentloaded")
        wait_for_app(page)
        assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "20px"
        sidebar = page.get_by_test_id("stSidebar")
        assert sidebar.get_attribute("aria-expanded") == "false" or not sidebar.is_visible()
        picker = page.get_by_test_id("stMain").get_by_role("combobox", name="Active model")
        expect(picker).to_be_visible()
        assert picker.input_value().startswith("Dot + biases #1 · 0.")
        assert page.get_by_test_id("stMain").get_by_role("heading", name="Train", exact=True).is_visible()
        ticks = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot .xtick text, '
            + '.js-plotly-plot .ytick text')).map(t => parseFloat(getComputedStyle(t).fontSize))""")
        assert ticks and min(ticks) >= 14, ticks
        assert "present=1" in page.url
        screenshot(page, "projector-presenter-train")
    finally:
        context.close()
