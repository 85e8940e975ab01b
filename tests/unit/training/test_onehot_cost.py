"""The one-hot measurement's TensorFlow side: a Dense layer on one-hot vectors computes the lookup's predictions,
at a cost; run as a child process, it says why it failed in one line."""

from __future__ import annotations

import pytest

from cfcore.analysis.onehot import input_bytes
from cfcore.child import run_module
from cfcore.training.onehot_cost import measure


def test_dense_on_onehot_gives_the_lookups_predictions_at_a_cost():
    result = measure(30, 50, 1000, dim=4, batch_size=8, steps=5)
    assert result["max_difference"] < 1e-6
    assert result["lookup"]["gradient_bytes_per_step"] == 2 * 8 * 4 * 4  # the batch's rows of both tables
    assert result["one-hot"]["gradient_bytes_per_step"] == (30 + 50) * 4 * 4  # every row
    assert result["one-hot"]["input_bytes_per_epoch"] == input_bytes(1000, 30, 50)["one-hot"] == 1000 * 80 * 4
    assert result["lookup"]["seconds_per_epoch"] == pytest.approx(result["lookup"]["seconds_per_step"] * 125)


def test_a_child_that_fails_says_why_in_one_line():
    ended = run_module("cfcore.training.onehot_cost", ["--users", "0", "--movies", "3", "--train", "5"], timeout_s=60)
    assert ended.returncode == 2 and ended.reason("the measurement") == "every size must be 1 or more"
    slow = run_module("cfcore.training.onehot_cost",
                      ["--users", "2000", "--movies", "2000", "--train", "10", "--steps", "100000"], timeout_s=3)
    assert slow.timed_out and slow.reason("the measurement").startswith("the measurement ran out of time")
