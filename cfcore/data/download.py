"""Fetching the built-in dataset (ml-latest-small) from GroupLens into the cache, with the standard library only.

A class with a flaky network is the case this is written for: a host that cannot be resolved fails within
:data:`RESOLVE_TIMEOUT_S` seconds, a stalled connection within :data:`READ_TIMEOUT_S`, and the message says what
went wrong in full (no advice: the app and the CLI each add their own). The archive's MD5 is checked against
the ``.md5`` file GroupLens publishes beside it (when that file can be fetched), the archive is extracted with
:func:`cfcore.data.cache.safe_extract_zip`, and the extracted files are recorded in a manifest, so a cut or edited
cache is fetched again instead of being believed. The zip itself is never kept.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cfcore import constants as C
from cfcore import settings
from cfcore.data.cache import check_folder, has_both_files, is_usable_copy, safe_extract_zip, write_manifest
from cfcore.data.errors import DataError

RESOLVE_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 20.0
# ml-latest-small.zip is about 1 MB; anything far bigger is not it.
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
_MD5 = re.compile(rb"\b([0-9a-fA-F]{32})\b")


class DownloadError(DataError):
    """The built-in data could not be fetched; the message says why (the caller says what to do instead)."""


def download_dataset(url: str = C.DATASET_URL, cache: Path | None = None) -> Path:
    """Download and extract the built-in dataset into the cache; return its folder (the cached copy when it is
    complete and unchanged).

    Raises:
        DownloadError: when the host cannot be reached or the archive is unusable (after one retry).
    """
    cache = Path(cache) if cache else settings.cache_dir()
    folder = cache / C.DATASET_NAME
    if is_usable_copy(folder):
        return check_folder(folder)
    shutil.rmtree(folder, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"{C.DATASET_NAME}.zip"
    try:
        for attempt in range(2):
            try:
                _fetch(url, archive)
                return _unpack(url, archive, folder)
            except DownloadError:
                raise
            except DataError as err:  # a corrupt or truncated archive: never use it; retry once from scratch
                shutil.rmtree(folder, ignore_errors=True)
                if attempt == 1:
                    raise DownloadError(f"the data downloaded from {url} is unusable: {err}") from None
    finally:
        archive.unlink(missing_ok=True)
    raise AssertionError("unreachable")


def _resolve(host: str) -> None:
    """Look ``host`` up, giving up after :data:`RESOLVE_TIMEOUT_S` (a resolver can hang for far longer)."""
    outcome: list[BaseException | None] = []

    def look_up() -> None:
        try:
            socket.getaddrinfo(host, None)
            outcome.append(None)
        except OSError as err:
            outcome.append(err)

    worker = threading.Thread(target=look_up, name="cfcore-resolve", daemon=True)
    worker.start()
    worker.join(RESOLVE_TIMEOUT_S)
    if not outcome:
        raise DownloadError(f"could not download {C.DATASET_NAME}: no answer looking up {host} within "
                            f"{RESOLVE_TIMEOUT_S:.0f} s (no network, or no name server)")
    if outcome[0] is not None:
        raise DownloadError(f"could not download {C.DATASET_NAME}: the address {host} cannot be found (no network, "
                            "or no name server)")


def _fetch(url: str, target: Path) -> None:
    host = urllib.parse.urlsplit(url).hostname or url
    _resolve(host)
    try:
        with urllib.request.urlopen(url, timeout=READ_TIMEOUT_S) as response, open(target, "wb") as out:
            copied = 0
            while chunk := response.read(1 << 16):
                copied += len(chunk)
                if copied > MAX_ARCHIVE_BYTES:
                    raise DownloadError(f"{url}: the file is over {MAX_ARCHIVE_BYTES // 2**20} MB; this is not "
                                        f"{C.DATASET_NAME}")
                out.write(chunk)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"could not download {C.DATASET_NAME}: {host} answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:  # cut responses, captive portals
        reason = getattr(err, "reason", None) or err
        words = "timed out" if isinstance(reason, TimeoutError) else str(getattr(reason, "strerror", None) or reason)
        raise DownloadError(f"could not download {C.DATASET_NAME} from {host}: {words}") from None
    expected = _published_md5(url)
    if expected is not None:
        with open(target, "rb") as fh:
            actual = hashlib.file_digest(fh, "md5").hexdigest()
        if actual != expected:
            raise DataError(f"the archive's MD5 is {actual}, not the {expected} that {host} publishes")


def _published_md5(url: str) -> str | None:
    """The MD5 GroupLens publishes next to the archive (``<url>.md5``), or None when it cannot be had."""
    try:
        with urllib.request.urlopen(f"{url}.md5", timeout=READ_TIMEOUT_S) as response:
            found = _MD5.search(response.read(4096))
    except (OSError, ValueError):
        return None
    return found.group(1).decode().lower() if found else None


def _unpack(url: str, archive: Path, folder: Path) -> Path:
    extracted = folder / "_extract"
    safe_extract_zip(archive, extracted)
    inner = check_folder(extracted)
    for item in inner.iterdir():
        shutil.move(str(item), folder / item.name)
    shutil.rmtree(extracted, ignore_errors=True)
    if not has_both_files(folder):
        raise DataError(f"{url}: the archive does not contain MovieLens ratings and movies")
    write_manifest(folder)
    return folder
