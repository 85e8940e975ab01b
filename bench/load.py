"""Load benchmark: many browser sessions and several trainings against one local Streamlit server.

Starts ``streamlit run app.py`` on a free loopback port (``CFCORE_DATA`` = the
shared ml-latest-small) and drives it with headless Chromium contexts, each its
own Streamlit session:

1. one session opens the app: the server's RSS with one idle session;
2. that session trains once (warm-up): the RSS of a warm, idle server (the
   server process alone, and with its trainer process);
3. each of ``--rounds`` rounds opens ``--sessions - 1`` more sessions, starts
   ``--trainings`` trainings from them back to back while the rest click
   between pages for at least ``--browse`` seconds, then closes them and waits
   for the server to drop and free them.

It reports every training's outcome and queue positions, p50/p95 time for a
page to render after a sidebar click (per page and overall; timed by the page's
own clock from the click event, as a person clicking sees it, and also from
Python including Playwright's work before the click lands), the first-load
time of new sessions, the server's peak RSS, RSS per extra idle session, and
RSS after each round's sessions close (growth across rounds is a per-session
leak). At the end, with every session closed, it waits for the trainer to idle
out (``CFCORE_TRAINER_IDLE_SECONDS`` = ``--trainer-idle``) and reports the
server's RSS then. Everything is bounded by ``--deadline``.

    python bench/load.py --sessions 20 --trainings 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from pathlib import Path

from harness import (
    MB,
    PAGES,
    REPO,
    RssSampler,
    cpu_by_role,
    cpu_used,
    go_to_timed,
    launch_chromium,
    percentile,
    set_browsers_share,
    settled_rss,
    start_server,
    stop_server,
    trainer_pids,
    wait_for_app,
    wait_rendered,
)
from protocol_session import ProtocolSession

# Sessions whose websocket closed are dropped after this long (Streamlit's default is 120 s).
DISCONNECTED_TTL_S = 5
TARGETS = {"render_p95_s": 1.5, "rss_one_idle_session_mb": 800, "rss_per_extra_session_mb": 30,
           "rss_after_idle_mb": 350}

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Driving the app
# ---------------------------------------------------------------------------


def start_training(page, preset: str, epochs: int | None, timeout_ms: int) -> None:
    """On the Train page: pick ``preset`` (and ``epochs``, when given) and press Train."""
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(preset)}\b")).click()
    wait_for_app(page, timeout_ms)
    if epochs is not None:
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
    if "starting: building the model" in text:
        return "starting", None
    epoch = re.search(r"epoch (\d+) of \d+ · batch", text)
    if epoch:
        return f"running epoch {epoch.group(1)}", None
    if "Best val RMSE" in text:
        return "done", None
    return "idle", None


class Trainings:
    """Follows the trainings started from some pages until each is done or failed."""

    def __init__(self, pages: list):
        self.pages = pages
        self.started = time.monotonic()
        self.states = [{"max_queue_position": 0, "seen": [], "done_s": None} for _ in pages]

    def poll(self) -> bool:
        """Read every unfinished training's state; True when all have finished."""
        for i, page in enumerate(self.pages):
            state = self.states[i]
            if state["done_s"] is not None:
                continue
            name, position = training_state(page)
            if not state["seen"] or state["seen"][-1] != name:
                state["seen"].append(name)
                log(f"training {i}: {name}{f' (queue position {position})' if position else ''}")
            if position:
                state["max_queue_position"] = max(state["max_queue_position"], position)
            if name in ("done", "failed"):
                state["done_s"] = round(time.monotonic() - self.started, 1)
        return all(s["done_s"] is not None for s in self.states)

    def summary(self) -> dict:
        last = [s["seen"][-1] if s["seen"] else "unknown" for s in self.states]
        return {
            "trainings_completed": last.count("done"), "trainings_failed": last.count("failed"),
            "queue_was_used": any(s["max_queue_position"] > 0 for s in self.states),
            "max_queue_position": max((s["max_queue_position"] for s in self.states), default=0),
            "training_wall_s": round(time.monotonic() - self.started, 1), "timeline": self.states,
        }


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, browser, url: str, pid: int):
        self.args, self.browser, self.url, self.pid = args, browser, url, pid
        self.timeout_ms = int(args.page_timeout * 1000)
        self.deadline = time.monotonic() + args.deadline
        self.first_loads: list[float] = []
        self.switches: dict[str, list[float]] = {title: [] for title in PAGES}  # click to render, in the page
        self.switches_with_driver: dict[str, list[float]] = {title: [] for title in PAGES}
        self.render_timeouts: list[str] = []

    def open_session(self, before_load=None):
        """A new browser context on the app's first page; ``before_load(page)`` runs before it connects."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(self.timeout_ms)
        page = context.new_page()
        if before_load is not None:
            before_load(page)
        started = time.perf_counter()
        page.goto(self.url, wait_until="domcontentloaded")
        wait_rendered(page, "Data", self.timeout_ms)
        self.first_loads.append(time.perf_counter() - started)
        wait_for_app(page, self.timeout_ms)
        return context, page

    def switch(self, page, title: str) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        try:
            seconds, with_driver = go_to_timed(page, title, self.timeout_ms)
        except PlaywrightTimeoutError:
            self.render_timeouts.append(title)
            log(f"render of {title} took over {self.args.page_timeout:.0f} s")
            return
        self.switches[title].append(seconds)
        self.switches_with_driver[title].append(with_driver)
        if seconds > 5:
            log(f"render of {title} took {seconds:.1f} s")

    def train_all(self, trainers: list, browsers: list, browse: float) -> dict:
        """Start a training on each of ``trainers``; ``browsers`` click around until all finish and at
        least ``browse`` seconds have passed."""
        for page in trainers:
            self.switch(page, "Train")
            start_training(page, self.args.preset, self.args.epochs, self.timeout_ms)
        log(f"{len(trainers)} trainings started")
        trainings = Trainings(trainers)
        browse_until = time.monotonic() + browse
        where = [0] * len(browsers)  # every session starts on the Data page
        step = 0
        while time.monotonic() < self.deadline:
            finished = trainings.poll()
            if finished and time.monotonic() >= browse_until:
                break
            if browsers:
                # Sessions take turns, each walking through the pages in order from its own starting point,
                # so every page is visited even in a short round.
                i = step % len(browsers)
                target = (i if where[i] == 0 and step < len(browsers) else where[i] + 1) % len(PAGES)
                where[i] = target if target != where[i] else (target + 1) % len(PAGES)
                self.switch(browsers[i], PAGES[where[i]])
            else:
                time.sleep(0.5)
            step += 1
        return trainings.summary()

    def round(self, index: int) -> dict:
        args = self.args
        report: dict = {"round": index, "rss_before_mb": settled_rss(self.pid) / MB}
        contexts, pages = [], []
        for _ in range(args.sessions - 1):
            if time.monotonic() > self.deadline:
                break
            context, page = self.open_session()
            contexts.append(context)
            pages.append(page)
        report["sessions_open"] = len(pages) + 1
        report["rss_all_sessions_idle_mb"] = settled_rss(self.pid) / MB
        report["rss_per_extra_session_mb"] = (report["rss_all_sessions_idle_mb"] - report["rss_before_mb"]) / max(
            1, len(pages))
        log(f"round {index}: {len(pages) + 1} sessions open, "
            f"+{report['rss_per_extra_session_mb']:.1f} MB per extra session")
        report.update(self.train_all(pages[: args.trainings], pages[args.trainings:], args.browse))
        log(f"round {index}: {report['trainings_completed']}/{args.trainings} trainings done "
            f"in {report['training_wall_s']:.0f} s")
        with contextlib.suppress(Exception):
            pages[0].screenshot(path=str(REPO / "test-artifacts" / f"bench-round{index}-trainer.png"))
        for context in contexts:
            context.close()
        # Streamlit keeps a closed session for the reconnect TTL before it drops it.
        time.sleep(DISCONNECTED_TTL_S)
        time.sleep(args.release_wait)
        report["rss_after_close_mb"] = settled_rss(self.pid) / MB
        log(f"round {index}: sessions closed, RSS {report['rss_after_close_mb']:.0f} MB")
        return report


# What the server sends a page, as bytes inside its websocket frames (protobuf keeps strings as UTF-8): the live
# panel of a training under way (or the line saying one was reused), then the finished run's metrics.
UNDER_WAY_MARKS = (" · batch ".encode(), b"waiting for a free training slot", b"starting: building the model",
                   b"just finished for someone else")
RESULT_MARK = b"Final val RMSE"
FAILED_MARK = b"Training failed"
REFUSED_MARK = b"Cannot start training"  # the queue was full, for one


class ResultArrival:
    """When a page's websocket brought it the training's result: click -> result before this machine's Chromium
    draws it (in a class each learner's own computer does that). The server pushes it (ui/job_panel.py), but the
    frame is seen through the browser's own process, so a starved browser still reports it late."""

    def __init__(self, page):
        self.clicked = self.at = None
        self.under_way = False
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def arm(self) -> None:
        """Count from now: the next result after the page shows a training under way."""
        self.clicked, self.at, self.under_way = time.monotonic(), None, False

    def _frame(self, payload) -> None:
        if self.clicked is None or self.at is not None or isinstance(payload, str):
            return
        self.under_way = self.under_way or any(mark in payload for mark in UNDER_WAY_MARKS)
        if self.under_way and RESULT_MARK in payload:
            self.at = time.monotonic()

    @property
    def seconds(self) -> float | None:
        return None if self.at is None else round(self.at - self.clicked, 2)


# Runs in every page before Streamlit's own code: notes, in the page's own clock, the first frame that shows a
# finished run other than the one shown when armed (its numbers, no training under way), or a failure
# (``window.__cfcoreResult``, set by arming). A starved page may never draw the panel of the training under way.
_ON_SCREEN_INIT_JS = """(() => {
    const shownRun = () => {
        const main = document.querySelector('[data-testid="stMain"]');
        const found = main && /([\\w.-]+ #\\d+) \\((?:finished|stopped|diverged)/.exec(main.textContent);
        return found && !document.querySelector('[data-testid="stProgress"]') ? found[1] : null;
    };
    const failed = () => Array.from(document.querySelectorAll('[data-testid="stAlert"]'),
        a => a.textContent).some(t => t.includes('Training failed') || t.includes('Cannot start training'));
    window.__cfcoreArm = () => { window.__cfcoreResult = {before: shownRun(), at: null}; };
    new MutationObserver(() => {
        const s = window.__cfcoreResult;
        if (!s || s.at !== null) return;
        const run = shownRun();
        if ((run !== null && run !== s.before) || failed())
            requestAnimationFrame(() => { if (s.at === null) s.at = Date.now(); });
    }).observe(document, {subtree: true, childList: true, characterData: true});
})();"""


class ResultOnScreen:
    """When a page showed the training's result, in its own clock: the frame that first drew it, however late the
    benchmark's driver gets round to reading the page."""

    def __init__(self, page):
        self.page = page
        page.add_init_script(_ON_SCREEN_INIT_JS)

    def arm(self) -> float:
        """Count from now (wall clock, which the page's ``Date.now()`` shares); returns now."""
        self.page.evaluate("() => window.__cfcoreArm()")
        self.clicked = time.time()
        return self.clicked

    def seconds(self) -> float | None:
        """Click -> result on screen (a failure counts as a result), or None while it has not come."""
        at = self.page.evaluate("() => window.__cfcoreResult && window.__cfcoreResult.at")
        return None if at is None else round(at / 1000 - self.clicked, 2)


def _saved_after(state_dir: Path, link: str, clicked: float) -> float | None:
    """Seconds from ``clicked`` (wall clock) until the workspace in ``link`` (its ``ws=`` value) got its newest run
    folder, by the folder's change time (the rename that lands it; a copy keeps the files' own times, those of
    the training's save)."""
    ws = re.search(r"[?&]ws=([A-Za-z0-9_-]{32})", link)
    folders = (state_dir / "workspaces" / ws.group(1) / "runs").glob("*/result.json") if ws else []
    newest = max((f.parent.stat().st_ctime for f in folders), default=None)
    return round(newest - clicked, 2) if newest is not None and newest > clicked else None


class BrowserLearner:
    """A learner in this machine's Chromium, on the Train page: their result timed on arrival and on screen."""

    def __init__(self, bench: Bench):
        self.arrival = self.screen = None
        self.page = bench.open_session(self._watch)[1]
        bench.switch(self.page, "Train")

    def _watch(self, page) -> None:
        self.arrival, self.screen = ResultArrival(page), ResultOnScreen(page)

    @property
    def link(self) -> str:
        return self.page.url

    def arm(self) -> float:
        """Count from now; returns the wall clock."""
        self.arrival.arm()
        return self.screen.arm()

    def click_train(self) -> None:
        self.page.locator(".st-key-train_start button").dispatch_event("click")
        self.arrival.clicked = time.monotonic()  # armed before the click, timed from it

    def arrived_s(self) -> float | None:
        return self.arrival.seconds

    def shown_s(self) -> float | None:
        return self.screen.seconds()

    result_s = shown_s  # what the class waits for: the frame that drew it

    def refused(self) -> bool:
        return REFUSED_MARK.decode() in self.page.get_by_test_id("stMain").inner_text()

    def log_missing(self, number: int, out_dir: Path) -> None:
        log(f"session {number}: no result; it shows {training_state(self.page)[0]!r}")
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(out_dir / f"bench-burst-no-result-{number}.png"))


