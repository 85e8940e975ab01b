"""Start-up and page-switch benchmark: how long a learner waits for the app, measured in a real browser.

For each of ``--repeats`` fresh servers: headless Chromium is already open;
the clock starts at ``streamlit run app.py``; it stops when the first page
(Data) is fully on screen: script finished, no placeholders, every chart
drawn. The first start uses an empty browser profile (a first-time visitor,
who also downloads and compiles Streamlit's and Plotly's JavaScript); later
starts reuse it (a browser that has opened the app before; the server is new
each time). The report also says whether the server had loaded TensorFlow by
then, or after a training (it never should: trainings run in the trainer process).

Then, in the last server (started fresh: no trainer process yet), one session
opens the Train page and presses Train: the seconds from that click to
the first progress on screen ("epoch 1 of 10 · batch ...") are the wait of the
first training after a server start (the page pre-warms the trainer when it
opens; target <= 3 s after ``--think`` seconds on the page, 5 by default).
It stops that run, trains a model (fast preset) and clicks through every page
``--cycles`` times. Each click is timed to the page being fully rendered; later
visits must not recompute anything (cached per session), so they show the
cost of a page switch itself.

    python bench/startup.py
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    PAGES,
    REPO,
    go_to,
    launch_chromium,
    percentile,
    start_server,
    stop_server,
    wait_for_app,
    wait_rendered,
)

TARGETS = {"first_render_s": 4.0, "page_switch_s": 1.0, "first_progress_s": 3.0}
TIMEOUT_MS = 120_000


def tensorflow_loaded(pid: int) -> bool:
    """Whether the process has TensorFlow's shared library mapped (i.e. imported it)."""
    try:
        with open(f"/proc/{pid}/maps") as fh:
            return any("libtensorflow" in line for line in fh)
    except OSError:
        return False


def cold_start(context, cache: Path, log_path: Path) -> tuple[dict, object, object]:
    """One fresh server: seconds to health and to the first page rendered; returns (timings, process, page)."""
    page = context.new_page()
    started = time.perf_counter()
    process, url = start_server({"CFCORE_CACHE": str(cache)}, log_path)
    health_s = time.perf_counter() - started
    page.goto(url, wait_until="domcontentloaded")
    wait_rendered(page, "Data", TIMEOUT_MS)
    first_render_s = time.perf_counter() - started
    timings = {"health_s": health_s, "first_render_s": first_render_s,
               "tensorflow_loaded_after_first_page": tensorflow_loaded(process.pid)}
    return timings, process, page


def first_progress(page, think_s: float) -> float:
    """Open Train, wait ``think_s`` seconds (a learner reading the page and choosing settings), press Train (the
    article's settings); seconds from the click to the first progress on screen. Stops the run afterwards."""
    import re

    go_to(page, "Train", TIMEOUT_MS)
    page.wait_for_timeout(think_s * 1000)
    started = time.perf_counter()
    page.locator(".st-key-train_start button").click()
    page.get_by_test_id("stProgress").filter(has_text=re.compile(r"epoch \d+ of \d+ · batch")).wait_for(
        timeout=TIMEOUT_MS)
    seconds = time.perf_counter() - started
    # The live panel redraws every second; force skips the wait for a "stable" element that a redraw resets.
    page.get_by_test_id("stButton").filter(has_text="Stop").get_by_role("button").click(force=True)
    page.get_by_text("Best val RMSE").first.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)
    return seconds


def train_fast_model(page) -> float:
    """Train the fast preset from the Train page; seconds from the click until the result is shown."""
    go_to(page, "Train", TIMEOUT_MS)
    option = page.get_by_role("option", name="fast", exact=False).first
    for _ in range(5):  # a click that lands during a rerun (the stopped run being collected) closes the list again
        page.get_by_role("combobox", name="Preset").click()
        with contextlib.suppress(Exception):
            option.wait_for(timeout=3000)
            break
    option.click()
    wait_for_app(page, TIMEOUT_MS)
    started = time.perf_counter()
    page.locator(".st-key-train_start button").click()
    page.get_by_text("Best val RMSE").first.wait_for(timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)
    return time.perf_counter() - started


