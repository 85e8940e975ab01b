"""The few adjustments to Streamlit the app still makes: routing through app.py from a process's first
request, and having the browser fetch chart and widget code early.

Each function is idempotent and a no-op where Streamlit looks different from what it expects (a future version
may have fixed the problem), so none of them can break the app. The patches that existed only because trainings
ran on threads inside the server (the GIL switch interval, Keras's per-rerun ``clear_session`` hook, the reaper of
expired sessions) went with the trainer process.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path

import streamlit as st


def leave_pages_folder_mode() -> None:
    """Route through app.py even on a process's first request.

    Streamlit treats a ``pages/`` folder next to the entry script as an old-style
    multipage app until the first ``st.navigation`` call in the process: until
    then a deep link (``/train``) runs the page file directly, skipping app.py
    and listing every file in ``pages/`` (``common`` too) in the menu. Turning
    the old mode off, and rerunning when a page file was run without app.py,
    gives app.py's routing. Whether a run went the old way is read from the call stack, not from the mode's
    flag: every run that started before the flag changed (tabs reconnecting together after a restart) needs
    its rerun, and a fragment's rerun (no app.py on the stack either) needs none.

    Kept because Streamlit 1.67 has no supported switch for it (``PagesManager`` decides from the folder's
    existence alone) and the project's layout names ``pages/``; without it a deep link's first visit showed a
    menu of raw file names (tests/app/test_app_routing.py, the deep-link test).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:  # a future Streamlit without the old mode
        return
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    main = ctx.pages_manager.main_script_path
    if os.path.basename(main) != "app.py":
        return  # a page file run on its own (AppTest.from_file("pages/x.py")): nothing to route
    PagesManager.uses_pages_directory = False
    main = os.path.realpath(main)
    old_mode = through_app = False
    frame = sys._getframe(1)
    while frame is not None:
        old_mode = old_mode or frame.f_code.co_name == "_mpa_v1"  # Streamlit's runner of the old mode
        name = frame.f_code.co_filename
        through_app = through_app or (name.endswith("app.py") and os.path.realpath(name) == main)
        frame = frame.f_back
    if old_mode and not through_app:
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
