"""Load benchmark: many browser sessions and several trainings against one local Streamlit server.

Starts ``streamlit run app.py`` on a free loopback port (``CFCORE_DATA`` = the
shared ml-latest-small), opens ``--sessions`` headless Chromium contexts (each
its own Streamlit session), starts ``--trainings`` trainings at once from as
many sessions while the others keep clicking between pages, and reports:
whether every training completed, what the queue did, p50/p95 page render
times, the server's peak RSS, RSS with one idle session and per extra session,
and RSS after the sessions close. Everything is bounded by ``--deadline``; the
script stops the server and the browser by itself.

    python bench/load.py --sessions 20 --trainings 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
PAGES = ("Data", "Train", "Embeddings", "Recommend", "Under the hood", "Compare")
# Sessions whose websocket closed are dropped after this long (Streamlit's default is 120 s).
DISCONNECTED_TTL_S = 5
MB = 1024 * 1024


# ---------------------------------------------------------------------------
# The server and its memory
# ---------------------------------------------------------------------------


def _data_path() -> Path:
    configured = os.environ.get("CFCORE_DATA")
    if configured and Path(configured).exists():
        return Path(configured)
    candidate = REPO.parent / "shared" / "data" / "ml-latest-small"
    if not candidate.exists():
        sys.exit("error: the shared ml-latest-small copy was not found; set CFCORE_DATA to its folder")
    return candidate


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(max_trainings: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "CFCORE_DATA": str(_data_path()), "TF_CPP_MIN_LOG_LEVEL": "2",
           "CFCORE_MAX_TRAININGS": str(max_trainings)}
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
        "--server.runOnSave", "false", "--browser.gatherUsageStats", "false",
        "--server.disconnectedSessionTTL", str(DISCONNECTED_TTL_S),
    ]
    log = open(log_path, "w")  # noqa: SIM115 - closed in stop_server
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    process.log_file = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}; see {log_path}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            if r.status == 200:
                return process, url
        time.sleep(0.5)
    stop_server(process)
    raise RuntimeError(f"streamlit was not healthy after 60 s; see {log_path}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    process.log_file.close()  # type: ignore[attr-defined]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
    return kids


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, in bytes."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError), open(f"/proc/{current}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        todo.extend(_children(current))
    return total


class RssSampler(threading.Thread):
    """Samples the server's RSS every 200 ms and keeps the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._halt = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._halt.wait(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


