"""cfcore.figures.live_svg: the live panel's SVG training curve: valid markup, one point per epoch, references,
escaping."""

import math
import xml.etree.ElementTree as ET

from cfcore.figures.live_svg import training_curves_svg

NS = {"s": "http://www.w3.org/2000/svg"}


def _history(n: int) -> list[dict]:
    return [{"epoch": e, "train_rmse": 1.3 - 0.05 * e, "val_rmse": 1.1 - 0.02 * e} for e in range(1, n + 1)]


def _circles(svg: ET.Element, series: str) -> list[tuple[float, float]]:
    group = svg.find(f"s:g[@data-series='{series}']", NS)
    return [(float(c.get("cx")), float(c.get("cy"))) for c in group.findall("s:circle", NS)]


def _texts(svg: ET.Element) -> list[str]:
    return [t.text for t in svg.iter(f"{{{NS['s']}}}text")]


def test_one_point_per_epoch_in_order_and_lower_rmse_drawn_lower():
    svg = ET.fromstring(training_curves_svg(_history(4), epochs=10))
    for series in ("train_rmse", "val_rmse"):
        points = _circles(svg, series)
        assert len(points) == 4
        xs, ys = zip(*points, strict=True)
        assert list(xs) == sorted(xs) and len(set(xs)) == 4
        assert list(ys) == sorted(ys), "RMSE falls each epoch, so each point sits lower (larger y) than the last"
    # The x range is the planned 10 epochs: the fourth epoch sits left of the middle, not at the right edge.
    assert _circles(svg, "val_rmse")[-1][0] < float(svg.get("viewBox").split()[2]) / 2
    assert svg.get("aria-label") == "RMSE per epoch"


def _gridlines(svg: ET.Element) -> list[float]:
    return [float(line.get("y1")) for line in svg.findall("s:line", NS) if line.get("stroke") == "#e4e7eb"]


def test_points_and_references_lie_between_the_outer_gridlines_and_the_ticks_cover_them():
    history = _history(6)
    # A reference far below the curves: the y range must reach it too.
    svg = ET.fromstring(training_curves_svg(history, epochs=6, references={"global mean": 0.5}))
    top, bottom = min(_gridlines(svg)), max(_gridlines(svg))
    for _, y in _circles(svg, "train_rmse") + _circles(svg, "val_rmse"):
        assert top < y < bottom
    [reference] = [line for line in svg.findall("s:line", NS) if line.find("s:title", NS) is not None]
    assert top < float(reference.get("y1")) < bottom
    ticks = [float(t) for t in _texts(svg) if t and t.replace(".", "", 1).isdigit() and "." in t]
    values = [row[k] for row in history for k in ("train_rmse", "val_rmse")] + [0.5]
    assert min(ticks) <= min(values) and max(ticks) >= max(values)


def test_references_are_dashed_lines_labelled_on_the_plot_and_missing_ones_are_skipped():
    svg_text = training_curves_svg(_history(2), 5, {"global mean": 1.04, "biases only": None, "broken": math.nan,
                                                    "article, dot_with_bias": 0.88})
    texts = _texts(ET.fromstring(svg_text))
    assert "global mean: 1.040" in texts and "article, dot_with_bias: 0.880" in texts
    assert not any("biases only" in t or "broken" in t for t in texts if t)
    assert svg_text.count('stroke-dasharray="6 4"') == 2  # each reference's line; no legend sample
    labels = [t for t in ET.fromstring(svg_text).iter("{http://www.w3.org/2000/svg}text")
              if t.get("text-anchor") == "end" and ": " in (t.text or "")]
    assert len(labels) == 2 and all(t.get("paint-order") == "stroke" for t in labels)  # on their own backing


def test_text_is_escaped_so_the_markup_stays_one_svg():
    svg_text = training_curves_svg(_history(1), 3, {"<script>alert(1)</script>": 1.0}, title='a "b" & <c>')
    svg = ET.fromstring(svg_text)
    assert "<script>" not in svg_text
    assert svg.get("aria-label") == 'a "b" & <c>'
    assert "<script>alert(1)</script>: 1.000" in _texts(svg)


def test_no_epoch_yet_draws_empty_axes_with_a_note():
    svg = ET.fromstring(training_curves_svg([], epochs=10))
    assert _circles(svg, "train_rmse") == [] and _circles(svg, "val_rmse") == []
    assert any(t and "epoch 1" in t for t in _texts(svg))


def test_a_missing_value_is_skipped_and_long_runs_thin_their_ticks():
    history = _history(60)
    history[3]["val_rmse"] = math.nan
    svg = ET.fromstring(training_curves_svg(history, epochs=60))
    assert len(_circles(svg, "val_rmse")) == 59 and len(_circles(svg, "train_rmse")) == 60
    epoch_ticks = [t for t in _texts(svg) if t and t.isdigit()]
    assert "1" in epoch_ticks and 3 <= len(epoch_ticks) <= 15


def test_compared_runs_get_one_series_each_with_its_own_dash_and_the_planned_epochs():
    from cfcore.figures.live_svg import compare_curves_svg

    same = _history(3)
    svg = ET.fromstring(compare_curves_svg({"simple_dot": same, "simple_embedding": same[:2]}, epochs=10))
    assert len(_circles(svg, "simple_dot")) == 3 and len(_circles(svg, "simple_embedding")) == 2
    # Identical maths give identical points: the lines differ by their dash, or one would hide the other.
    assert _circles(svg, "simple_embedding") == _circles(svg, "simple_dot")[:2]
    lines = [svg.find(f"s:g[@data-series='{name}']/s:polyline", NS) for name in ("simple_dot", "simple_embedding")]
    assert lines[0].get("stroke-dasharray") != lines[1].get("stroke-dasharray")
    assert _circles(svg, "simple_dot")[-1][0] < float(svg.get("viewBox").split()[2]) / 2  # 3 of 10 epochs
    assert "simple_embedding" in _texts(svg)  # named in the legend
