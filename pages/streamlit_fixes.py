"""Process-wide adjustments to Streamlit's runtime that a long-running, many-session server needs.

Not a page. Each function is idempotent and a no-op where Streamlit's internals
look different from what it expects (a future version may have fixed the
problem), so none of them can break the app.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st

_LOG = logging.getLogger(__name__)


# Seconds a thread that wants the GIL waits before the holder must let go (Python's default: 0.005).
GIL_SWITCH_INTERVAL_S = 0.0005


def hand_over_the_gil_sooner(seconds: float = GIL_SWITCH_INTERVAL_S) -> None:
    """Lower Python's GIL switch interval for this server process (once; never raises it).

    A page's script thread shares the GIL with the web server's event loop and the
    training threads. Under load (bench/load.py: 20 sessions, 2 trainings) page
    scripts that take 0.05 s alone took 0.3-0.9 s while the machine still had idle
    CPU: each hand-over of the GIL can cost a whole interval. With 0.5 ms the
    trainings took as long as before (30 s for five) and renders were faster
    (README, Load).
    """
    if sys.getswitchinterval() > seconds:
        sys.setswitchinterval(seconds)


def keep_keras_state_between_reruns() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit does that to free Keras state between reruns, but it replaces
    Keras's thread-local state for every thread at once: a model compiling on a
    training thread at that moment fails ("You cannot add new elements of state").
    Trainings here run on worker threads while pages rerun every second, and
    nothing in the app relies on the reset, so the hook is switched off (without
    importing Keras, which the Data page must not load).
    """
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None


