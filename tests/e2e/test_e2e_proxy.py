"""Hosting: the app behind deploy/nginx.conf, run as docs/hosting.md says, and used through the proxy in Chromium.

The app runs on Streamlit's default 127.0.0.1:8501 with the public profile, nginx on 127.0.0.1:8080 exactly as
``nginx -p DIR -c deploy/nginx.conf``; every request of the journey goes through port 8080. Without the
websocket upgrade the page never connects; with nginx's default 1 MB body limit the 2 MB upload fails.
"""

from __future__ import annotations

import base64
import configparser
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from bench.harness import ServerError, start_server, stop_server
from tests.support.browser import (
    ARTIFACTS,
    REPO,
    assert_no_traceback,
    go_to,
    metric_value,
    open_page,
    screenshot,
    select_option,
    upload,
    wait_for_app,
    watch_training,
)

pytestmark = pytest.mark.e2e

CONF = REPO / "deploy" / "nginx.conf"
SERVICE = REPO / "deploy" / "cfcore.service"
APP_PORT, PROXY_PORT = 8501, 8080
PROXY = f"http://127.0.0.1:{PROXY_PORT}"
FLOOD = "127.0.0.3"  # one hostile client's address (loopback: 127.0.0.0/8)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _nginx(prefix, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["nginx", "-p", str(prefix), "-c", str(CONF), *args], capture_output=True, text=True,
                          timeout=30)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """The app on 127.0.0.1:8501 and nginx in front of it on 127.0.0.1:8080; yields the app's process."""
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed: `apt-get install nginx` (.ci/run does)")
    busy = [port for port in (APP_PORT, PROXY_PORT) if not _port_is_free(port)]
    if busy:
        pytest.fail(f"ports {busy} are taken; this test runs the app and nginx on their documented ports")
    prefix = tmp_path_factory.mktemp("nginx")
    try:
        process, _ = start_server({"CFCORE_PROFILE": "public", "CFCORE_CACHE": str(prefix / "cache")},
                                  ARTIFACTS / "streamlit-proxied.log", port=APP_PORT)
    except ServerError as err:
        pytest.fail(str(err))
    started = _nginx(prefix)
    try:
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{PROXY}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"nginx did not answer the health URL: {(prefix / 'error.log').read_text()[-2000:]}")
        yield process
    finally:
        _nginx(prefix, "-s", "quit")
        stop_server(process)
        if (prefix / "error.log").exists():
            shutil.copy(prefix / "error.log", ARTIFACTS / "nginx-error.log")


