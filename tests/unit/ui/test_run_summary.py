"""ui.run_summary: the words beside a finished run's RMSE where the comparison could mislead."""

from __future__ import annotations

from types import SimpleNamespace

from ui.run_summary import what_the_numbers_mean


def _run(model: str, best: float, own_init: bool = False):
    return SimpleNamespace(result=SimpleNamespace(best_val_rmse=best),
                           config=SimpleNamespace(model=model, own_init=own_init))


def test_a_model_the_mean_beats_is_called_so_even_below_the_article():
    [line] = what_the_numbers_mean(_run("simple_dot", 1.048), article=1.08, mean=1.046)
    assert "No better than predicting the global mean" in line and "1.046" in line and "article" in line
    assert what_the_numbers_mean(_run("simple_dot", 0.95), article=1.08, mean=1.046) == []


def test_the_hand_made_layer_is_said_to_be_the_simple_model_with_other_starting_weights():
    [line] = what_the_numbers_mean(_run("simple_embedding", 1.03), article=1.13, mean=1.046)
    assert "same model with other starting weights" in line and "matches the simple model" in line
    [line] = what_the_numbers_mean(_run("simple_embedding", 1.03, own_init=True), article=1.13, mean=1.046)
    assert "This run also used them" in line
    assert what_the_numbers_mean(_run("simple_embedding", 1.03), article=None, mean=1.046) == []  # other data
