"""One person's long mixed session against a real server, for ``bench/memory.py --server-session``.

Several workspaces one after another, each in a Chromium context of its own (its own Streamlit session): the
built-in data, a training, the Embeddings page with a t-SNE map, Recommend, Under the hood, Compare and the
Beyond page; one workspace uploads a small ratings file and trains on it, one computes SVD factors and measures
the one-hot cost. Then every tab closes, the trainer idles out and Streamlit drops the sessions; the server's
RSS (the server process alone, its children not counted) is read before anyone visits, at its peak and after
everyone has left.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from harness import (
    MB,
    REPO,
    RssSampler,
    go_to,
    launch_chromium,
    settled_rss,
    start_server,
    stop_server,
    trainer_pids,
    wait_for_app,
)

TARGET_AFTER_MB = 350
TIMEOUT_MS = 180_000
TRAINER_IDLE_S = 30
DISCONNECTED_TTL_S = 5
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


# -- driving one page ------------------------------------------------------------------------


def go(page, title: str) -> None:
    go_to(page, title, TIMEOUT_MS)


def _widget(page, test_id: str, label: str):
    return page.get_by_test_id(test_id).filter(has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True))


def _set_number(page, label: str, value: int) -> None:
    box = _widget(page, "stNumberInput", label).locator("input")
    box.fill(str(value))
    box.press("Enter")
    wait_for_app(page, TIMEOUT_MS)


def train(page, seed: int) -> None:
    """On the Train page: the fast preset with ``seed``, trained to the end."""
    go(page, "Train")
    _widget(page, "stSelectbox", "Preset").get_by_role("combobox").click()
    page.get_by_role("option", name="fast (seconds)", exact=True).click()
    wait_for_app(page, TIMEOUT_MS)
    _set_number(page, "Seed", seed)
    page.locator(".st-key-train_start button").click()
    page.get_by_test_id("stMetricLabel").get_by_text("Final val RMSE", exact=True).wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)


def tsne_map(page, seed: int) -> None:
    """On the Embeddings page: the t-SNE map with ``seed``, waited for until it is drawn."""
    go(page, "Embeddings")
    page.get_by_test_id("stRadio").get_by_text("t-SNE", exact=True).click()
    wait_for_app(page, TIMEOUT_MS)
    _set_number(page, "Seed", seed)
    page.locator(".js-plotly-plot").filter(has_text="t-SNE 1 (no unit)").wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)


def upload(page, folder: Path) -> None:
    """On the Data page: upload ``folder``'s ratings.csv and movies.csv."""
    go(page, "Data")
    page.get_by_test_id("stRadio").get_by_text("Upload ratings.csv and movies.csv").click()
    wait_for_app(page, TIMEOUT_MS)
    for name in ("ratings.csv", "movies.csv"):
        uploader = page.get_by_test_id("stFileUploader").filter(has_text=f"{name} (")
        uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(folder / name))
        uploader.get_by_text(name, exact=True).wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page, TIMEOUT_MS)
    page.get_by_test_id("stMetric").first.wait_for(timeout=TIMEOUT_MS)


def beyond(page, compute: bool) -> None:
    """The Beyond page; with ``compute``, SVD factors computed and the one-hot cost measured."""
    go(page, "Beyond the article")
    if not compute:
        return
    page.get_by_test_id("stRadio").get_by_text("SVD", exact=True).click()
    wait_for_app(page, TIMEOUT_MS)
    page.get_by_test_id("stButton").filter(has_text="Compute SVD").get_by_role("button").click()
    page.get_by_test_id("stAlertContentSuccess").filter(has_text="is saved in this workspace").wait_for(
        timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)
    page.get_by_test_id("stButton").filter(has_text="Measure it").get_by_role("button").click()
    page.get_by_text("the very same predictions", exact=False).wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)


def write_small_upload(folder: Path, users: int = 300, movies: int = 600, per_user: int = 40) -> Path:
    """A small MovieLens-format pair of files (``users * per_user`` ratings) to upload."""
    import numpy as np

    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["userId,movieId,rating,timestamp"]
    for user in range(1, users + 1):
        for movie in rng.choice(movies, per_user, replace=False) + 1:
            rows.append(f"{user},{movie},{rng.integers(1, 11) / 2},{1_000_000_000 + user}")
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f"{m},Movie {m} ({1950 + m % 70}),{'Drama' if m % 2 else 'Comedy|Romance'}\n" for m in range(1, movies + 1)))
    return folder


# -- the session -----------------------------------------------------------------------------


