"""Under the hood's first section: a few days' weather tags looked up in a small embedding table, shown to equal
one-hot vectors times the matrix, and the hand-made layer's source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.text import md
from ui import cached
from ui.lookup_example import MAX_DAYS, WEATHER, layer_source, parse_days
from ui.page import chart


def show() -> None:
    """The tags and vector length the learner types, the three heatmaps, both tables and whether they agree."""
    st.subheader("Lookup = one-hot × matrix")
    left, right = st.columns([3, 1])
    text = left.text_input(f"Some days' weather (comma-separated: {', '.join(WEATHER)})",
                           "sunny, rainy, rainy, stormy, foggy", key="uth_days")
    dim = right.slider("Vector length", 2, 6, 3, key="uth_dim")
    days = parse_days(text)
    if days.unknown:
        st.warning(f"Skipping unknown tags: {md(', '.join(days.unknown))}. Use: {', '.join(WEATHER)}.")
    if days.known_count > MAX_DAYS:
        st.info(f"Showing the first {MAX_DAYS} of your {days.known_count} days, so the matrices stay readable.")
    if not days.known_count:
        st.info("No known weather tag to look up yet: showing one sunny day. Type tags from the list above, "
                "separated by commas.")

    example, figure = cached.lookup_figures(tuple(days.tags), dim)
    chart(st, figure)
    left, right = st.columns(2)
    left.markdown("`take(W, indices)`: rows looked up, as the layer's `call` does")
    left.dataframe(pd.DataFrame(example.looked_up, index=example.rows, columns=example.dimensions).round(4))
    right.markdown("`one_hot(indices) @ W`: matrix product")
    right.dataframe(pd.DataFrame(example.product, index=example.rows, columns=example.dimensions).round(4))
    difference = float(np.abs(example.looked_up - example.product).max())
    if np.array_equal(example.looked_up, example.product):
        st.success(f"Identical: the largest difference between the two tables is {difference:g}.")
    else:
        st.error(f"The two tables differ by up to {difference:g}.")

    with st.expander("The layer's source (cfcore/training/models.py)"):
        st.code(layer_source(), language="python")
