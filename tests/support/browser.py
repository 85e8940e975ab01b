"""Helpers for the browser tests: waiting for Streamlit, navigation, reading the page, screenshots."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.support.paths import REPO

ARTIFACTS = REPO / "test-artifacts"
# Streamlit reruns a script in well under a second here, but the first Data page load parses 100k ratings.
APP_TIMEOUT_MS = 60_000
SKELETON_WAIT_MS = 10_000


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_app(page, timeout: int = APP_TIMEOUT_MS) -> None:
    """Wait until the page is connected and its script has finished (reruns included). While a training runs,
    its live panel's script runs on the server until the training ends (ui/job_panel.py, ``watch``)."""
    app = page.locator('[data-testid="stApp"]')
    app.and_(page.locator('[data-test-connection-state="CONNECTED"]')).wait_for(timeout=timeout)
    # A script may call st.rerun(): require the idle state twice, a moment apart.
    for _ in range(2):
        page.wait_for_function(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                return app && app.getAttribute('data-test-script-state') === 'notRunning';
            }""",
            timeout=timeout,
        )
        page.wait_for_timeout(400)
    # Some widgets (selectboxes) mount lazily behind grey placeholders for a second or two after the
    # script ends; screenshots and clicks want the real widget. Not fatal if a placeholder stays.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0", timeout=SKELETON_WAIT_MS
        )


def open_page(page, base_url: str, path: str = "") -> None:
    """Go to ``base_url/path`` and wait for the app to settle."""
    page.goto(f"{base_url}/{path}", wait_until="domcontentloaded")
    wait_for_app(page)


def go_to(page, title: str) -> None:
    """Follow the sidebar link called ``title`` and wait for the new page."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    wait_for_app(page)


def page_text(page) -> str:
    return page.locator('[data-testid="stApp"]').inner_text()


def assert_no_traceback(page) -> None:
    text = page_text(page)
    assert "Traceback" not in text, text[:2000]
    assert page.get_by_test_id("stException").count() == 0, "the page shows an exception"


def metric_value(page, label: str) -> str:
    """The displayed value of the ``st.metric`` whose label is exactly ``label``."""
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return metric.first.get_by_test_id("stMetricValue").inner_text().strip()


# -- widgets and charts (journeys 1 and 2) ------------------------------------------

_PLOTLY_FIGURES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const title = el.layout && el.layout.title;
    const size = v => (v == null ? 0 : (typeof v.length === 'number' ? v.length : 0));
    return {
        // Streamlit wraps titles in <b>...</b>: compare the plain text.
        title: ((title && typeof title === 'object' ? title.text : title) || '').replace(/<[^>]*>/g, ''),
        traces: (el.data || []).map((t, i) => {
            const full = (el._fullData || [])[i] || {};
            // Plotly may keep numpy arrays base64-encoded in `data`; `_fullData` has them decoded.
            const pick = key => Math.max(size(t[key]), size(full[key]));
            return {name: t.name || '', type: t.type || full.type || 'scatter',
                    points: t.type === 'heatmap' ? pick('z') : Math.max(pick('x'), pick('y'))};
        }),
    };
})"""


def plotly_figures(page) -> list[dict]:
    """Every plotly chart on the page, read from the live DOM.

    Returns:
        ``[{"title": str, "traces": [{"name", "type", "points"}]}]`` in page order; ``points`` is the
        length of a trace's x (or y) array, or the number of rows of a heatmap's z.
    """
    return page.evaluate(_PLOTLY_FIGURES_JS)


def plotly_figure(page, title_start: str) -> dict:
    """The one plotly chart whose title starts with ``title_start`` (AssertionError if none or several)."""
    found = [fig for fig in plotly_figures(page) if fig["title"].startswith(title_start)]
    titles = [fig["title"] for fig in plotly_figures(page)]
    assert len(found) == 1, f"expected one chart titled {title_start!r}...; the page has {titles}"
    return found[0]


def widget(page, test_id: str, label: str):
    """The widget (``stSelectbox``, ``stSlider``, ``stNumberInput``...) whose label is exactly ``label``."""
    return page.get_by_test_id(test_id).filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True)
    )


def select_option(page, label: str, option: str, search: str | None = None) -> None:
    """Choose ``option`` (its displayed text) in the selectbox labelled ``label``; ``search`` is typed
    first to filter long (virtualised) option lists."""
    widget(page, "stSelectbox", label).get_by_role("combobox").click()
    if search:
        page.keyboard.type(search)
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def selectbox_value(page, label: str) -> str:
    """The text the selectbox labelled ``label`` currently shows."""
    return widget(page, "stSelectbox", label).get_by_role("combobox").input_value().strip()


def slider_value(page, label: str) -> str:
    """The value shown on the thumb of the slider (or select slider) labelled ``label``."""
    return widget(page, "stSlider", label).get_by_test_id("stSliderThumbValue").inner_text().strip()


def nudge_slider(page, label: str, key: str, times: int) -> None:
    """Press ``key`` (``ArrowLeft``/``ArrowRight``) ``times`` on the slider labelled ``label``, as a user would."""
    thumb = widget(page, "stSlider", label).get_by_role("slider")
    thumb.focus()
    for _ in range(times):
        thumb.press(key)
    # Streamlit sends the value when the keys stop; let that rerun happen and finish.
    page.wait_for_timeout(600)
    wait_for_app(page)


def number_input_value(page, label: str) -> str:
    return widget(page, "stNumberInput", label).locator("input").input_value()


def dataframe_rows(frame) -> int:
    """Data rows of an ``st.dataframe`` locator: its accessible grid's ``aria-rowcount``, less the header row."""
    return int(frame.locator('table[role="grid"]').get_attribute("aria-rowcount")) - 1