class ProtocolLearner:
    """A learner whose browser runs elsewhere (bench/protocol_session.py), on the Train page: their result timed
    as it arrives, with nothing drawn on this machine."""

    def __init__(self, url: str, timeout_s: float, seed: int | None = None):
        # A seed comes in the URL, as a shared link's settings do.
        self.session = ProtocolSession(url, "", marks=(RESULT_MARK, FAILED_MARK, REFUSED_MARK),
                                       query="" if seed is None else f"seed={seed}")
        self.session.wait_for_run(0, timeout_s)  # the Data page loads the configured dataset
        runs = self.session.runs_finished
        self.session.open("train")
        self.session.wait_for_run(runs, timeout_s)
        self.clicked = None

    @property
    def link(self) -> str:
        return "?" + self.session.query_string

    def arm(self) -> float:
        self.session.arm()
        return time.time()

    def click_train(self) -> None:
        self.session.click("Train")
        self.clicked = time.monotonic()

    def arrived_s(self) -> float | None:
        marks = (RESULT_MARK, FAILED_MARK, REFUSED_MARK)
        seen = [at for mark in marks if (at := self.session.seen_at(mark)) is not None]
        return round(min(seen) - self.clicked, 2) if seen and self.clicked is not None else None

    result_s = arrived_s  # what the class waits for: nothing is drawn here

    def refused(self) -> bool:
        return self.session.seen_at(REFUSED_MARK) is not None

    def log_missing(self, number: int, out_dir: Path) -> None:
        log(f"session {number} (protocol): no result")


