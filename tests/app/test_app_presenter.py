"""Presenter mode, and chart images sized for a projector."""

from __future__ import annotations

import pytest

from tests.support.app import chart_specs, open_app, page_app
from tests.support.workspaces import seed_workspace


@pytest.mark.parametrize("page", ["embeddings", "data"])
def test_every_chart_saves_a_projector_sized_image_in_the_chosen_format(tiny_run, page):
    import json

    at = page_app(page, tiny_run).run()
    configs = [json.loads(c.proto.config)["toImageButtonOptions"] for c in at.get("plotly_chart")]
    assert configs and all(c["width"] == 1920 and c["height"] == 1080 and c["format"] == "png" for c in configs)
    at.session_state["chart_image_format"] = "svg"
    at.run()
    assert all(json.loads(c.proto.config)["toImageButtonOptions"]["format"] == "svg"
               for c in at.get("plotly_chart"))


def test_presenter_mode_from_the_link_and_the_toggle(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/train.py", present="1")
    assert at.session_state["present"] is True and at.query_params["present"] == "1"
    assert any("font-size: 20px" in h.proto.body for h in at.get("html"))
    assert at.selectbox(key="present_active_run").value == "tiny"  # the picker, on the page itself
    curve = next(f for f in chart_specs(at) if "RMSE per epoch" in str(f["layout"].get("title", {}).get("text")))
    assert curve["layout"]["xaxis"]["tickfont"]["size"] >= 14 and curve["layout"]["yaxis"]["tickfont"]["size"] >= 14
    at.sidebar.toggle(key="present").set_value(False).run()
    assert "present" not in at.query_params
    assert not any(box.key == "present_active_run" for box in at.get("selectbox"))
    curve = next(f for f in chart_specs(at) if "RMSE per epoch" in str(f["layout"].get("title", {}).get("text")))
    assert "tickfont" not in curve["layout"].get("xaxis", {})  # the shared figure itself was never enlarged
