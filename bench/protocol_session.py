"""A learner's session without a browser: Streamlit's own websocket protocol, spoken from Python.

The server cannot tell it from a browser: it opens a page, presses buttons and asks for its fragments' timed
reruns as the browser's code does, and gets the same messages. It draws nothing, so thirty of them load the
server as thirty learners do while their drawing happens elsewhere (in a class, on each learner's own machine),
which thirty Chromium pages on this machine's two cores cannot show. ``bench/load.py --class-browsers`` uses it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect


class ProtocolError(RuntimeError):
    """The server did not answer as a browser's session expects."""


class ProtocolSession:
    """One session on ``base_url`` (``http://host:port``), opened on ``page`` (a URL path such as ``"train"``) with
    the URL's ``query`` string (``"seed=7"``).

    ``marks`` are byte strings to watch for: :meth:`seen_at` gives when a message holding each first came after
    :meth:`arm` (the monotonic clock of this process, read as the message arrives).
    """

    def __init__(self, base_url: str, page: str = "", marks: Iterable[bytes] = (), query: str = ""):
        self._socket = connect(base_url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                               max_size=None, open_timeout=30)
        self._send_lock = threading.Lock()
        self._changed = threading.Condition()
        self.query_string = query
        self.page_script_hash = ""
        self.buttons: dict[str, str] = {}  # label -> widget id, from the latest messages
        self.pages: dict[str, str] = {}  # URL path -> page script hash, from the app's navigation
        self.runs_finished = 0
        self._timers: dict[str, threading.Event] = {}  # fragment id -> set to stop its timer
        self._marks = tuple(marks)
        self._seen: dict[bytes, float] = {}
        self._armed = False
        self._cache: dict[str, ForwardMsg] = {}
        self.closed = False
        self._reader = threading.Thread(target=self._read, name="protocol-session", daemon=True)
        self._reader.start()
        self._rerun(page_name=page)

    # -- what a learner does --------------------------------------------------------------------

    def wait_for_run(self, after: int, timeout: float = 60) -> None:
        """Wait until the server has finished more than ``after`` script runs."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.runs_finished > after or self.closed, timeout):
                raise ProtocolError(f"no script run finished within {timeout:.0f} s")
        if self.closed:
            raise ProtocolError("the server closed the session")

    def open(self, page: str) -> None:
        """Go to the page at URL path ``page``, as the sidebar's link does."""
        if page not in self.pages:
            raise ProtocolError(f"no page {page!r} in the app (pages: {sorted(self.pages)})")
        self.page_script_hash = self.pages[page]
        self._rerun()

    def click(self, label: str) -> None:
        """Press the button labelled ``label`` on the page shown now."""
        if label not in self.buttons:
            raise ProtocolError(f"no button {label!r} on the page (buttons: {sorted(self.buttons)})")
        self._rerun(widgets=[(self.buttons[label], True)])

    def arm(self) -> None:
        """Count the marks from now."""
        self._seen.clear()
        self._armed = True

    def seen_at(self, mark: bytes) -> float | None:
        return self._seen.get(mark)

    def close(self) -> None:
        for stop in self._timers.values():
            stop.set()
        self._socket.close()

    # -- the protocol ---------------------------------------------------------------------------

    def _rerun(self, page_name: str = "", widgets: Iterable[tuple[str, bool]] = (), fragment_id: str = "") -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        state.page_name = page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = bool(fragment_id)
        for widget_id, trigger in widgets:
            widget = state.widget_states.widgets.add()
            widget.id, widget.trigger_value = widget_id, trigger
        with self._send_lock:
            self._socket.send(msg.SerializeToString())

    def _every(self, fragment_id: str, interval: float, stop: threading.Event) -> None:
        # What the browser's fragment timer does: ask for the fragment's rerun every ``interval`` seconds.
        while not stop.wait(interval) and not self.closed:
            try:
                self._rerun(fragment_id=fragment_id)
            except Exception:  # the session closed under the timer
                return

    def _read(self) -> None:
        try:
            for frame in self._socket:
                if isinstance(frame, bytes):
                    self._handle(frame)
        except Exception:  # a closed connection ends the reader
            pass
        finally:
            with self._changed:
                self.closed = True
                self._changed.notify_all()

    def _handle(self, frame: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(frame)
        if msg.WhichOneof("type") == "ref_hash":  # a message the server believes this client has kept
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                return
            frame, msg = cached.SerializeToString(), cached
        elif msg.metadata.cacheable:
            self._cache[msg.hash] = msg
        if self._armed:
            now = time.monotonic()
            for mark in self._marks:
                if mark not in self._seen and mark in frame:
                    self._seen[mark] = now
        kind = msg.WhichOneof("type")
        if kind == "new_session":  # a full run starts: the fragments' timers are set again by the run
            self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
            self.buttons.clear()
            for stop in self._timers.values():
                stop.set()
            self._timers.clear()
        elif kind == "navigation":
            self.page_script_hash = msg.navigation.page_script_hash or self.page_script_hash
            self.pages = {page.url_pathname: page.page_script_hash for page in msg.navigation.app_pages}
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            if element.WhichOneof("type") == "button":
                self.buttons[element.button.label] = element.button.id
        elif kind == "auto_rerun":
            fragment_id = msg.auto_rerun.fragment_id
            if fragment_id not in self._timers:
                stop = self._timers[fragment_id] = threading.Event()
                threading.Thread(target=self._every, args=(fragment_id, msg.auto_rerun.interval, stop),
                                 daemon=True).start()
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                if (stop := self._timers.pop(fragment_id, None)) is not None:
                    stop.set()
        elif kind == "script_finished":
            with self._changed:
                self.runs_finished += 1
                self._changed.notify_all()