def _slowest(report: dict, key: str, times: list[float | None], alone: float | None) -> None:
    """``slowest_<key>s`` and ``slowest_<key>vs_alone`` in ``report``: the slowest time and its ratio to ``alone``."""
    slowest = max((t for t in times if t is not None), default=float("nan"))
    report[f"slowest_{key}s"] = slowest
    report[f"slowest_{key}vs_alone"] = round(slowest / (alone or float("nan")), 2)


def class_burst(args: argparse.Namespace) -> dict:
    """``--class-burst N``: N sessions on the Train page press Train (the page's default settings) within two
    seconds; each session's click -> result time, next to one training alone (another seed, so it is not reused).
    Each result is timed three ways: when its copy landed in the learner's workspace (the server's side), when its
    page's websocket brought it, and the frame that drew it by the page's own clock; each is compared with the
    same measure of the training alone. ``--class-browsers K`` makes only K of the N learners this machine's
    Chromium pages (the first times the training alone) and the others sessions that speak Streamlit's protocol
    without drawing, as learners whose browsers run on their own machines. With ``--class-seeds different``
    every session first sets its own seed: N trainings, the queue as ever. ``--browsers-share low`` gives
    Chromium the smallest CPU share while the app works."""
    from playwright.sync_api import sync_playwright

    out_dir = REPO / "test-artifacts"
    out_dir.mkdir(exist_ok=True)
    import tempfile

    state_dir = Path(tempfile.mkdtemp(prefix="cfcore-burst-state-"))
    process, url = start_server({**_server_env(args), "CFCORE_STATE_DIR": str(state_dir)}, out_dir / "bench-burst.log")
    browsers_n = args.class_browsers or args.class_burst
    report: dict = {"class_burst": args.class_burst, "class_browsers": browsers_n, "seeds": args.class_seeds,
                    "browsers_share": args.browsers_share}
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            bench = Bench(args, browser, url, process.pid)
            browsers = [BrowserLearner(bench) for _ in range(browsers_n)]
            different = args.class_seeds == "different"
            learners = browsers + [ProtocolLearner(url, bench.timeout_ms / 1000, 1000 + i if different else None)
                                   for i in range(browsers_n, args.class_burst)]
            log(f"{len(learners)} sessions open on the Train page, {browsers_n} of them in Chromium")
            # With --browsers-share low the browsers get the smallest share while the app works, and the
            # default one while the driver clicks (a learner's hand, on their own machine).
            low = 19 if args.browsers_share == "low" else 0
            seed_box = lambda page: page.get_by_test_id("stNumberInput").filter(has_text="Seed").locator("input")  # noqa: E731
            # One training alone, with another seed than the class will use.
            solo = browsers[0]
            seed_box(solo.page).fill("4242")
            seed_box(solo.page).press("Enter")
            wait_for_app(solo.page, bench.timeout_ms)
            cpu_before = cpu_by_role(process.pid)
            solo_clicked = solo.arm()
            solo.click_train()
            if low and not set_browsers_share(low):
                print("error: could not lower Chromium's CPU share (/proc/<pid>/autogroup)", file=sys.stderr)
                raise SystemExit(2)
            solo.page.get_by_text("Best val RMSE").first.wait_for(timeout=bench.timeout_ms)
            wait_for_app(solo.page, bench.timeout_ms)
            report["one_training_alone_s"] = solo.shown_s()
            set_browsers_share(0)
            report["one_training_alone_arrived_s"] = solo.arrived_s()
            report["one_training_alone_saved_s"] = _saved_after(state_dir, solo.link, solo_clicked)
            report["cpu_s_alone"] = cpu_used(cpu_before, cpu_by_role(process.pid))
            log(f"one training alone: {report['one_training_alone_s']} s")
            seed_box(solo.page).fill("42")
            seed_box(solo.page).press("Enter")
            wait_for_app(solo.page, bench.timeout_ms)
            if different:
                for number, learner in enumerate(browsers):
                    seed_box(learner.page).fill(str(1000 + number))
                    seed_box(learner.page).press("Enter")
                    wait_for_app(learner.page, bench.timeout_ms)
            clicks, clicked_at, cpu_start = [], [], cpu_by_role(process.pid)
            for learner in learners:  # well within two seconds for 30 sessions
                clicked_at.append(learner.arm())
                learner.click_train()
                clicks.append(time.monotonic())
            report["clicks_spread_s"] = round(clicks[-1] - clicks[0], 2)
            set_browsers_share(low)
            deadline = time.monotonic() + args.deadline
            cpu_first_result = None
            # A browser's page notes when it drew its result; a protocol session when its result arrived. Reading
            # those notes once a second is light.
            done: list[float | None] = [None] * len(learners)
            while None in done and time.monotonic() < deadline:
                for i, learner in enumerate(learners):
                    if done[i] is None and (seconds := learner.result_s()) is not None:
                        done[i] = seconds
                        cpu_first_result = cpu_first_result or cpu_by_role(process.pid)
                solo.page.wait_for_timeout(1000)  # Playwright delivers the websocket events while it waits
            for i, learner in enumerate(learners):
                if done[i] is None:
                    learner.log_missing(i, out_dir)
            report["click_to_result_s"] = done[:browsers_n]
            report["refused"] = sum(learner.refused() for learner in learners)  # "Cannot start training": a result
            report["click_to_result_arrived_s"] = [learner.arrived_s() for learner in learners]
            # The server's side: when each workspace's new run folder was complete on disk.
            report["click_to_run_saved_s"] = [_saved_after(state_dir, learner.link, at)
                                              for learner, at in zip(learners, clicked_at, strict=True)]
            # Where the time went: up to the first learner's result (the training, while every page polls),
            # then until the last one's (the other pages drawing the finished run).
            cpu_end = cpu_by_role(process.pid)
            report["cpu_s_to_first_result"] = cpu_used(cpu_start, cpu_first_result or cpu_end)
            report["cpu_s_first_to_last_result"] = cpu_used(cpu_first_result or cpu_end, cpu_end)
            _slowest(report, "saved_", report["click_to_run_saved_s"], report["one_training_alone_saved_s"])
            _slowest(report, "", report["click_to_result_s"], report["one_training_alone_s"])
            _slowest(report, "arrived_", report["click_to_result_arrived_s"], report["one_training_alone_arrived_s"])
            with contextlib.suppress(Exception):
                browsers[-1].page.screenshot(path=str(out_dir / "bench-burst-last-session.png"))
            for learner in learners[browsers_n:]:
                learner.session.close()
            browser.close()
    finally:
        stop_server(process)
    return report


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    out_dir = REPO / "test-artifacts"
    out_dir.mkdir(exist_ok=True)
    process, url = start_server(
        {**_server_env(args), "CFCORE_TRAINER_IDLE_SECONDS": str(args.trainer_idle)},
        out_dir / "bench-server.log",
        ["--server.disconnectedSessionTTL", str(DISCONNECTED_TTL_S)],
    )
    sampler = RssSampler(process.pid)
    sampler.start()
    report: dict = {"sessions": args.sessions, "trainings": args.trainings, "preset": args.preset,
                    "epochs": args.epochs, "max_concurrent_trainings": args.max_trainings, "profile": args.profile,
                    "rounds": []}
    try:
        report["rss_server_only_mb"] = settled_rss(process.pid) / MB
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            bench = Bench(args, browser, url, process.pid)
            anchor_context, anchor = bench.open_session()
            report["first_session_load_s"] = bench.first_loads[0]
            report["rss_one_idle_session_mb"] = settled_rss(process.pid) / MB
            log(f"server up, first session rendered in {bench.first_loads[0]:.1f} s, "
                f"RSS {report['rss_one_idle_session_mb']:.0f} MB")
            warm = bench.train_all([anchor], [], browse=0)
            if warm["trainings_completed"] != 1:
                raise RuntimeError(f"the warm-up training did not finish: {warm['timeline']}")
            bench.switch(anchor, "Data")
            report["rss_warm_idle_mb"] = settled_rss(process.pid) / MB
            report["rss_warm_idle_server_only_mb"] = settled_rss(process.pid, descendants=False) / MB
            log(f"warm-up training done, RSS {report['rss_warm_idle_mb']:.0f} MB")
            for index in range(1, args.rounds + 1):
                if time.monotonic() > bench.deadline:
                    break
                report["rounds"].append(bench.round(index))
            anchor_context.close()
            browser.close()
        # Everyone gone: the trainer idles out and the server should be back near its start.
        deadline = time.monotonic() + args.trainer_idle + 60
        while trainer_pids(process.pid) and time.monotonic() < deadline:
            time.sleep(1)
        report["trainer_exited"] = not trainer_pids(process.pid)
        time.sleep(DISCONNECTED_TTL_S)
        report["rss_after_idle_mb"] = settled_rss(process.pid, descendants=False) / MB
        log(f"all sessions closed, trainer exited: {report['trainer_exited']}, server RSS "
            f"{report['rss_after_idle_mb']:.0f} MB")
    finally:
        sampler.stop()
        report["rss_peak_mb"] = sampler.peak / MB
        stop_server(process)
    for key, switches in (("page_switch", bench.switches), ("page_switch_with_driver", bench.switches_with_driver)):
        everything = [s for values in switches.values() for s in values]
        report[key] = {
            "count": len(everything), "p50_s": percentile(everything, 50), "p95_s": percentile(everything, 95),
            "max_s": max(everything, default=float("nan")), "timeouts": bench.render_timeouts,
            "per_page": {title: {"count": len(v), "p50_s": percentile(v, 50), "p95_s": percentile(v, 95)}
                         for title, v in switches.items()},
        }
    report["first_load"] = {"count": len(bench.first_loads), "p50_s": percentile(bench.first_loads, 50),
                            "p95_s": percentile(bench.first_loads, 95)}
    rounds = report["rounds"]
    if len(rounds) >= 2:
        opened = sum(r["sessions_open"] - 1 for r in rounds[1:])
        report["leak_per_session_mb"] = (rounds[-1]["rss_after_close_mb"] - rounds[0]["rss_after_close_mb"]) / opened
    return report