def page_switches(page, cycles: int) -> dict[str, list[float]]:
    """Click through every page ``cycles`` times (starting after Train); seconds per visit, by page."""
    timings: dict[str, list[float]] = {title: [] for title in PAGES}
    order = [PAGES[(PAGES.index("Train") + 1 + i) % len(PAGES)] for i in range(len(PAGES) * cycles)]
    for title in order:
        timings[title].append(go_to(page, title, TIMEOUT_MS))
    return timings


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    out_dir = REPO / "test-artifacts"
    report: dict = {"cold_starts": []}
    with tempfile.TemporaryDirectory(prefix="cfcore-startup-") as cache, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        process = page = None
        try:
            for attempt in range(args.repeats):
                if process is not None:
                    page.close()
                    stop_server(process)
                timings, process, page = cold_start(context, Path(cache), out_dir / "bench-startup-server.log")
                timings["browser_cache"] = "empty" if attempt == 0 else "warm"
                report["cold_starts"].append(timings)
                print(f"start {attempt + 1} ({timings['browser_cache']} browser cache): healthy "
                      f"{timings['health_s']:.2f} s, first page rendered {timings['first_render_s']:.2f} s",
                      file=sys.stderr, flush=True)
            report["first_progress_s"] = first_progress(page, args.think)
            report["think_s"] = args.think
            report["server_has_tensorflow_after_training"] = tensorflow_loaded(process.pid)
            report["train_s"] = train_fast_model(page)
            visits = page_switches(page, args.cycles)
            page.screenshot(path=str(out_dir / "bench-startup-last-page.png"))
        finally:
            if process is not None:
                stop_server(process)
            browser.close()
    firsts = [t["first_render_s"] for t in report["cold_starts"]]
    report["first_render_median_s"] = statistics.median(firsts)
    report["first_render_max_s"] = max(firsts)
    report["first_render_empty_browser_s"] = firsts[0]
    report["first_render_warm_browser_median_s"] = statistics.median(firsts[1:]) if len(firsts) > 1 else None
    report["tensorflow_loaded_after_first_page"] = any(t["tensorflow_loaded_after_first_page"]
                                                       for t in report["cold_starts"])
    report["page_switch"] = {
        title: {"first_visit_s": v[0], "later_p50_s": percentile(v[1:], 50), "later_max_s": max(v[1:], default=0.0)}
        for title, v in visits.items()
    }
    later = [s for v in visits.values() for s in v[1:]]
    report["page_switch_later_p50_s"] = percentile(later, 50)
    report["page_switch_later_max_s"] = max(later, default=float("nan"))
    report["page_switch_first_visit_max_s"] = max(v[0] for v in visits.values())
    return report


def table(report: dict) -> str:
    lines = [
        f"server start to first page rendered: {report['first_render_empty_browser_s']:.2f} s with an empty browser "
        f"cache; with a warm one, median {report['first_render_warm_browser_median_s'] or float('nan'):.2f} s over "
        f"{len(report['cold_starts']) - 1} starts (target <= {TARGETS['first_render_s']} s); TensorFlow loaded "
        f"by then: {report['tensorflow_loaded_after_first_page']}",
        f"first training after the server start, Train opened, {report['think_s']:g} s of choosing settings, click "
        f"-> first progress on screen: {report['first_progress_s']:.2f} s (target <= {TARGETS['first_progress_s']} "
        f"s); the server process has "
        f"TensorFlow mapped afterwards: {report['server_has_tensorflow_after_training']}",
        f"training the fast preset from the Train page: {report['train_s']:.1f} s",
        "",
        "| page | first visit after training (s) | later visits p50 (s) | later visits max (s) |",
        "|---|---|---|---|",
    ]
    for title, row in report["page_switch"].items():
        lines.append(f"| {title} | {row['first_visit_s']:.2f} | {row['later_p50_s']:.2f} | {row['later_max_s']:.2f} |")
    lines.append(f"\npage switch, later visits: p50 {report['page_switch_later_p50_s']:.2f} s, max "
                 f"{report['page_switch_later_max_s']:.2f} s (target <= {TARGETS['page_switch_s']} s); "
                 f"slowest first visit {report['page_switch_first_visit_max_s']:.2f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh server starts to time (default 3)")
    parser.add_argument("--cycles", type=int, default=3, help="rounds through all pages (default 3)")
    parser.add_argument("--think", type=float, default=5.0,
                        help="seconds on the Train page before pressing Train in the first training (default 5; "
                             "0 clicks as soon as the page is drawn)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not (1 <= args.repeats <= 20 and 2 <= args.cycles <= 20 and 0 <= args.think <= 120):
        print("error: need 1 <= repeats <= 20, 2 <= cycles <= 20 and 0 <= think <= 120", file=sys.stderr)
        return 2
    try:
        report = run(args)
    except Exception as err:  # a bench run that cannot finish says why in one line
        print(f"error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    print("\n" + table(report), file=sys.stderr)
    ok = (report["first_render_max_s"] <= TARGETS["first_render_s"]
          and report["page_switch_later_max_s"] <= TARGETS["page_switch_s"]
          and report["first_progress_s"] <= TARGETS["first_progress_s"]
          and not report["server_has_tensorflow_after_training"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