def test_the_websocket_upgrade_passes_the_proxy(proxied):
    """The handshake Streamlit's page makes, by hand: 101 from Streamlit, through nginx."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{PROXY_PORT}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=10) as sock:
        sock.sendall(request.encode())
        status = sock.recv(4096).decode(errors="replace").splitlines()[0]
    assert status.startswith("HTTP/1.1 101"), status


def _handshake(key: str) -> bytes:
    return (f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{PROXY_PORT}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: streamlit\r\n\r\n").encode()


def test_one_address_holding_hundreds_of_sockets_leaves_pages_to_everyone_else(proxied):
    """520 websockets and 200 sockets that never send a request, from 127.0.0.3 (once, with the shipped 1,024
    worker connections and no per-address limit, 511 websockets shut every other client out); another address,
    127.0.0.2, still gets the page and its websocket at once. The flood's websockets past the per-address limit
    are refused with 429. (Not from 127.0.0.1: the other tests' browser comes from there.)"""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    flood: list[socket.socket] = []
    try:
        statuses = []
        for _ in range(520):
            sock = socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=10, source_address=(FLOOD, 0))
            flood.append(sock)
            sock.sendall(_handshake(base64.b64encode(os.urandom(16)).decode()))
        for sock in flood:
            statuses.append(sock.recv(4096).decode(errors="replace").split(" ", 2)[1])
        for _ in range(200):
            flood.append(socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=10, source_address=(FLOOD, 0)))
        assert statuses.count("101") <= 64 and statuses.count("429") >= 520 - 64, sorted(set(statuses))

        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=5, source_address=("127.0.0.2", 0)) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{PROXY_PORT}\r\nConnection: close\r\n\r\n".encode())
            page = sock.recv(4096).decode(errors="replace")
        with socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=5, source_address=("127.0.0.2", 0)) as sock:
            sock.sendall(_handshake(base64.b64encode(os.urandom(16)).decode()))
            upgrade = sock.recv(4096).decode(errors="replace")
        assert page.startswith("HTTP/1.1 200") and upgrade.startswith("HTTP/1.1 101"), (page[:80], upgrade[:80])
        assert time.monotonic() - started < 5
    finally:
        for sock in flood:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_service_files_health_probe_passes_against_the_running_app(proxied):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(SERVICE)
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert f"--server.address 127.0.0.1 --server.port {APP_PORT}" in service["ExecStart"]
    probe = service["ExecStartPost"]
    assert "/_stcore/health" in probe
    done = subprocess.run(shlex.split(probe), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def _big_upload(folder) -> tuple:
    """A 2 MB ratings.csv (over nginx's default 1 MB body limit) and its movies.csv."""
    rng = np.random.default_rng(0)
    users, movies = np.divmod(rng.choice(400 * 400, size=120_000, replace=False), 400)
    ratings = pd.DataFrame({"userId": users + 1, "movieId": movies + 1,
                            "rating": rng.integers(1, 11, size=users.size) / 2, "timestamp": 964982703})
    titles = pd.DataFrame({"movieId": np.arange(1, 401), "title": [f"Proxy movie {i}" for i in range(1, 401)],
                           "genres": "Drama"})
    ratings_path, movies_path = folder / "ratings.csv", folder / "movies.csv"
    ratings.to_csv(ratings_path, index=False)
    titles.to_csv(movies_path, index=False)
    assert ratings_path.stat().st_size > 2 * 2**20 * 0.9
    return ratings_path, movies_path, ratings


def test_a_learner_uses_the_app_through_the_proxy(page, proxied, tmp_path):
    # First page: it connects over the websocket and shows the built-in data.
    open_page(page, PROXY)
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    assert metric_value(page, "Ratings") == "100,836"
    assert "/work" not in page.get_by_test_id("stMain").inner_text()  # the public profile hides server paths
    screenshot(page, "proxy-01-data")

    # A training, with its live curve arriving through the proxy.
    go_to(page, "Train")
    select_option(page, "Preset", "fast (seconds)")
    page.get_by_test_id("stButton").filter(has_text="Train").get_by_role("button").click()
    seen = watch_training(page)
    wait_for_app(page)
    assert float(metric_value(page, "Final val RMSE")) < 1.5
    assert len({state["progress"] for state in seen}) >= 2, f"no live progress came through: {seen}"
    assert_no_traceback(page)
    screenshot(page, "proxy-02-trained")

    # A page switch, then a download of the run's history.
    go_to(page, "Compare")
    expect(page.get_by_role("heading", name="Compare", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").filter(has_text="History (CSV)").get_by_role("button").click()
    history = download.value.path().read_text()
    assert history.splitlines()[0].startswith("epoch") and len(history.splitlines()) >= 2, history[:200]

    # An upload bigger than nginx's default body limit.
    go_to(page, "Data")
    page.get_by_test_id("stRadio").get_by_text("Upload ratings.csv and movies.csv").click()
    wait_for_app(page)
    ratings_path, movies_path, ratings = _big_upload(tmp_path)
    upload(page, "ratings.csv (", ratings_path)
    upload(page, "movies.csv (", movies_path)
    expect(page.get_by_test_id("stMetricValue").filter(has_text=re.compile(rf"^{len(ratings):,}$"))).to_be_visible()
    assert metric_value(page, "Users") == f"{ratings.userId.nunique():,}"
    assert_no_traceback(page)
    screenshot(page, "proxy-03-uploaded")
