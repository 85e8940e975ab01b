"""ui.lookup_example, the Under the hood page's weather example: tags read, the lookup equal to the one-hot product,
the layer's source."""

import numpy as np

from ui.lookup_example import MAX_DAYS, WEATHER, layer_source, lookup_example, parse_days


def test_tags_are_read_in_any_case_unknown_ones_reported_once_and_long_lists_cut():
    days = parse_days(" Sunny, rainy,, hail, RAINY, hail , fog")
    assert days.tags == ["sunny", "rainy", "rainy"] and days.unknown == ["fog", "hail"] and days.known_count == 3
    many = parse_days(", ".join(["cloudy"] * (MAX_DAYS + 3)))
    assert many.tags == ["cloudy"] * MAX_DAYS and many.known_count == MAX_DAYS + 3
    assert parse_days("hail, ").tags == ["sunny"] and parse_days("").known_count == 0


def test_the_lookup_returns_the_rows_the_one_hot_product_gives():
    example = lookup_example(["stormy", "sunny", "stormy"], dim=4)
    assert example.weights.shape == (len(WEATHER), 4) and example.onehot.shape == (3, len(WEATHER))
    assert np.array_equal(example.looked_up, example.product)
    assert np.array_equal(example.looked_up[0], example.weights[WEATHER.index("stormy")])
    assert np.array_equal(example.looked_up[0], example.looked_up[2])
    assert example.rows == ["day 1: stormy", "day 2: sunny", "day 3: stormy"]
    assert example.dimensions == ["d1", "d2", "d3", "d4"]
    assert not example.looked_up.flags.writeable  # shared between sessions through the page's cache


def test_the_layer_source_is_the_whole_class_with_its_decorator():
    source = layer_source()
    assert source.splitlines()[0].startswith("@") and "class GatherEmbedding" in source
    assert "def call(" in source and "take(" in source
