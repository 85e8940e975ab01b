"""Start-up and page-switch benchmark: how long a learner waits for the app, measured in a real browser.

For each of ``--repeats`` fresh servers: headless Chromium is already open;
the clock starts at ``streamlit run app.py``; it stops when the first page
(Data) is fully on screen: script finished, no placeholders, every chart
drawn. The first start uses an empty browser profile (a first-time visitor,
who also downloads and compiles Streamlit's and Plotly's JavaScript); later
starts reuse it (a browser that has opened the app before; the server is new
each time). The report also says whether the server had loaded TensorFlow by
then (it should not: only training and the model pages need it).

Then, in the last server, one session trains a model (fast preset) and
clicks through every page ``--cycles`` times. Each click is timed to the page
being fully rendered; later visits must not recompute anything (cached
per session), so they show the cost of a page switch itself.

    python bench/startup.py
"""

from __future__ import annotations

import argparse
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

TARGETS = {"first_render_s": 4.0, "page_switch_s": 1.0}
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


def train_fast_model(page) -> float:
    """Train the fast preset from the Train page; seconds from the click until the result is shown."""
    go_to(page, "Train", TIMEOUT_MS)
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name="fast", exact=False).first.click()
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
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not (1 <= args.repeats <= 20 and 2 <= args.cycles <= 20):
        print("error: need 1 <= repeats <= 20 and 2 <= cycles <= 20", file=sys.stderr)
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
          and report["page_switch_later_max_s"] <= TARGETS["page_switch_s"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
