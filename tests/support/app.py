"""Driving the app with Streamlit's AppTest: the whole app (``app.py``) or one page file, and reading what it drew."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.support.paths import APP, REPO
from tests.support.text import shown
from tests.support.workspaces import seed_workspace, workspace_run_names

PAGES = ["pages/data.py", "pages/train.py", "pages/embeddings.py", "pages/recommend.py",
         "pages/under_the_hood.py", "pages/compare.py", "pages/beyond.py"]
PAGES_DIR = REPO / "pages"
TIMEOUT = 120


def open_app(ws: str | None = None, page: str | None = None, **params):
    """The app as a browser opens it (an AppTest of app.py, run): with ``ws``, that workspace's link; ``params``
    more query parameters; ``page`` then switched to. Fails on an exception."""
    at = AppTest.from_file(APP, default_timeout=60)
    if ws is not None:
        at.query_params["ws"] = ws
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def page_app(page: str, run=None, **runs) -> AppTest:
    """The page opened on a workspace holding ``run`` (as "tiny", the active one) and ``runs`` by name."""
    from cfcore.training.save import save_run

    at = AppTest.from_file(str(PAGES_DIR / f"{page}.py"), default_timeout=TIMEOUT)
    if run is not None:
        folder = Path(tempfile.mkdtemp(prefix="cfcore-test-runs-"))
        folders = {name: save_run(each, folder / name.replace(" ", "_")) for name, each in
                   {"tiny": run, **runs}.items()}
        at.query_params["ws"] = seed_workspace(folders, active="tiny")
    return at


def assert_page(at: AppTest, title: str) -> None:
    """The page ran without an exception and drew its title."""
    # A script that fails to compile shows no exception element, so also check the page got drawn.
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [title]


def page_run_names(at: AppTest) -> list[str]:
    """The run names of the workspace this AppTest session uses, oldest first."""
    return workspace_run_names(at.session_state["ws_id"])


def chart_specs(at: AppTest) -> list[dict]:
    """Every plotly chart on the page, as the JSON figure Streamlit sends."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def figure_array(value) -> np.ndarray:
    """A figure array from plotly's JSON: a plain list, or a typed array {"dtype", "bdata"[, "shape"]}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def named_trace(figure: dict, name: str) -> dict:
    """The trace called ``name`` in a figure's JSON."""
    return next(trace for trace in figure["data"] if trace.get("name") == name)


def page_texts(at: AppTest, *kinds: str) -> str:
    """The text of every element of the given kinds ("markdown", "caption", "warning"...), as a reader sees it."""
    return " ".join(shown(str(e.value)) for kind in kinds for e in at.get(kind))


def live_points(at) -> dict[str, int]:
    """Series -> points in a running job's SVG chart (``cfcore.figures.live_svg``) on an AppTest page; {} when none."""
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.w3.org/2000/svg"}
    for element in at.markdown:
        if element.value.startswith("<svg"):
            svg = ET.fromstring(element.value)
            return {g.get("data-series"): len(g.findall("s:circle", ns)) for g in svg.findall("s:g", ns)}
    return {}
