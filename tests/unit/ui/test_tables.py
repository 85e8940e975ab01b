"""ui.tables: numbers first, text after them at a fixed width, so a projector shows the numbers."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.tables import TEXT_WIDTHS, layout


def test_numbers_come_before_text_and_every_column_gets_a_width():
    frame = pd.DataFrame({"title": ["Alien (1979)"], "genres": ["Horror"], "rating": [4.0], "predicted": [3.9]})
    order, config = layout(frame, {"rating": st.column_config.NumberColumn("their rating", format="%.1f")})
    assert order == ["rating", "predicted", "title", "genres"]
    assert config["title"]["width"] == TEXT_WIDTHS["title"] and config["rating"]["type_config"]["format"] == "%.1f"
    assert config["rating"]["width"] > config["predicted"]["width"] - 20  # sized by the header it shows
    assert all(isinstance(config[c]["width"], int) for c in order)


def test_a_runs_table_keeps_the_run_name_in_front():
    frame = pd.DataFrame({"run": ["Dot #1"], "best val RMSE": [0.9], "model": ["Dot"], "dim": [32]})
    assert layout(frame)[0] == ["run", "best val RMSE", "dim", "model"]