def settled_rss(pid: int, seconds: float = 3.0) -> int:
    """RSS after a short quiet period (median of a few samples)."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(tree_rss(pid))
        time.sleep(0.3)
    return int(statistics.median(samples))


# ---------------------------------------------------------------------------
# Driving the app
# ---------------------------------------------------------------------------


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def wait_for_app(page, timeout_ms: int) -> None:
    page.locator('[data-testid="stApp"][data-test-connection-state="CONNECTED"]').wait_for(timeout=timeout_ms)
    for _ in range(2):  # a script may st.rerun(): require idle twice
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stApp\"]')"
            "?.getAttribute('data-test-script-state') === 'notRunning'",
            timeout=timeout_ms,
        )
        page.wait_for_timeout(200)


def timed(action, page, timeout_ms: int) -> float:
    started = time.perf_counter()
    action()
    wait_for_app(page, timeout_ms)
    return time.perf_counter() - started


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()


def start_training(page, epochs: int, timeout_ms: int) -> None:
    """On the Train page: the fast preset, ``epochs`` epochs, press Train."""
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name=re.compile(r"^fast")).click()
    wait_for_app(page, timeout_ms)
    slider = page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_role("slider")
    slider.focus()
    slider.press("Home")
    for _ in range(epochs - 1):
        slider.press("ArrowRight")
    wait_for_app(page, timeout_ms)
    page.locator(".st-key-train_start button").click()


def training_state(page) -> tuple[str, int | None]:
    """("queued", position), ("starting" | "running epoch N" | "done" | "failed" | "idle", None)."""
    text = page.get_by_test_id("stMain").inner_text()
    queued = re.search(r"position (\d+) in the queue", text)
    if queued:
        return "queued", int(queued.group(1))
    if "Training failed" in text or "Cannot start training" in text:
        return "failed", None
    if "Starting: loading TensorFlow" in text:
        return "starting", None
    epoch = re.search(r"Epoch (\d+) of \d+ · batch", text)
    if epoch:
        return f"running epoch {epoch.group(1)}", None
    if "Best val RMSE" in text:
        return "done", None
    return "idle", None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    timeout_ms = int(args.page_timeout * 1000)
    out_dir = REPO / "test-artifacts"
    out_dir.mkdir(exist_ok=True)
    deadline = time.monotonic() + args.deadline
    process, url = start_server(args.max_trainings, out_dir / "bench-server.log")
    sampler = RssSampler(process.pid)
    sampler.start()
    report: dict = {"sessions": args.sessions, "trainings": args.trainings, "epochs": args.epochs,
                    "max_concurrent_trainings": args.max_trainings, "url": url}
    renders: list[float] = []
    render_timeouts: list[str] = []
    try:
        report["rss_server_only_mb"] = settled_rss(process.pid) / MB
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            contexts, pages = [], []

            def open_session() -> None:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(timeout_ms)
                page = context.new_page()
                renders.append(timed(lambda: page.goto(url, wait_until="domcontentloaded"), page, timeout_ms))
                contexts.append(context)
                pages.append(page)

            open_session()
            log(f"server up, first session open ({renders[0]:.1f} s)")
            report["first_page_load_s"] = renders[0]
            report["rss_one_idle_session_mb"] = settled_rss(process.pid) / MB
            for _ in range(args.sessions - 1):
                if time.monotonic() > deadline:
                    break
                open_session()
            report["sessions_opened"] = len(pages)
            log(f"{len(pages)} sessions open")
            report["rss_all_sessions_idle_mb"] = settled_rss(process.pid) / MB
            extra = max(1, len(pages) - 1)
            report["rss_per_extra_session_mb"] = (
                report["rss_all_sessions_idle_mb"] - report["rss_one_idle_session_mb"]) / extra

            # Start the trainings back to back, from the first K sessions.
            trainers = pages[: args.trainings]
            for page in trainers:
                renders.append(timed(lambda p=page: go_to(p, "Train"), page, timeout_ms))
                start_training(page, args.epochs, timeout_ms)
                log(f"training started in session {pages.index(page)}")
            started = time.monotonic()
            states: list[dict] = [{"max_queue_position": 0, "seen": [], "done_s": None} for _ in trainers]
            idle_pages = pages[args.trainings:]
            step = 0
            while time.monotonic() < deadline:
                for i, page in enumerate(trainers):
                    if states[i]["done_s"] is not None:
                        continue
                    state, position = training_state(page)
                    if not states[i]["seen"] or states[i]["seen"][-1] != state:
                        states[i]["seen"].append(state)
                        log(f"training {i}: {state}{f' (queue position {position})' if position else ''}")
                    if position:
                        states[i]["max_queue_position"] = max(states[i]["max_queue_position"], position)
                    if state in ("done", "failed"):
                        states[i]["done_s"] = round(time.monotonic() - started, 1)
                if all(s["done_s"] is not None for s in states):
                    break
                # The other sessions keep browsing while the trainings run.
                if idle_pages:
                    page = idle_pages[step % len(idle_pages)]
                    target = PAGES[step % len(PAGES)]
                    try:
                        seconds = timed(lambda p=page, t=target: go_to(p, t), page, timeout_ms)
                    except PlaywrightTimeoutError:
                        render_timeouts.append(target)
                        log(f"render of {target} took over {args.page_timeout:.0f} s")
                    else:
                        renders.append(seconds)
                        if seconds > 5:
                            log(f"render of {target} took {seconds:.1f} s")
                step += 1
                time.sleep(0.5)
            report["training_wall_s"] = round(time.monotonic() - started, 1)
            report["trainings_completed"] = sum(1 for s in states if s["seen"] and s["seen"][-1] == "done")
            report["trainings_failed"] = sum(1 for s in states if s["seen"] and s["seen"][-1] == "failed")
            report["training_timeline"] = states
            report["queue_was_used"] = any(s["max_queue_position"] > 0 for s in states)
            report["rss_peak_mb"] = sampler.peak / MB
            with contextlib.suppress(Exception):
                trainers[0].screenshot(path=str(out_dir / "bench-trainer-0.png"))
            for context in contexts:
                context.close()
            browser.close()
        # Closed sessions are dropped after the disconnected-session TTL.
        time.sleep(DISCONNECTED_TTL_S + 5)
        report["rss_after_close_mb"] = settled_rss(process.pid) / MB
    finally:
        sampler.stop()
        report["rss_peak_mb"] = sampler.peak / MB
        stop_server(process)
    report["renders"] = len(renders)
    report["render_timeouts"] = render_timeouts
    report["render_p50_s"] = percentile(renders, 50)
    report["render_p95_s"] = percentile(renders, 95)
    report["render_max_s"] = max(renders, default=float("nan"))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions (default 20)")
    parser.add_argument("--trainings", type=int, default=5, help="trainings started at once (default 5)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training, fast preset (default 2)")
    parser.add_argument("--max-trainings", type=int, default=2, help="server's concurrent training cap (default 2)")
    parser.add_argument("--deadline", type=float, default=900, help="stop after this many seconds (default 900)")
    parser.add_argument("--page-timeout", type=float, default=120, help="seconds one page may take (default 120)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not 1 <= args.trainings <= args.sessions or args.sessions > 100 or not 1 <= args.epochs <= 50:
        print("error: need 1 <= trainings <= sessions <= 100 and 1 <= epochs <= 50", file=sys.stderr)
        return 2
    try:
        report = run(args)
    except Exception as err:  # a bench run that cannot finish says why in one line
        import traceback

        traceback.print_exc(limit=4)
        print(f"error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text)
    ok = report.get("trainings_completed") == args.trainings
    print(f"\n{report['trainings_completed']}/{args.trainings} trainings completed; queue used: "
          f"{report['queue_was_used']}; render p50 {report['render_p50_s']:.2f} s, p95 "
          f"{report['render_p95_s']:.2f} s; peak RSS {report['rss_peak_mb']:.0f} MB; one idle session "
          f"{report['rss_one_idle_session_mb']:.0f} MB, +{report['rss_per_extra_session_mb']:.1f} MB per extra "
          f"session; after close {report['rss_after_close_mb']:.0f} MB", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
