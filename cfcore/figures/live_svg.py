"""A running training's curves as a small SVG: what the live panel redraws on every new epoch.

The finished run gets Plotly's chart (:func:`cfcore.figures.training.training_curves`). While a run goes, each new
epoch changes the figure, Streamlit sends it as a new chart and every watching browser draws Plotly's chart from
scratch; this SVG costs a browser less than half as much per poll (CHANGELOG.md, "The live curves as a small SVG
instead of Plotly's chart", has the measurements). Pure functions; no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from cfcore.figures.style import BLUE, GREY, GRID, ORANGE, RUN_COLORS, TEXT, THEME
from cfcore.figures.training import shown_references, spread

BACKGROUND = THEME["backgroundColor"]

# About the live panel's width on a laptop, so that text shows near its own size.
WIDTH, HEIGHT = 520, 360
_RIGHT = 16
_REFERENCE_DASH = "6 4"
# Runs compared side by side: a colour and a dash each, so identical curves (same seed, same maths) stay two.
_RUN_STYLES = tuple(zip(RUN_COLORS, ("", "8 4", "2 3", "8 3 2 3"), strict=True))


@dataclass(frozen=True)
class Curve:
    """One line of the chart: ``key`` names its ``<g data-series=...>``; ``points`` are (epoch, value)."""

    key: str
    label: str
    color: str
    points: list[tuple[int, float]]
    dash: str = ""


def training_curves_svg(
    history: Sequence[Mapping[str, float]],
    epochs: int | None = None,
    references: Mapping[str, float | None] | None = None,
    title: str = "RMSE per epoch",
    font_px: int = 13,
) -> str:
    """Train and validation RMSE per epoch with dashed reference lines, as SVG markup.

    Args:
        history: Epoch rows with ``epoch``, ``train_rmse`` and ``val_rmse`` (a running job's history); may be empty.
        epochs: Planned number of epochs; fixes the x range so the curve does not jump.
        references: Label -> RMSE for dashed horizontal lines; None and NaN values are skipped.
        title: The chart's title, also its accessible name.
        font_px: Text size in the chart's own units (it is 520 wide; the SVG scales with its container).

    Returns:
        One ``<svg>`` element. Each series is a ``<g data-series="train_rmse">`` (or ``val_rmse``) holding a
        polyline and one ``<circle>`` per epoch with a value, each with a hover ``<title>``.
    """
    curves = [Curve("train_rmse", "train RMSE", BLUE, _points(history, "train_rmse")),
              Curve("val_rmse", "validation RMSE", ORANGE, _points(history, "val_rmse"))]
    return _curves_svg(curves, epochs, references, title, font_px, started=bool(history))


def compare_curves_svg(
    histories: Mapping[str, Sequence[Mapping[str, float]]],
    epochs: int | None = None,
    title: str = "Validation RMSE per epoch",
    font_px: int = 13,
) -> str:
    """One line per run of validation RMSE by epoch (run name -> history rows), each in its own colour and dash;
    each run's ``<g data-series=...>`` is its name."""
    curves = []
    for i, (name, rows) in enumerate(histories.items()):
        color, dash = _RUN_STYLES[i % len(_RUN_STYLES)]
        curves.append(Curve(name, name, color, _points(rows, "val_rmse"), dash))
    return _curves_svg(curves, epochs, None, title, font_px, started=any(histories.values()))


def _curves_svg(
    curves: Sequence[Curve],
    epochs: int | None,
    references: Mapping[str, float | None] | None,
    title: str,
    font_px: int,
    started: bool,
) -> str:
    """The chart both functions above draw: RMSE ``curves`` over epochs 1..``epochs`` (or the last point's),
    the reference lines :func:`cfcore.figures.training.shown_references` picks (named in the legend), and until
    ``started`` a note that points are coming."""
    shown = shown_references(references)
    values = [v for curve in curves for _, v in curve.points] + [v for _, v, _ in shown]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((high - low) * 0.08, 0.01)
    step = _nice_step(high - low + 2 * pad)
    y_min, y_max = math.floor((low - pad) / step) * step, math.ceil((high + pad) / step) * step
    if shown:  # room above the highest line for its label
        y_max = math.ceil((max(high + pad, max(v for _, v, _ in shown) + (y_max - y_min) * 0.12)) / step) * step
    last = max([epochs or 0, *(e for curve in curves for e, _ in curve.points), 1])

    legend = [(curve.label, curve.color, curve.dash) for curve in curves]  # each reference is labelled on the plot
    per_row = max(1, (WIDTH - 8) // (12 * font_px))  # a run's name is up to about 20 characters
    legend_rows = math.ceil(len(legend) / per_row)
    bottom = 48 + legend_rows * (font_px + 8)
    height = HEIGHT + legend_rows * (font_px + 8)
    top, left = 2 * font_px + 16, 4 * font_px + 12  # below the title; right of the tick labels and axis title
    plot_w, plot_h = WIDTH - left - _RIGHT, height - top - bottom

    def x_at(epoch: float) -> float:
        return left + (epoch - 0.5) / last * plot_w

    def y_at(value: float) -> float:
        return top + (y_max - value) / (y_max - y_min) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" font-family="sans-serif" font-size="{font_px}" fill="{TEXT}">',
           f"<title>{escape(title)}</title>",
           f'<text x="4" y="{font_px + 8}" font-size="{font_px + 4}">{escape(title)}</text>']
    for i in range(round((y_max - y_min) / step) + 1):
        value = y_min + i * step
        y = y_at(value)
        out.append(f'<line x1="{left}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{y + font_px / 3:.1f}" text-anchor="end">'
                   f"{value:.{_decimals(step)}f}</text>")
    tick_every = 1 if last <= 20 else max(1, round(_nice_step(last, 8)))
    for epoch in range(1, last + 1):
        if epoch % tick_every == 0 or epoch == 1:
            out.append(f'<text x="{x_at(epoch):.1f}" y="{top + plot_h + font_px + 6}" '
                       f'text-anchor="middle">{epoch}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 2 * font_px + 14}" '
               f'text-anchor="middle">epoch</text>')
    out.append(f'<text transform="translate({font_px + 2},{top + plot_h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">RMSE (stars)</text>')
    for label, value, color in shown:
        y = y_at(value)
        out.append(f'<line x1="{left}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
                   f'stroke-width="1.5" stroke-dasharray="{_REFERENCE_DASH}"><title>{escape(label)}: {value:.4f}'
                   "</title></line>")
    labels: list[str] = []
    # Each reference's label at its line's right end, above it, close ones spread apart (as the finished chart).
    gap = (font_px + 4) / plot_h * (y_max - y_min)
    for (label, value, color), at in zip(shown, spread([v for _, v, _ in shown], gap), strict=True):
        labels.append(f'<text x="{WIDTH - _RIGHT - 2}" y="{y_at(at) - 4:.1f}" text-anchor="end" fill="{color}" '
                      f'stroke="{BACKGROUND}" stroke-width="4" paint-order="stroke">{escape(label)}: {value:.3f}'
                      "</text>")
    for curve in curves:
        out.append(f'<g data-series="{escape(curve.key)}" stroke="{curve.color}" fill="{curve.color}">')
        if len(curve.points) > 1:
            xy = " ".join(f"{x_at(e):.1f},{y_at(v):.1f}" for e, v in curve.points)
            dash = f' stroke-dasharray="{curve.dash}"' if curve.dash else ""
            out.append(f'<polyline points="{xy}" fill="none" stroke-width="2"{dash}/>')
        out.extend(f'<circle cx="{x_at(e):.1f}" cy="{y_at(v):.1f}" r="4"><title>epoch {e}: {escape(curve.label)} '
                   f"{v:.4f}</title></circle>" for e, v in curve.points)
        out.append("</g>")
    out.extend(labels)  # over the curves, on their own backing
    if not started:
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                   f'fill="{GREY}">the first point comes when epoch 1 ends</text>')
    legend_top = top + plot_h + 2 * font_px + 28
    column = (WIDTH - 8) / per_row
    for i, (label, color, dash) in enumerate(legend):
        x, y = 8 + (i % per_row) * column, legend_top + (i // per_row) * (font_px + 8)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x:.1f}" x2="{x + 22:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
                   f'stroke-width="2"{dashed}/>')
        out.append(f'<text x="{x + 28:.1f}" y="{y + font_px / 3:.1f}">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _points(history: Sequence[Mapping[str, float]], metric: str) -> list[tuple[int, float]]:
    """(epoch, value) for each history row with a finite ``metric``; rows without ``epoch`` count from 1."""
    return [(int(row.get("epoch", i + 1)), v) for i, row in enumerate(history)
            if (v := _finite(row.get(metric))) is not None]


def _nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` intervals over ``span``."""
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))
