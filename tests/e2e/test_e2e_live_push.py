"""The server pushes a training's progress: a tab whose timers have stopped (a background tab, a browser starved of
CPU by a room of others) still gets each epoch and the finished run, without asking for them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import assert_no_traceback, go_to, metric_value, open_page

pytestmark = pytest.mark.e2e

_LIVE_POINTS_JS = "() => document.querySelectorAll('[data-testid=stMain] svg circle').length"


def test_a_tab_with_its_timers_stopped_still_gets_every_epoch_and_the_result(page, app_server):
    _, url = app_server
    page.clock.install()  # the page's setTimeout, setInterval and Date now run on a clock the test holds
    # The article's settings (batch 32, about 1 s an epoch), with a seed of its own: another test's identical
    # training, finished, would be reused at once.
    open_page(page, url, "?seed=9002")
    go_to(page, "Train")
    page.get_by_test_id("stButton").filter(has_text="Train").get_by_role("button").click()
    expect(page.get_by_test_id("stProgress").filter(has_text=re.compile(r"epoch 1 of"))).to_be_visible(
        timeout=60_000)

    # From here on no timer fires in the page: the fragment's run_every timer never asks for a rerun.
    now = page.evaluate("Date.now()")
    page.clock.pause_at(now + 1)
    frozen = page.evaluate("Date.now()")
    page.wait_for_timeout(500)
    assert page.evaluate("Date.now()") == frozen, "the page's clock is still running"

    points = [page.evaluate(_LIVE_POINTS_JS)]
    expect(page.get_by_test_id("stProgress").filter(has_text=re.compile(r"epoch [3-9] of"))).to_be_visible(
        timeout=60_000)
    points.append(page.evaluate(_LIVE_POINTS_JS))
    assert points[1] > points[0], f"no new epoch reached the frozen tab's curve: {points}"
    expect(page.get_by_test_id("stMetricLabel").get_by_text("Final val RMSE", exact=True)).to_be_visible(
        timeout=60_000)
    assert re.fullmatch(r"\d+ of 10", metric_value(page, "Epochs run")), metric_value(page, "Epochs run")
    assert page.evaluate("Date.now()") == frozen
    assert_no_traceback(page)
