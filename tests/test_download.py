"""download_dataset against a real local HTTP server, and safe_extract_zip against hostile archives."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from cfcore.data import DataError, download_dataset, load_dataset, safe_extract_zip


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
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
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
    # get_file's progress output must not reach stdout (the CLI's --json channel).
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
    assert "not a readable zip" in str(info.value) and server.url in str(info.value)
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


def test_unreachable_server_without_cache_says_how_to_provide_data(tmp_path):
    with pytest.raises(DataError) as info:
        download_dataset(url=closed_port_url(), cache=tmp_path)
    message = str(info.value)
    assert message.startswith("could not download ml-latest-small")
    assert "CFCORE_DATA" in message and "--data" in message and "upload" in message
    assert "\n" not in message
    assert not (tmp_path / "ml-latest-small").exists()


# ---------------------------------------------------------------------------
# safe_extract_zip
# ---------------------------------------------------------------------------


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


@pytest.mark.parametrize("member", ["../evil.txt", "ok/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt"])
def test_safe_extract_rejects_members_outside_the_target(tmp_path, member):
    archive = write_zip(tmp_path / "bad.zip", {"fine.txt": b"x", member: b"evil"})
    target = tmp_path / "out" / "inner"
    with pytest.raises(DataError) as info:
        safe_extract_zip(archive, target)
    assert "bad.zip" in str(info.value) and "outside the target folder" in str(info.value)
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not target.exists()  # checked before anything is written


def test_safe_extract_rejects_oversize_archives(tmp_path):
    archive = write_zip(tmp_path / "big.zip", {"a.csv": b"0" * 5000, "b.csv": b"1" * 5000})
    with pytest.raises(DataError, match="big.zip: would extract to 10,000 bytes, over the limit of 4,096"):
        safe_extract_zip(archive, tmp_path / "out", max_bytes=4096)
    assert not (tmp_path / "out").exists()


def test_safe_extract_rejects_symlinks(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="is a link"):
        safe_extract_zip(archive, tmp_path / "out")


def test_safe_extract_rejects_non_zip_and_extracts_good_ones(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(DataError, match="junk.zip: not a readable zip archive"):
        safe_extract_zip(junk, tmp_path / "out")
    good = write_zip(tmp_path / "good.zip", {"top/a.txt": b"hello", "top/sub/b.txt": b"world"})
    out = safe_extract_zip(good, tmp_path / "out")
    assert (out / "top" / "a.txt").read_bytes() == b"hello" and (out / "top/sub/b.txt").read_bytes() == b"world"