def one_workspace(browser, url: str, number: int, upload_from: Path | None, compute: bool):
    """A new workspace's visit; returns its (still open) browser context."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    wait_for_app(page, TIMEOUT_MS)
    if upload_from is not None:
        upload(page, upload_from)
        train(page, seed=100 + number)
        go(page, "Embeddings")
        go(page, "Recommend")
        go(page, "Data")
        page.get_by_test_id("stRadio").get_by_text("MovieLens ml-latest-small (built in)").click()
        wait_for_app(page, TIMEOUT_MS)
    train(page, seed=number)
    tsne_map(page, seed=number)
    for title in ("Recommend", "Under the hood", "Compare"):
        go(page, title)
    beyond(page, compute)
    go(page, "Embeddings")
    return context


def run(workspaces: int = 5, minutes: float = 0.0, env: dict[str, str] | None = None) -> dict:
    """Drive the session; return the server's RSS readings in MB and what was done.

    Args:
        workspaces: How many workspaces to open one after another (the second uploads data, the first
            computes factors and measures the one-hot cost).
        minutes: Keep switching pages in the open tabs until this long after the first visit.
        env: Extra environment for the server.
    """
    import tempfile

    (REPO / "test-artifacts").mkdir(exist_ok=True)
    report: dict = {"workspaces": workspaces}
    with tempfile.TemporaryDirectory(prefix="cfcore-bench-memory-") as scratch:
        report = _measure(report, Path(scratch), workspaces, minutes, env or {})
    report["target_after_mb"] = TARGET_AFTER_MB
    report["passed"] = report.get("after_mb", float("inf")) <= TARGET_AFTER_MB
    return report


def _measure(report: dict, tmp: Path, workspaces: int, minutes: float, env: dict[str, str]) -> dict:
    from playwright.sync_api import sync_playwright

    process, url = start_server(
        {"CFCORE_TRAINER_IDLE_SECONDS": str(TRAINER_IDLE_S), "CFCORE_STATE_DIR": str(tmp / "state"), **env},
        REPO / "test-artifacts" / "bench-memory-server.log",
        ["--server.disconnectedSessionTTL", str(DISCONNECTED_TTL_S)])
    sampler = RssSampler(process.pid, descendants=False)
    sampler.start()
    try:
        report["before_mb"] = settled_rss(process.pid, descendants=False) / MB
        log(f"server up: {report['before_mb']:.0f} MB")
        with sync_playwright() as playwright:
            small = write_small_upload(tmp / "upload")
            browser = launch_chromium(playwright)
            contexts, began = [], time.monotonic()
            for number in range(1, workspaces + 1):
                contexts.append(one_workspace(browser, url, number, small if number == 2 else None, number == 1))
                log(f"workspace {number} done: server {settled_rss(process.pid, 1.0, False) / MB:.0f} MB")
            switches = 0
            while time.monotonic() - began < minutes * 60:
                for context in contexts:
                    for title in ("Recommend", "Embeddings", "Compare", "Data", "Beyond the article"):
                        go(context.pages[0], title)
                        switches += 1
            report["extra_page_switches"] = switches
            report["session_minutes"] = (time.monotonic() - began) / 60
            report["with_tabs_open_mb"] = settled_rss(process.pid, descendants=False) / MB
            log(f"all workspaces done in {report['session_minutes']:.1f} min: {report['with_tabs_open_mb']:.0f} MB "
                "with their tabs open; closing them")
            for context in contexts:
                with contextlib.suppress(Exception):
                    context.close()
            browser.close()
        closed = time.monotonic()
        while trainer_pids(process.pid) and time.monotonic() < closed + TRAINER_IDLE_S + 120:
            time.sleep(1)
        report["trainer_exited"] = not trainer_pids(process.pid)
        # What the server keeps for reuse goes once unused for the trainer's idle time; its sweeps come at most
        # that long apart.
        time.sleep(max(0.0, closed + 2 * TRAINER_IDLE_S + DISCONNECTED_TTL_S - time.monotonic()))
        report["after_mb"] = settled_rss(process.pid, 5.0, descendants=False) / MB
        log(f"everyone left, trainer exited: {report['trainer_exited']}; server {report['after_mb']:.0f} MB")
    finally:
        sampler.stop()
        report["peak_mb"] = sampler.peak / MB
        stop_server(process)
    return report


def summary(report: dict) -> str:
    return (f"server RSS (the server alone): before {report['before_mb']:.0f} MB, peak {report['peak_mb']:.0f} MB, "
            f"tabs open {report['with_tabs_open_mb']:.0f} MB, after everyone left {report['after_mb']:.0f} MB "
            f"(target <= {report['target_after_mb']} MB): {'PASS' if report['passed'] else 'FAIL'}; "
            f"{report['workspaces']} workspaces in {report['session_minutes']:.1f} min")