def summary_line(report: dict, args: argparse.Namespace) -> str:
    rounds = report["rounds"]
    completed = sum(r["trainings_completed"] for r in rounds)
    switch, driver = report["page_switch"], report["page_switch_with_driver"]
    parts = [
        f"{completed}/{args.trainings * len(rounds)} trainings completed "
        f"(queue used: {any(r['queue_was_used'] for r in rounds)})",
        f"page render after a click (the page's clock) p50 {switch['p50_s']:.2f} s, p95 {switch['p95_s']:.2f} s "
        f"(target <= {TARGETS['render_p95_s']} s; {switch['count']} renders, {len(switch['timeouts'])} timeouts)",
        f"the same with the test driver's click work: p50 {driver['p50_s']:.2f} s, p95 {driver['p95_s']:.2f} s",
        f"new session first load p50 {report['first_load']['p50_s']:.2f} s",
        f"RSS: one idle session {report['rss_one_idle_session_mb']:.0f} MB (target <= "
        f"{TARGETS['rss_one_idle_session_mb']}), warm idle {report['rss_warm_idle_mb']:.0f} MB with the trainer "
        f"({report['rss_warm_idle_server_only_mb']:.0f} MB the server alone), peak {report['rss_peak_mb']:.0f} MB",
        f"after every session closed and the trainer idled out (exited: {report.get('trainer_exited')}): server "
        f"RSS {report.get('rss_after_idle_mb', float('nan')):.0f} MB (target <= {TARGETS['rss_after_idle_mb']})",
    ]
    for r in rounds:
        parts.append(f"round {r['round']}: +{r['rss_per_extra_session_mb']:.1f} MB per extra idle session "
                     f"(target <= {TARGETS['rss_per_extra_session_mb']}), after close "
                     f"{r['rss_after_close_mb']:.0f} MB ({r['rss_after_close_mb'] - report['rss_warm_idle_mb']:+.0f} "
                     "vs warm idle)")
    if "leak_per_session_mb" in report:
        parts.append(f"growth per session across rounds: {report['leak_per_session_mb']:+.2f} MB")
    return "\n".join(parts)


