"""One local app server and a headless Chromium: shared by the benchmarks and the browser tests.

``start_server`` runs ``streamlit run app.py`` on a free loopback port with
``CFCORE_DATA`` pointing at the shared ml-latest-small and returns once the
health endpoint answers; ``stop_server`` ends its whole process group. The
page helpers wait for Streamlit the way a person would see it: connected, and
the script finished (twice, since a script may rerun itself).

Scripts in ``bench/`` import this as ``harness`` (their folder is on the path);
the tests import it as ``bench.harness``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60
# The app's pages, in sidebar order (their titles, as the sidebar links and each page's heading show them).
PAGES = ("Data", "Train", "Embeddings", "Recommend", "Under the hood", "Compare")
MB = 1024 * 1024


class AppError(RuntimeError):
    """The app showed an exception instead of the page a benchmark waited for."""


class ServerError(RuntimeError):
    """The app server did not start (the message ends with its log's last lines)."""


def shared_data_path(name: str = "ml-latest-small") -> Path | None:
    """The shared MovieLens copy: ``CFCORE_DATA`` (for ml-latest-small) or ``../shared/data/<name>``."""
    configured = os.environ.get("CFCORE_DATA")
    if configured and name == "ml-latest-small" and Path(configured).exists():
        return Path(configured)
    candidate = REPO.parent / "shared" / "data" / name
    return candidate if candidate.exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def log_tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


_LIVE_SERVERS: set[subprocess.Popen] = set()


def _stop_live_servers() -> None:
    for process in list(_LIVE_SERVERS):
        stop_server(process)


def _exit_on_sigterm() -> None:
    # A run killed by `timeout` (SIGTERM) would skip its finally blocks and leave the server, which has its own
    # process group, running; as SystemExit the finally blocks and the atexit hook below stop it.
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


atexit.register(_stop_live_servers)


def start_server(
    env_overrides: dict[str, str], log_path: Path, extra_args: Sequence[str] = (),
    timeout_s: float = SERVER_START_TIMEOUT_S, port: int | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` on a free loopback port (or ``port``); return (process, base URL) once healthy.

    Raises:
        ServerError: when the shared data is missing, the server exits, or it is not healthy in time.
    """
    data = shared_data_path()
    if data is None:
        raise ServerError("the shared ml-latest-small copy was not found; set CFCORE_DATA to its folder")
    port = port or free_port()
    env = {**os.environ, "CFCORE_DATA": str(data), "TF_CPP_MIN_LOG_LEVEL": "2", **env_overrides}
    if "CFCORE_STATE_DIR" not in env_overrides:  # never the user's own workspaces
        env["CFCORE_STATE_DIR"] = tempfile.mkdtemp(prefix="cfcore-state-")
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        # Other people edit files in this checkout: no file watcher, no reruns on save.
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false", *extra_args,
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _exit_on_sigterm()
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop_server
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _LIVE_SERVERS.add(process)
    process.log_file = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop_server(process)
            raise ServerError(f"streamlit exited with code {process.returncode}:\n{log_tail(log_path)}")
        if healthy(url):
            return process, url
        time.sleep(0.1)
    stop_server(process)
    raise ServerError(f"streamlit was not healthy after {timeout_s:.0f} s:\n{log_tail(log_path)}")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate the server's process group (Streamlit may start helpers), then kill if it lingers."""
    _LIVE_SERVERS.discard(process)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    log = getattr(process, "log_file", None)
    if log is not None:
        log.close()


def launch_chromium(playwright):
    """Debian's Chromium, headless (Playwright's own browser download does not work here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# -- memory ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
    return kids


def _descendants(pid: int) -> list[int]:
    found, todo = [], _children(pid)
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(_children(current))
    return found


def tree_rss(pid: int, descendants: bool = True) -> int:
    """Resident memory of a process and (unless ``descendants`` is False) its descendants, in bytes."""
    total = 0
    for current in [pid, *(_descendants(pid) if descendants else [])]:
        with contextlib.suppress(OSError), open(f"/proc/{current}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def trainer_pids(pid: int) -> list[int]:
    """The server's trainer processes (``python -m cfcore.trainer.worker`` children)."""
    found = []
    for child in _children(pid):
        with contextlib.suppress(OSError), open(f"/proc/{child}/cmdline", "rb") as fh:
            if b"cfcore.trainer.worker" in fh.read():
                found.append(child)
    return found


def _cpu_seconds(pids: Sequence[int]) -> float:
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def browser_pids() -> list[int]:
    """This process's Chromium processes (the benchmark's browsers)."""
    found = []
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"chrom" in fh.read():
                found.append(pid)
    return found


def set_browsers_share(nice: int) -> int:
    """Set the CPU share of this process's Chromium: its kernel autogroup's nice (Chromium runs in a session of
    its own, so the server's autogroup does not change). At 19 the browsers use what the server and its trainer
    leave, as if they ran on other machines; 0 is the default. Returns how many autogroups now have that nice
    (0 when none could be set)."""
    groups: dict[str, int] = {}  # autogroup name -> one of its processes
    for pid in browser_pids():
        with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup") as fh:
            groups.setdefault(fh.read().split()[0], pid)
    changed = 0
    for pid in groups.values():
        for _ in range(20):  # without CAP_SYS_ADMIN the kernel refuses a second change within 0.1 s (EAGAIN)
            try:
                with open(f"/proc/{pid}/autogroup", "w") as fh:
                    fh.write(str(nice))
                break
            except BlockingIOError:
                time.sleep(0.11)
            except OSError:
                break
        with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup") as fh:
            changed += fh.read().split()[-1] == str(nice)
    return changed


def cpu_by_role(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the app server itself, its trainer processes, this process's Chromium
    processes (the benchmark's browsers) and the rest of this process's tree (the driver: this Python and
    Playwright's own process): subtract two readings to see where a stretch of time went."""
    browsers = browser_pids()
    server_tree = {server_pid, *_descendants(server_pid)}
    others = [pid for pid in _descendants(os.getpid()) if pid not in server_tree and pid not in browsers]
    return {"server": _cpu_seconds([server_pid]), "trainer": _cpu_seconds(trainer_pids(server_pid)),
            "browsers": _cpu_seconds(browsers), "driver": _cpu_seconds([os.getpid(), *others])}


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role: round(after[role] - before[role], 1) for role in after}


class RssSampler(threading.Thread):
    """Samples a process tree's RSS (or, with ``descendants=False``, the process's alone) every 200 ms and keeps
    the peak."""

    def __init__(self, pid: int, descendants: bool = True):
        super().__init__(daemon=True)
        self.pid, self.descendants, self.peak, self._halt = pid, descendants, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss(self.pid, self.descendants))
            self._halt.wait(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


def settled_rss(pid: int, seconds: float = 3.0, descendants: bool = True) -> int:
    """RSS after a short quiet period (median of a few samples), in bytes."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(tree_rss(pid, descendants))
        time.sleep(0.3)
    return int(statistics.median(samples))


# -- pages -----------------------------------------------------------------------------

APP_SELECTOR = '[data-testid="stApp"]'
_SCRIPT_IDLE_JS = (
    "() => document.querySelector('[data-testid=\"stApp\"]')"
    "?.getAttribute('data-test-script-state') === 'notRunning'"
)


def wait_for_app(page, timeout_ms: int, settle_ms: int = 200) -> None:
    """Wait until the page is connected and its script has finished (reruns included). While a training runs,
    its live panel's script runs on the server until the training ends (ui/job_panel.py, ``watch``)."""
    page.locator(f'{APP_SELECTOR}[data-test-connection-state="CONNECTED"]').wait_for(timeout=timeout_ms)
    for _ in range(2):  # a script may st.rerun(): require idle twice, a moment apart
        page.wait_for_function(_SCRIPT_IDLE_JS, timeout=timeout_ms)
        page.wait_for_timeout(settle_ms)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# In the page: when the last click happened (performance.now(), ms), set by a capturing listener that go_to
# installs once per page. Streamlit switches pages without reloading the document, so the listener stays.
_CLICK_CLOCK_JS = """() => {
    window.__benchClickAt = null;
    if (!window.__benchClickHook) {
        window.__benchClickHook = true;
        document.addEventListener('click', () => { window.__benchClickAt = performance.now(); }, true);
    }
}"""

_RENDERED_JS = """(title) => {
    if (document.querySelector('[data-testid="stException"]')) return 'exception';
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
    if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const heading = document.querySelector('[data-testid="stMain"] h1');
    if (!heading || !heading.innerText.trim().startsWith(title)) return false;
    if (document.querySelector('[data-testid="stSkeleton"]')) return false;
    // Plotly draws after the element mounts: every chart must have its SVG.
    for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
        if (!chart.querySelector('.main-svg')) return false;
    }
    return {sinceClick: window.__benchClickAt == null ? null : (performance.now() - window.__benchClickAt) / 1000};
}"""


def wait_rendered(page, title: str, timeout_ms: int) -> float | None:
    """Wait until the page titled ``title`` is on screen: script finished, no placeholders, charts drawn.

    The first moment all of that holds is what the benchmarks time; it adds no settling delay. Returns the
    seconds since the page's last click, by the page's own clock (None when no click was recorded).
    """
    state = page.wait_for_function(_RENDERED_JS, arg=title, timeout=timeout_ms, polling=25).json_value()
    if state == "exception":
        text = page.get_by_test_id("stException").first.inner_text()
        raise AppError(f"the {title} page shows an exception: {text.splitlines()[0] if text else '(no text)'}")
    return state.get("sinceClick")


def go_to_timed(page, title: str, timeout_ms: int) -> tuple[float, float]:
    """Click the sidebar link ``title``; return (seconds from the click to the rendered page, measured in the
    page; seconds including the test driver's click, measured here).

    The first is what a person clicking sees. The second adds Playwright's own work before the click lands
    (finding the link, waiting for it to be stable over two frames, scrolling, hit-testing), which under load
    can take a second by itself. Waits for any follow-up rerun to finish before returning (not timed), so
    the next action starts clean.
    """
    page.evaluate(_CLICK_CLOCK_JS)
    started = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    in_page = wait_rendered(page, title, timeout_ms)
    with_driver = time.perf_counter() - started
    wait_for_app(page, timeout_ms)
    if in_page is None:
        raise RuntimeError(f"the click on {title!r} was not seen by the page")
    return in_page, with_driver


def go_to(page, title: str, timeout_ms: int) -> float:
    """Click the sidebar link ``title``; return the seconds from the click to the rendered page (in the page)."""
    return go_to_timed(page, title, timeout_ms)[0]
