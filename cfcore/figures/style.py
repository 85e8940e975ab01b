"""The one palette: every figure's colours, and the app theme's (``.streamlit/config.toml`` cannot import Python,
so a test checks that its ``[theme]`` holds :data:`THEME`)."""

from __future__ import annotations

BLUE = "#3b6ea5"  # the theme's primary colour: training curves, bars, the map's points
ORANGE = "#d9822b"  # the second series: validation curves, highlights
GREY = "#7b8794"
GREEN = "#3f8f5b"
PURPLE = "#9b5de5"
BROWN = "#b5651d"
RED = "#c23030"
MUTED = "#b8c2cc"  # what is not the point of the figure: other bars, unselected movies
GRID = "#e4e7eb"
# Reference lines (baselines, the article's numbers) and runs compared side by side, in this order.
REFERENCE_COLORS = (GREY, GREEN, PURPLE, BROWN, RED)
RUN_COLORS = (BLUE, ORANGE, GREEN, PURPLE)
DASHES = ("solid", "dash", "dot", "dashdot")
# The movie map's genre colouring: Okabe-Ito colours, told apart with every common colour blindness.
CB_BLUE, CB_VERMILLION, CB_ORANGE, CB_GREY = "#0072B2", "#D55E00", "#E69F00", "#BBBBBB"
# Diverging, with white at 0: positive and negative entries read as opposites.
DIVERGING = "RdBu"
TEMPLATE = "plotly_white"
TEXT = "#1f2933"  # the theme's text colour, for the SVG chart's titles
# A reference line's colour where the reference is not one of REFERENCE_COLORS' named baselines.
REFERENCE_GREY = "gray"
# The app's theme, as .streamlit/config.toml sets it.
THEME = {"primaryColor": BLUE, "backgroundColor": "#fbfbf8", "secondaryBackgroundColor": "#eef1f4",
         "textColor": TEXT}