def _server_env(args) -> dict[str, str]:
    env = {"CFCORE_PROFILE": args.profile}
    if args.max_trainings is not None:
        env["CFCORE_MAX_TRAININGS"] = str(args.max_trainings)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions open at once (default 20)")
    parser.add_argument("--trainings", type=int, default=5, help="trainings started per round (default 5)")
    parser.add_argument("--preset", choices=("fast", "best", "article"), default="best",
                        help="Train page preset the trainings use (default best: about 4 s alone)")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--rounds", type=int, default=2, help="open/train/close rounds (default 2)")
    parser.add_argument("--browse", type=float, default=30, help="minimum seconds of page clicking per round")
    parser.add_argument("--release-wait", type=float, default=20,
                        help="seconds to wait after closing a round's sessions before measuring RSS (default 20)")
    parser.add_argument("--trainer-idle", type=float, default=30,
                        help="the server's CFCORE_TRAINER_IDLE_SECONDS for this run (default 30)")
    parser.add_argument("--max-trainings", type=int, default=None,
                        help="server's concurrent training cap (default: the profile's, 2 local and 1 public)")
    parser.add_argument("--profile", choices=("local", "public"), default="local",
                        help="the server's CFCORE_PROFILE (default local)")
    parser.add_argument("--deadline", type=float, default=1500, help="stop after this many seconds (default 1500)")
    parser.add_argument("--page-timeout", type=float, default=120, help="seconds one page may take (default 120)")
    parser.add_argument("--class-burst", type=int, default=0, metavar="N",
                        help="instead of the rounds: N sessions press Train with the same settings at once")
    parser.add_argument("--class-seeds", choices=("same", "different"), default="same",
                        help="with --class-burst: the page's default seed for all, or one seed per session")
    parser.add_argument("--class-browsers", type=int, default=0, metavar="K",
                        help="with --class-burst: only K of the N learners in Chromium (default all N); the others "
                             "speak Streamlit's protocol without drawing, as browsers on the learners' own machines")
    parser.add_argument("--browsers-share", choices=("equal", "low"), default="equal",
                        help="with --class-burst: Chromium's CPU share. equal (default): competing with the server; "
                             "low: the smallest while the app works, as if each learner's browser ran on their "
                             "own machine")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if args.class_burst:
        if not 2 <= args.class_burst <= 60:
            print("error: need 2 <= class-burst <= 60", file=sys.stderr)
            return 2
        if args.class_browsers and not (1 <= args.class_browsers <= args.class_burst):
            print("error: need 1 <= class-browsers <= class-burst", file=sys.stderr)
            return 2
        report = class_burst(args)
        print(json.dumps(report, indent=2))
        print(f"\nclass burst of {args.class_burst} ({args.class_seeds} seeds, {report['class_browsers']} in Chromium, "
              f"browsers' CPU share {report['browsers_share']}); clicks spread over {report['clicks_spread_s']} s. "
              "Slowest learner's click -> result, and one training alone (target <= 1.5x with the same settings):",
              file=sys.stderr)
        for what, key, alone in (("run saved in their workspace", "saved_", "_saved"),
                                 ("result arrived (their websocket)", "arrived_", "_arrived"),
                                 ("result on screen (Chromium pages only)", "", "")):
            print(f"  {what}: {report[f'slowest_{key}s']} s vs {report[f'one_training_alone{alone}_s']} s alone = "
                  f"{report[f'slowest_{key}vs_alone']}x", file=sys.stderr)
        if report["refused"]:
            print(f"  refused (\"Cannot start training\", e.g. the queue was full): {report['refused']} learners",
                  file=sys.stderr)
        print(f"CPU seconds (server, trainer, browsers, driver): one training alone {report['cpu_s_alone']}; the "
              f"class, up to the first result {report['cpu_s_to_first_result']}, then to the last "
              f"{report['cpu_s_first_to_last_result']}", file=sys.stderr)
        return 0
    if not (1 <= args.trainings < args.sessions <= 100 and 1 <= args.rounds <= 10
            and (args.epochs is None or 1 <= args.epochs <= 50) and args.browse >= 0 and args.release_wait >= 0):
        print("error: need 1 <= trainings < sessions <= 100, 1 <= rounds <= 10, 1 <= epochs <= 50, "
              "browse and release-wait >= 0", file=sys.stderr)
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
    print("\n" + summary_line(report, args), file=sys.stderr)
    ok = (all(r["trainings_completed"] == args.trainings for r in report["rounds"])
          and len(report["rounds"]) == args.rounds
          and report["page_switch"]["p95_s"] <= TARGETS["render_p95_s"]
          and report.get("rss_after_idle_mb", float("inf")) <= TARGETS["rss_after_idle_mb"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