def shut_down_expired_sessions(session_mgr: Any) -> Callable[[], None] | None:
    """Make Streamlit shut down a closed session when it drops it, and return a function that drops them.

    Streamlit keeps a closed tab's session for ``server.disconnectedSessionTTL``
    seconds so a reconnect can resume it. When that time is up the entry is
    removed from its session store without ``AppSession.shutdown()``, so the
    session's uploaded files, dataframe sources and media references stay in
    memory for the life of the process; and the store only removes expired
    entries when something new is written to it, so after the last visitor
    leaves nothing is removed at all. This installs a removal hook that shuts the
    dropped session down (unless it was removed because it reconnected), and
    returns ``reap()``, which removes expired entries on Streamlit's event loop;
    the heap janitor calls it before each pass.

    Args:
        session_mgr: The runtime's session manager.

    Returns:
        ``reap``, or None when the session store is not the kind this understands.
    """
    storage = getattr(session_mgr, "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    if cache is None or not hasattr(cache, "_on_remove") or not hasattr(cache, "expire"):
        return None
    if getattr(cache, "_cfcore_reaper", None) is not None:
        return cache._cfcore_reaper
    previous = cache._on_remove

    def on_remove(session_id: str, info: Any) -> None:
        if previous is not None:
            previous(session_id, info)
        # A reconnecting session is put back among the active ones before it leaves the store.
        if session_mgr.is_active_session(session_id):
            return
        try:
            info.session.shutdown()  # idempotent: Streamlit may also shut it down itself
        except Exception:  # one broken session must not stop the others being freed
            _LOG.exception("shutting down expired session %s failed", session_id)

    cache._on_remove = on_remove

    def reap() -> None:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return
        loop = getattr(getattr(Runtime.instance(), "_async_objs", None), "eventloop", None)
        if loop is None:
            cache.expire()
        elif not loop.is_closed():
            # The store is not thread-safe: expire on the event loop, where Streamlit itself uses it.
            loop.call_soon_threadsafe(cache.expire)

    cache._cfcore_reaper = reap
    return reap


def runtime_session_manager() -> Any:
    """The running server's session manager, or None (AppTest, bare mode)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    return getattr(Runtime.instance(), "_session_mgr", None)


def leave_pages_folder_mode() -> None:
    """Route through app.py even on a process's first request.

    Streamlit treats a ``pages/`` folder next to the entry script as an old-style
    multipage app until the first ``st.navigation`` call in the process: until
    then a deep link (``/train``) runs the page file directly, skipping app.py
    and listing every file in ``pages/`` (``common`` too) in the menu. Turning
    the old mode off, and rerunning when a page file was run without app.py,
    gives app.py's routing. A server does this at most once per process.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:  # a future Streamlit without the old mode
        return
    ctx = get_script_run_ctx()
    if ctx is None or not PagesManager.uses_pages_directory:
        return
    main = ctx.pages_manager.main_script_path
    if os.path.basename(main) != "app.py":
        return  # a page file run on its own (AppTest.from_file("pages/x.py")): nothing to route
    PagesManager.uses_pages_directory = False
    main = os.path.realpath(main)
    frame = sys._getframe(1)
    while frame is not None:
        if os.path.realpath(frame.f_code.co_filename) == main:
            return  # app.py is running: its own st.navigation call routes this run
        frame = frame.f_back
    st.rerun()  # a page file was run without app.py: run again, through it


_CHART_CODE_REQUESTED = "_chart_code_requested"


def start_loading_chart_code():
    """On a session's first script run, make the browser start loading Plotly's chart code right away.

    Streamlit's frontend fetches and compiles its 4.7 MB Plotly bundle only when the
    first chart arrives; on a first visit that is about 1.2 s after the page's
    numbers are already on screen. An invisible empty chart sent before the app
    imports pandas lets the browser do that work while the server is busy
    importing and loading data. Returns the placeholder to clear once the real
    content is on its way, or None on later runs.
    """
    if st.session_state.get(_CHART_CODE_REQUESTED):
        return None
    st.session_state[_CHART_CODE_REQUESTED] = True
    slot = st.empty()
    blank = {"data": [{"type": "scatter", "x": [0], "y": [0], "mode": "markers", "marker": {"opacity": 0},
                       "hoverinfo": "skip"}],
             "layout": {"height": 10, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
                        "xaxis": {"visible": False}, "yaxis": {"visible": False}}}
    slot.plotly_chart(blank, config={"staticPlot": True, "displayModeBar": False})
    return slot


_WIDGET_CODE_REQUESTED = "_widget_code_requested"
# Streamlit's frontend keeps each element's code in its own file (a "chunk") and fetches and compiles it the first
# time a page shows that element. These are the chunks of the elements the app's pages use.
WIDGET_CHUNKS = (
    "Button", "Checkbox", "DataFrame", "DownloadButton", "FileUploader", "Metric", "Multiselect", "NumberInput",
    "PageLink", "Progress", "ProgressBar", "Radio", "Selectbox", "Slider", "Spinner", "StreamlitSyntaxHighlighter",
    "TableChart", "TextInput",
)
_PRELOAD_JS = """<script>
(() => {
  const entry = document.querySelector('script[type="module"][src*="static/js/index."]');
  if (!entry) return;
  const folder = entry.src.replace(/[^/]*$/, "");
  const load = () => Promise.allSettled(%s.map((name) => import(folder + name)))
    .then(() => { window.cfcoreWidgetCode = "loaded"; });  // for tests: every file and its imports are in
  if (window.requestIdleCallback) window.requestIdleCallback(load, {timeout: 5000}); else setTimeout(load, 2000);
})();
</script>"""


@cache
def widget_chunk_files() -> tuple[str, ...]:
    """The installed Streamlit's file names for :data:`WIDGET_CHUNKS` (``Selectbox.7rsxE6LC.js``...)."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    return tuple(sorted(path.name for name in WIDGET_CHUNKS for path in folder.glob(f"{name}.*js")))


def preload_widget_code() -> None:
    """On a session's first script run, have the browser load the other pages' element code once it is idle.

    Otherwise a learner's first visit to each page waits while the browser fetches and
    compiles that page's chunks: about 0.2-0.4 s on an idle machine (first visit to
    Train 0.61 s, later visits 0.15 s) and over a second on a loaded one, where that
    made the slowest renders of bench/load.py. The script is ours and names only
    files of the installed Streamlit; the browser runs it when nothing else is
    waiting and keeps the modules, so a page's later ``import`` of them is instant.
    """
    if st.session_state.get(_WIDGET_CODE_REQUESTED):
        return
    st.session_state[_WIDGET_CODE_REQUESTED] = True
    files = widget_chunk_files()
    if files:
        with st.sidebar:
            st.html(_PRELOAD_JS % json.dumps(list(files)), unsafe_allow_javascript=True)
