"""ui.state's run labels: two runs of one kind are told apart by what differs."""

from __future__ import annotations

from dataclasses import replace

from cfcore.config import settings_summary
from ui.state import run_label


def test_a_label_adds_the_settings_only_when_a_run_of_the_same_kind_differs(tiny_run, dot_run):
    first = replace(tiny_run, name="Dot + biases #1")
    other_seed = replace(tiny_run, name="Dot + biases #2",
                         result=replace(tiny_run.result, config=replace(tiny_run.config, seed=43)))
    rmse = f"{tiny_run.result.best_val_rmse:.3f}"
    assert run_label(first) == f"Dot + biases #1 · {rmse}"
    assert run_label(first, {"dot": dot_run}) == f"Dot + biases #1 · {rmse}"  # another kind: no need
    both = {"a": first, "b": other_seed}
    assert run_label(first, both) == f"Dot + biases #1 · {rmse} · {settings_summary(first.config)}"
    assert run_label(other_seed, both).endswith("seed 43")
