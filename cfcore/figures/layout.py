"""The layout every small figure shares: a left-aligned title, axis titles, tight margins.
"""

from __future__ import annotations

import plotly.graph_objects as go

from cfcore.text import plain

MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def layout(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": plain(title), "x": 0.0, "xanchor": "left"},
        xaxis_title=plain(x_title),
        yaxis_title=plain(y_title),
        height=height,
        margin=MARGIN,
        bargap=0.05,
        showlegend=False,
    )
    return fig
