"""The benchmark harness never leaves a Streamlit server behind, even when its run is killed by `timeout`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import REPO, healthy
from tests.support.waiting import wait_for

SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from bench.harness import start_server
process, url = start_server({{}}, Path({log!r}))
print(process.pid, url, flush=True)
time.sleep(600)
"""


def test_a_benchmark_stopped_by_sigterm_stops_its_server(tmp_path):
    script = SCRIPT.format(repo=str(REPO), log=str(tmp_path / "server.log"))
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        pid, url = runner.stdout.readline().split()
        assert healthy(url)
        runner.send_signal(signal.SIGTERM)  # what `timeout` sends
        assert runner.wait(timeout=60) == 128 + signal.SIGTERM
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=30, interval=0.1)
        assert not Path(f"/proc/{pid}").exists(), "the server outlived the benchmark"
        assert not healthy(url)
    finally:
        if runner.poll() is None:
            runner.kill()
        if "pid" in locals() and Path(f"/proc/{pid}").exists():
            os.killpg(int(pid), signal.SIGKILL)


def test_page_switches_are_timed_from_the_click_in_the_page(page, app_url):
    from bench.harness import go_to_timed, wait_for_app

    page.goto(app_url, wait_until="domcontentloaded")
    wait_for_app(page, 60_000)
    for title in ("Compare", "Data"):
        in_page, with_driver = go_to_timed(page, title, 60_000)
        assert 0 < in_page <= with_driver < 60


def test_cpu_by_role_counts_the_server_process_and_not_the_browsers():
    from bench.harness import browser_pids, cpu_by_role, cpu_used

    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 1.0\n"
                             "while time.process_time() < end: pass\ntime.sleep(30)"])
    try:
        before = cpu_by_role(busy.pid)
        time.sleep(2.0)  # the child burns 1 s of CPU, then sleeps
        used = cpu_used(before, cpu_by_role(busy.pid))
        assert set(used) == {"server", "trainer", "browsers", "driver"}
        assert 0.5 <= used["server"] <= 1.5, used
        assert used["driver"] < 0.5, used  # the busy child is the "server" here, not counted twice
        assert used["trainer"] == 0.0, used  # it has no trainer child
        # Not a browser: this test's Chromium (other tests' pages may be open) is counted apart from it.
        assert busy.pid not in browser_pids()
    finally:
        busy.kill()


def test_the_browsers_share_goes_to_their_own_autogroup_and_back():
    from bench.harness import browser_pids, set_browsers_share

    # A stand-in for Chromium: a child in a session of its own (as Playwright starts the browser) whose command
    # line names it.
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "chromium-stand-in"],
                            start_new_session=True)
    own = Path("/proc/self/autogroup").read_text()
    try:
        wait_for(lambda: fake.pid in browser_pids(), timeout=10, interval=0.05)
        assert set_browsers_share(19) >= 1
        assert Path(f"/proc/{fake.pid}/autogroup").read_text().split()[-1] == "19"
        assert Path("/proc/self/autogroup").read_text() == own  # the benchmark's (and the server's) share unchanged
        set_browsers_share(0)
        assert Path(f"/proc/{fake.pid}/autogroup").read_text().split()[-1] == "0"
    finally:
        fake.kill()


def test_a_protocol_session_opens_the_train_page_presses_train_and_gets_the_pushed_result(app_url):
    """bench/load.py --class-browsers: a learner without a browser (Streamlit's protocol spoken from Python) gets
    a workspace, the Train button, the live progress and the result, as a browser's session does."""
    from bench.protocol_session import ProtocolSession

    progress, result = " · batch ".encode(), b"Final val RMSE"
    # A seed of its own: another test's identical training, finished, would be reused with no progress to see.
    session = ProtocolSession(app_url, "", marks=(progress, result), query="seed=9001")
    try:
        session.wait_for_run(0, 60)
        runs = session.runs_finished
        session.open("train")
        session.wait_for_run(runs, 60)
        assert "ws=" in session.query_string, session.query_string
        session.arm()
        session.click("Train")  # the article's settings
        wait_for(lambda: session.seen_at(result) is not None or session.closed, timeout=180, interval=0.1)
        assert session.seen_at(progress) is not None, "no live progress came"
        assert session.seen_at(result) is not None, "no result came"
        assert session.seen_at(progress) < session.seen_at(result)
    finally:
        session.close()
