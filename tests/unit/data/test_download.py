"""cfcore.data.download against a real local HTTP server: the cache, cut and wrong archives, the published
MD5, hosts that cannot be reached, and the advice the CLI and the app add."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile

import pytest

from cfcore.data.download import DownloadError, download_dataset
from cfcore.data.errors import DataError
from cfcore.data.sources import load_dataset


def build_zip(frames, top: str = "ml-latest-small") -> bytes:
    """A GroupLens-style archive: the two CSV files inside one top folder."""
    ratings, movies = frames
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{top}/", "")
        zf.writestr(f"{top}/ratings.csv", ratings.to_csv(index=False))
        zf.writestr(f"{top}/movies.csv", movies.to_csv(index=False))
        zf.writestr(f"{top}/README.txt", "synthetic")
    return buffer.getvalue()


class Server:
    """A one-file HTTP server on 127.0.0.1 in a thread; ``payload`` is what every GET returns."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.md5: str | None = None  # what <url>.md5 answers; None: 404, as a server without one
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                if self.path.endswith(".md5"):
                    body = (owner.md5 or "").encode()
                    self.send_response(200 if owner.md5 else 404)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(owner.payload)))
                self.end_headers()
                self.wfile.write(owner.payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files/ml-latest-small.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def good_zip(synthetic_frames) -> bytes:
    return build_zip(synthetic_frames)


@pytest.fixture
def server(good_zip):
    srv = Server(good_zip)
    yield srv
    srv.stop()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ml-latest-small.zip"


def test_download_extracts_loads_and_then_uses_the_cache(server, tmp_path, capsys):
    folder = download_dataset(url=server.url, cache=tmp_path)
    assert folder == tmp_path / "ml-latest-small"
    assert (folder / ".complete").exists() and (folder / "README.txt").exists()
    assert server.requests == 1
    ds = load_dataset(folder)
    assert (ds.n_users, ds.n_movies) == (60, 40)
    # Nothing reaches stdout (the CLI's --json channel).
    assert capsys.readouterr().out == ""
    # The zip is not kept: only the extracted, validated folder is the cache.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-latest-small"]

    server.stop()
    again = download_dataset(url=server.url, cache=tmp_path)
    assert again == folder and load_dataset(again).n_ratings == ds.n_ratings


def test_truncated_zip_is_rejected_and_not_cached(server, good_zip, tmp_path):
    server.payload = good_zip[: len(good_zip) // 2]
    with pytest.raises(DataError) as info:
        download_dataset(url=server.url, cache=tmp_path)
    assert "not a zip archive, or a cut one" in str(info.value) and server.url in str(info.value)
    assert server.requests == 2  # one retry from scratch, then give up
    assert list(tmp_path.iterdir()) == []
    # Once the server is fixed, the next call downloads afresh instead of reusing anything.
    server.payload = good_zip
    folder = download_dataset(url=server.url, cache=tmp_path)
    assert load_dataset(folder).n_users == 60 and server.requests == 3


def test_archive_without_movielens_files_is_rejected(server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("other/readme.txt", "not ratings")
    server.payload = buffer.getvalue()
    with pytest.raises(DataError, match="no ratings.csv found"):
        download_dataset(url=server.url, cache=tmp_path)
    assert not (tmp_path / "ml-latest-small").exists()


def test_interrupted_cache_is_replaced(server, tmp_path):
    folder = download_dataset(url=server.url, cache=tmp_path)
    (folder / ".complete").unlink()
    (folder / "movies.csv").unlink()
    assert download_dataset(url=server.url, cache=tmp_path) == folder
    assert server.requests == 2
    assert (folder / ".complete").exists() and load_dataset(folder).n_movies == 40


def test_cache_with_a_wrong_header_is_replaced(server, tmp_path):
    folder = download_dataset(url=server.url, cache=tmp_path)
    (folder / "ratings.csv").write_text("<html>captive portal</html>\n")
    download_dataset(url=server.url, cache=tmp_path)
    assert server.requests == 2
    assert load_dataset(folder).n_users == 60


def test_stale_archive_in_the_cache_is_not_reused(server, tmp_path):
    # A partial zip left by a killed process must not be taken for the download.
    (tmp_path / "ml-latest-small.zip").write_bytes(b"PK\x03\x04partial")
    folder = download_dataset(url=server.url, cache=tmp_path)
    assert server.requests == 1 and load_dataset(folder).n_users == 60


def test_unreachable_server_without_cache_is_one_complete_message(tmp_path):
    with pytest.raises(DownloadError) as info:
        download_dataset(url=closed_port_url(), cache=tmp_path)
    message = str(info.value)
    assert message.startswith("could not download ml-latest-small from 127.0.0.1: ")
    assert "--data" not in message and "\n" not in message and not message.endswith(("...", "("))
    assert not (tmp_path / "ml-latest-small").exists()


def test_a_host_that_cannot_be_resolved_fails_within_three_seconds(tmp_path, monkeypatch):
    """A resolver that hangs (seen: a class network with a dead name server) is given up on, not waited for."""
    import time

    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: time.sleep(30))
    started = time.monotonic()
    with pytest.raises(DownloadError, match="no answer looking up files.example.org within 3 s"):
        download_dataset(url="https://files.example.org/ml-latest-small.zip", cache=tmp_path)
    assert time.monotonic() - started < 3.5
    monkeypatch.undo()
    started = time.monotonic()
    with pytest.raises(DownloadError, match="the address no-such-host.invalid cannot be found"):
        download_dataset(url="https://no-such-host.invalid/ml-latest-small.zip", cache=tmp_path)
    assert time.monotonic() - started < 3.5


@pytest.mark.slow
def test_a_cut_response_is_a_download_error(tmp_path):
    """http.client's own errors (a body shorter than announced, a captive portal's garbage) are not OSErrors."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            connection.recv(4096)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nPK\x03\x04 cut short")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/ml-latest-small.zip"
    with pytest.raises(DownloadError, match="could not download ml-latest-small from 127.0.0.1"):
        download_dataset(url=url, cache=tmp_path)
    listener.close()


def test_the_published_md5_is_checked(server, good_zip, tmp_path):
    import hashlib

    server.md5 = "0" * 32 + "  ml-latest-small.zip\n"
    with pytest.raises(DownloadError, match="MD5 is .* not the 0000"):
        download_dataset(url=server.url, cache=tmp_path)
    assert list(tmp_path.iterdir()) == []
    server.md5 = f"{hashlib.md5(good_zip).hexdigest()}  ml-latest-small.zip\n"
    assert load_dataset(download_dataset(url=server.url, cache=tmp_path)).n_users == 60


def test_the_cli_adds_its_own_advice_and_the_app_its_own(tmp_path, monkeypatch, routed):
    import subprocess
    import sys

    env = {"CFCORE_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "CFCORE_STATE_DIR": str(tmp_path)}
    script = ("import cfcore.constants as C, sys; C.DATASET_URL = sys.argv[1]; import cfcore.data.download as D; "
              "D.download_dataset.__defaults__ = (sys.argv[1], None); from cfcore.cli.main import main; "
              "sys.exit(main(['train', '--out', sys.argv[2], '--preset', 'fast']))")
    done = subprocess.run([sys.executable, "-c", script, closed_port_url(), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "could not download ml-latest-small" in done.stderr and "--data PATH" in done.stderr

    import streamlit as st

    from cfcore.data import download
    from tests.support.app import open_app
    from tests.support.text import shown

    monkeypatch.setattr(download.download_dataset, "__defaults__", (closed_port_url(), None))
    monkeypatch.delenv("CFCORE_DATA", raising=False)
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "app-cache"))
    st.cache_resource.clear()
    at = open_app()
    errors = " ".join(shown(e.value) for e in at.error)
    advice = " ".join(shown(i.value) for i in at.info)
    assert "could not download ml-latest-small" in errors and "--data" not in errors + advice
    assert "Upload" in advice and "Try again" in advice
    st.cache_resource.clear()
