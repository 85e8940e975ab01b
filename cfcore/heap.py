"""Giving freed memory back to the operating system in a long-running server.

A Streamlit server lives for days. When a session closes, its runs (Keras
models, arrays) are freed, but glibc keeps the freed pages in its arenas, so
the process's resident size stays at its peak. :func:`release_memory` runs a
full garbage collection and then ``malloc_trim(0)``; :class:`HeapJanitor` does
that on a schedule from one daemon thread. Elsewhere than glibc the trim is a
no-op. TensorFlow's own import (about 550 MB) is never returned: a module
cannot be unloaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from collections.abc import Callable

_LOG = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 60.0


def _load_malloc_trim():
    """glibc's ``malloc_trim``, or None where there is no glibc (macOS, musl, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def can_trim() -> bool:
    """Whether this process's C library can hand freed heap pages back (glibc)."""
    return _MALLOC_TRIM is not None


def release_memory(collect: bool = True) -> bool:
    """Collect garbage (when ``collect``), then return free heap pages to the OS.

    Returns:
        True when ``malloc_trim`` ran and released something, False otherwise.
    """
    if collect:
        gc.collect()
    if _MALLOC_TRIM is None:
        return False
    # ctypes drops the GIL for the call: other threads keep running while glibc walks its arenas.
    return bool(_MALLOC_TRIM(0))


class HeapJanitor:
    """Calls :func:`release_memory` every ``interval`` seconds on a daemon thread.

    A full collection holds the GIL for 0.1-0.3 s with TensorFlow loaded, and
    every page of every session waits meanwhile. So passes are rare (once a
    minute by default, rather than after every page run as Streamlit would),
    :meth:`poke` asks for an early one (a training just ended, a session let go
    of a run), pokes closer together than ``min_gap`` make one pass, and while
    ``busy()`` says the server is working (trainings running or queued) passes
    wait, for at most ``max_defer`` seconds.

    Args:
        interval: Seconds between passes (> 0).
        before_pass: Called at the start of each pass (e.g. to have the web framework drop closed sessions,
            whose memory the pass then frees); its errors are logged, not raised.
        busy: Returns True while a pass should wait; its errors count as not busy.
        min_gap: Least seconds between two passes.
        max_defer: Most seconds ``busy`` may hold passes back.
    """

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        before_pass: Callable[[], None] | None = None,
        *,
        busy: Callable[[], bool] | None = None,
        min_gap: float = 10.0,
        max_defer: float = 300.0,
    ):
        if not interval > 0:
            raise ValueError(f"interval must be positive. Received: interval={interval}")
        self.interval = float(interval)
        self.before_pass = before_pass
        self.busy = busy
        self.min_gap = float(min_gap)
        self.max_defer = float(max_defer)
        self.passes = 0
        self.deferred = 0
        self._last_pass = time.monotonic()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> HeapJanitor:
        """Start the thread (once; later calls do nothing). Returns self."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cfcore-heap-janitor", daemon=True)
                self._thread.start()
        return self

    def poke(self) -> None:
        """Run a pass soon instead of waiting for the interval."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _is_busy(self) -> bool:
        if self.busy is None or time.monotonic() - self._last_pass >= self.max_defer:
            return False
        try:
            return bool(self.busy())
        except Exception:  # a janitor must never take the server down
            _LOG.exception("asking whether the server is busy failed")
            return False

    def _loop(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self.interval)
            if self._halt.is_set():
                return
            since = time.monotonic() - self._last_pass
            if since < self.min_gap and self._halt.wait(self.min_gap - since):
                return  # pokes during the wait join this pass
            self._wake.clear()
            if self._is_busy():
                self.deferred += 1
                continue
            try:
                if self.before_pass is not None:
                    self.before_pass()
                    time.sleep(0.5)  # let whatever it scheduled elsewhere (an event loop) run first
                release_memory()
            except Exception:  # a janitor must never take the server down
                _LOG.exception("releasing memory failed")
            self._last_pass = time.monotonic()
            self.passes += 1
