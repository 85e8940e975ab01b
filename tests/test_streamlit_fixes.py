"""The server-wide Streamlit adjustments: closed sessions are shut down (freeing uploads) when dropped."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from pages.streamlit_fixes import runtime_session_manager, shut_down_expired_sessions


class FakeSession:
    def __init__(self, session_id: str):
        self.id = session_id
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1


class FakeManager:
    """The two things the fix uses from Streamlit's WebsocketSessionManager."""

    def __init__(self, storage: MemorySessionStorage):
        self._session_storage = storage
        self.active: set[str] = set()

    def is_active_session(self, session_id: str) -> bool:
        return session_id in self.active


def _store(manager: FakeManager, session: FakeSession) -> None:
    manager._session_storage.save(SessionInfo(client=None, session=session, script_run_count=1))


def test_an_expired_closed_session_is_shut_down_when_dropped():
    manager = FakeManager(MemorySessionStorage(ttl_seconds=1))
    reap = shut_down_expired_sessions(manager)
    assert callable(reap)
    closed = FakeSession("closed")
    _store(manager, closed)
    time.sleep(1.2)
    assert closed.shutdowns == 0  # Streamlit alone would keep it until the next write, then just drop it
    manager._session_storage._cache.expire()  # what reap() schedules on the event loop
    assert closed.shutdowns == 1
    assert manager._session_storage.get("closed") is None


def test_a_write_that_reaps_old_entries_shuts_them_down_too():
    manager = FakeManager(MemorySessionStorage(ttl_seconds=1))
    shut_down_expired_sessions(manager)
    old = FakeSession("old")
    _store(manager, old)
    time.sleep(1.2)
    _store(manager, FakeSession("new"))  # the next visitor leaving
    assert old.shutdowns == 1


def test_a_reconnecting_session_is_not_shut_down():
    manager = FakeManager(MemorySessionStorage(ttl_seconds=60))
    shut_down_expired_sessions(manager)
    back = FakeSession("back")
    _store(manager, back)
    # Streamlit marks the session active again, then removes it from the store.
    manager.active.add("back")
    manager._session_storage.delete("back")
    assert back.shutdowns == 0


def test_installing_twice_keeps_one_hook_and_unknown_stores_are_left_alone():
    manager = FakeManager(MemorySessionStorage(ttl_seconds=1))
    assert shut_down_expired_sessions(manager) is shut_down_expired_sessions(manager)
    session = FakeSession("s")
    _store(manager, session)
    time.sleep(1.2)
    manager._session_storage._cache.expire()
    assert session.shutdowns == 1
    assert shut_down_expired_sessions(SimpleNamespace(_session_storage=object())) is None
    assert shut_down_expired_sessions(SimpleNamespace()) is None


def test_reap_without_a_running_server_does_nothing():
    manager = FakeManager(MemorySessionStorage(ttl_seconds=1))
    reap = shut_down_expired_sessions(manager)
    session = FakeSession("s")
    _store(manager, session)
    assert runtime_session_manager() is None  # no Streamlit server in a test process
    reap()
    assert session.shutdowns == 0


def _chart_code_script():
    import streamlit as st

    from pages.streamlit_fixes import start_loading_chart_code

    slot = start_loading_chart_code()
    st.write("placeholder kept" if slot is not None else "no placeholder")


def test_chart_code_is_requested_once_per_session_with_an_invisible_chart():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_chart_code_script).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and at.markdown[0].value == "placeholder kept"
    spec = json.loads(charts[0].proto.spec)
    assert spec["layout"]["height"] <= 10 and spec["data"][0]["marker"]["opacity"] == 0
    at.run()
    assert not at.get("plotly_chart") and at.markdown[0].value == "no placeholder"


def test_the_app_clears_the_chart_code_placeholder(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CFCORE_DATA", str(tmp_path / "missing"))  # the Data page stops with an error message
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.session_state["_chart_code_requested"] is True
    assert not at.get("plotly_chart")


def test_the_app_hands_over_the_gil_sooner_but_never_slower():
    import sys

    import pages.common  # noqa: F401 - importing it applies the setting, as the server does
    from pages.streamlit_fixes import GIL_SWITCH_INTERVAL_S, hand_over_the_gil_sooner

    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    original = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.0001)
        hand_over_the_gil_sooner()
        assert sys.getswitchinterval() == pytest.approx(0.0001)  # a smaller interval someone chose stays
        sys.setswitchinterval(0.005)
        hand_over_the_gil_sooner()
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    finally:
        sys.setswitchinterval(original)


def test_every_widget_chunk_name_is_a_file_of_the_installed_streamlit():
    """A Streamlit upgrade that renames a chunk makes this fail instead of silently preloading nothing."""
    from pages.streamlit_fixes import WIDGET_CHUNKS, widget_chunk_files

    files = widget_chunk_files()
    for name in WIDGET_CHUNKS:
        assert any(f.startswith(f"{name}.") for f in files), name
    assert all(f.endswith(".js") for f in files)


def _widget_code_script():
    from pages.streamlit_fixes import preload_widget_code

    preload_widget_code()


def test_widget_code_is_preloaded_once_per_session_from_the_sidebar():
    from streamlit.testing.v1 import AppTest

    from pages.streamlit_fixes import widget_chunk_files

    at = AppTest.from_function(_widget_code_script).run()
    assert not at.exception
    [html] = at.sidebar.get("html")
    body = html.proto.body
    assert "<script>" in body and all(f'"{name}"' in body for name in widget_chunk_files())
    assert not at.main.get("html")
    at.run()
    assert not at.sidebar.get("html")
