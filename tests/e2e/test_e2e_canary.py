"""Journey: a stranger's titles with Markdown and HTML in them make no visitor's browser fetch anything.

A canary HTTP server on loopback records every request. The upload's titles and genres point Markdown images,
links and an ``<img>`` at it; the learner looks at the data, trains, finds a movie and compares runs. The
canary must see no request, and the titles must be on the page as text.
"""

from __future__ import annotations

import http.server
import re
import threading

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.support.browser import (
    UPLOAD_LABEL,
    assert_no_traceback,
    go_to,
    open_page,
    page_text,
    screenshot,
    select_option,
    train_fast,
    upload,
    wait_for_app,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def canary():
    """A loopback HTTP server that records the path of every request it gets."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_hostile_titles_are_shown_as_text_and_fetch_nothing(page, app_url, canary, tmp_path):
    base, seen = canary
    outside = []
    page.on("request", lambda request: outside.append(request.url) if request.url.startswith(base) else None)
    titles = [f"![m{i}]({base}/md-{i}.png) [link {i}]({base}/link-{i}) <img src={base}/html-{i}.png> :red[{i}] "
              f"www.canary.example me@canary.example" for i in range(30)]
    movies = pd.DataFrame({"movieId": range(1, 31), "title": titles,
                           "genres": [f"![g]({base}/genre.png)|Drama" if i % 2 else "Comedy" for i in range(30)]})
    ratings = pd.DataFrame([(u, m, 1 + (u * m) % 5) for u in range(1, 41) for m in range(1, 31) if (u + m) % 3],
                           columns=["userId", "movieId", "rating"])
    ratings_path, movies_path = tmp_path / "ratings.csv", tmp_path / "movies.csv"
    ratings.to_csv(ratings_path, index=False)
    movies.to_csv(movies_path, index=False)

    open_page(page, app_url)
    page.get_by_test_id("stRadio").get_by_text(UPLOAD_LABEL).click()
    wait_for_app(page)
    upload(page, "ratings.csv (", ratings_path)
    upload(page, "movies.csv (", movies_path)
    expect(page.get_by_role("heading", name=re.compile("^Summary: upload"))).to_be_visible()
    assert_no_traceback(page)

    train_fast(page, 150_000)

    go_to(page, "Embeddings")
    select_option(page, "Find a movie", titles[0], search="m0")
    wait_for_app(page)
    # The chosen title is on the page as the text it reads, Markdown and all (less the invisible word joiners
    # that keep its addresses from being drawn as links).
    expect(page.get_by_text("sits at PC1", exact=False)).to_be_visible()
    assert f"{titles[0]} sits at PC1" in page_text(page).replace("\u2060", "")
    # No element links to or loads from the canary.
    found = page.evaluate("""(base) => Array.from(document.querySelectorAll(
        `img[src^="${base}"], a[href^="${base}"], a[href*="canary.example"]`)).map(el => el.outerHTML.slice(0, 200))""",
                          base)
    assert found == [], found
    screenshot(page, "canary-embeddings")
    go_to(page, "Compare")
    assert_no_traceback(page)
    page.wait_for_timeout(1500)  # let any lazily loaded image request go out
    assert seen == [] and outside == [], (seen, outside)
