"""The first page has the browser load the other pages' element code while it is idle."""

from __future__ import annotations

from tests.support.browser import go_to, open_page


def test_later_pages_fetch_no_element_code_after_the_first_page(page, app_url):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url.rsplit("/", 1)[-1]))
    open_page(page, app_url)
    # The preload script marks the moment every file and everything it imports has loaded.
    page.wait_for_function("() => window.cfcoreWidgetCode === 'loaded'", timeout=30_000)
    assert any(name.startswith("Selectbox.") for name in requested)  # first used by Train, not by Data
    before = len(requested)
    for title in ("Train", "Under the hood", "Compare"):
        go_to(page, title)
    chunks = [name for name in requested[before:] if name.endswith(".js")]
    assert chunks == [], f"pages still fetched element code: {chunks}"
