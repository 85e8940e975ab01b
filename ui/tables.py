"""Tables for reading, on a laptop and on a projector: the numbers a table exists for come first and keep their width,
the text after them gets a fixed width (a long title is cut, not the numbers), so at 1024 px or 150% zoom the
numbers are on screen without scrolling sideways. Wider screens share the spare room out (Streamlit's rule for
column widths)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

# Header text is about this many pixels a character in Streamlit's tables, plus the cell's padding and sort icon.
PX_PER_CHAR = 6.5
PADDING_PX = 26
NARROWEST_NUMBER_PX = 64
# Text columns: the run's name, a movie's title, its genres; anything else gets TEXT_PX.
TEXT_WIDTHS = {"run": 130, "title": 220, "genres": 200, "model": 110}
# Text that names the row stays in front of the numbers (a runs table without its run names reads as nothing).
LEADING = ("run",)
TEXT_PX = 160


# The runs tables (Train, Compare): short headers, so a run's numbers fit beside its name on a projector.
RUNS_COLUMNS = {
    "best val RMSE": st.column_config.NumberColumn("val RMSE", format="%.4f",
                                                   help="The best validation RMSE: the weights the run keeps."),
    "article val RMSE": st.column_config.NumberColumn("article", format="%.2f",
                                                      help="The article's validation RMSE for this model."),
    "final val RMSE": st.column_config.NumberColumn("final", format="%.4f", help="Validation RMSE after the last "
                                                    "epoch."),
    "epochs run": st.column_config.NumberColumn("epochs", help="Epochs run."),
    "seconds": st.column_config.NumberColumn(format="%.1f", help="Training time."),
}


def _label(column: str, config) -> str:
    label = config.get("label") if isinstance(config, dict) else None
    return str(label or column)


def layout(frame: pd.DataFrame, column_config: dict | None = None) -> tuple[list[str], dict]:
    """The column order (a :data:`LEADING` name, the numbers, then the other text, each as given) and the column
    configs with every width set."""
    config = dict(column_config or {})
    numbers = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    texts = [c for c in frame.columns if c not in numbers]
    for column in numbers:
        own = dict(config.get(column) or st.column_config.NumberColumn())
        if own.get("width") is None:
            own["width"] = max(NARROWEST_NUMBER_PX, round(PX_PER_CHAR * len(_label(column, own))) + PADDING_PX)
        config[column] = own
    for column in texts:
        own = dict(config.get(column) or st.column_config.TextColumn())
        if own.get("width") is None:
            own["width"] = TEXT_WIDTHS.get(str(column), TEXT_PX)
        config[column] = own
    leading = [c for c in texts if c in LEADING]
    return [str(c) for c in leading + numbers + [c for c in texts if c not in leading]], config


def show(container, frame: pd.DataFrame, column_config: dict | None = None, *, key: str | None = None,
         hide_index: bool = True):
    """``container.dataframe`` of ``frame`` laid out by :func:`layout`."""
    order, config = layout(frame, column_config)
    return container.dataframe(frame, column_config=config, column_order=order, hide_index=hide_index, key=key)
