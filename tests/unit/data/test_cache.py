"""cfcore.data.cache: safe_extract_zip against hostile archives."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cfcore.data.cache import safe_extract_zip
from cfcore.data.errors import DataError


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
    with pytest.raises(DataError, match="is a symbolic link"):
        safe_extract_zip(archive, tmp_path / "out")


def test_safe_extract_rejects_non_zip_and_extracts_good_ones(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(DataError, match="junk.zip: not a zip archive, or a cut one"):
        safe_extract_zip(junk, tmp_path / "out")
    good = write_zip(tmp_path / "good.zip", {"top/a.txt": b"hello", "top/sub/b.txt": b"world"})
    out = safe_extract_zip(good, tmp_path / "out")
    assert (out / "top" / "a.txt").read_bytes() == b"hello" and (out / "top/sub/b.txt").read_bytes() == b"world"
