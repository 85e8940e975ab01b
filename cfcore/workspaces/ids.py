"""Workspace ids (192 random bits, URL-safe), run and job ids, and free run names."""

from __future__ import annotations

import re
import secrets
import threading
import time

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")

RUN_ID_PATTERN = re.compile(r"\d{13}-[0-9a-f]{8}")

JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def new_id() -> str:
    """A fresh workspace id: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


_last_run_ms = [0]

_run_id_lock = threading.Lock()


def new_run_id() -> str:
    """A run folder name that sorts by creation time (strictly increasing within this process)."""
    with _run_id_lock:
        _last_run_ms[0] = max(int(time.time() * 1000), _last_run_ms[0] + 1)
        return f"{_last_run_ms[0]:013d}-{secrets.token_hex(4)}"


def free_name(name: str, taken: set[str]) -> str:
    """``name``, or where it is taken the same model's first free number: "SVD #2" -> "SVD #3"."""
    if name not in taken:
        return name
    model = re.sub(r" #\d+$", "", name)
    number = 1
    while f"{model} #{number}" in taken:
        number += 1
    return f"{model} #{number}"