def check_embeddings_page(page, dim: int):
    """Open the Embeddings page and check what every run shows there: a 20-movie heatmap, a variance
    chart with a bar (and line point) per dimension, and two 10-row tables on the PC1 tab.

    Returns:
        The PC1 tab's table locator.
    """
    from playwright.sync_api import expect

    go_to(page, "Embeddings")
    expect(page.get_by_role("heading", name="Embeddings", exact=True)).to_be_visible()
    heatmap = plotly_figure(page, "First 20 movies")
    assert heatmap["traces"][0]["type"] == "heatmap" and heatmap["traces"][0]["points"] == 20, heatmap
    variance = plotly_figure(page, "Variance explained (uncentered PCA)")
    assert [trace["points"] for trace in variance["traces"]] == [dim, dim], variance
    tables = page.get_by_role("tabpanel").first.get_by_test_id("stDataFrame")  # the PC1 tab
    expect(tables).to_have_count(2)
    assert [dataframe_rows(table) for table in tables.all()] == [10, 10]
    return tables


def train_fast(page, timeout_ms: int = 180_000) -> None:
    """On the Train page (opened from the sidebar): train the fast preset and wait for the finished run."""
    from playwright.sync_api import expect

    go_to(page, "Train")
    select_option(page, "Preset", "fast (seconds)")
    page.get_by_test_id("stButton").filter(has_text="Train").get_by_role("button").click()
    expect(page.get_by_test_id("stMetricLabel").get_by_text("Final val RMSE", exact=True)).to_be_visible(
        timeout=timeout_ms)


# -- uploads and trainings (several journeys) ------------------------------------------

MOVIES = "movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n3,Up (2009),Animation\n"
UPLOAD_LABEL = "Upload ratings.csv and movies.csv"


def upload(page, label_start: str, path) -> None:
    """Attach a file to the uploader whose label starts with ``label_start`` and wait for the rerun."""
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=label_start)
    uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(uploader).to_contain_text(path.name)
    wait_for_app(page)


# A fast run on a busy 2-core machine takes ~10 s; the limit is for a machine far busier than that.
TRAIN_TIMEOUT_S = 150
CURVE_TITLE = "RMSE per epoch"

# One snapshot of the Train page while it trains: the live chart's points, the progress text, and
# whether the finished run's metrics are already shown.
_TRAIN_STATE_JS = """(title) => {
    // While the run goes the panel draws the curve as SVG (cfcore/figures/live_svg.py); the finished run gets Plotly's.
    const live = Array.from(document.querySelectorAll('svg[role="img"]'))
        .find(el => el.getAttribute('aria-label') === title);
    const chart = Array.from(document.querySelectorAll('.js-plotly-plot'))
        .find(el => ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, '') === title);
    const progress = document.querySelector('[data-testid="stProgress"]');
    const labels = Array.from(document.querySelectorAll('[data-testid="stMetricLabel"]'));
    return {
        // the two curves; reference lines (named "label: value") are not the run's
        points: live
            ? ['train_rmse', 'val_rmse'].map(key => live.querySelectorAll(`[data-series="${key}"] circle`).length)
            : chart ? chart.data.filter(trace => !String(trace.name).includes(':'))
            .map(trace => (trace.x || []).length) : null,
        progress: progress ? progress.innerText.trim() : '',
        finished: labels.some(label => label.innerText.trim() === 'Final val RMSE'),
    };
}"""


def watch_training(page) -> list[dict]:
    """Poll the Train page until the run's results appear; return the snapshots taken while it ran."""
    seen: list[dict] = []
    shot = False
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        state = page.evaluate(_TRAIN_STATE_JS, CURVE_TITLE)
        if state["finished"]:
            return seen
        assert page.get_by_test_id("stException").count() == 0, "an exception appeared while training"
        if not seen or (state["points"], state["progress"]) != (seen[-1]["points"], seen[-1]["progress"]):
            seen.append(state)
            if not shot and state["points"] and min(state["points"]) >= 1:
                screenshot(page, "journey1-03-training-live")
                shot = True
        page.wait_for_timeout(150)
    pytest.fail(f"training did not finish within {TRAIN_TIMEOUT_S} s; last states: {seen[-5:]}")
