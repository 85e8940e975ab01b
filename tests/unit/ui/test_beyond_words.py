"""ui.beyond_words: which runs the Beyond page names as best and compares by default."""

from __future__ import annotations

from types import SimpleNamespace

from ui.beyond_words import default_any_pair, default_pair, onehot_verdict, trained_partner


def _run(model: str, rmse: float):
    return SimpleNamespace(config=SimpleNamespace(model=model), result=SimpleNamespace(best_val_rmse=rmse),
                           embeddings=SimpleNamespace(predicts_ratings=True))


RUNS = {"dot_with_bias #1": _run("dot_with_bias", 0.847), "autorec #1": _run("autorec", 0.8427),
        "simple_embedding #2": _run("simple_embedding", 1.05), "simple_embedding #1": _run("simple_embedding", 1.04)}


def test_the_best_run_is_the_best_of_the_table_factor_runs_included():
    verdict = onehot_verdict(0.865, RUNS)
    assert "**autorec #1** (0.8427)" in verdict and "dot_with_bias" not in verdict


def test_questions_compare_with_the_active_model_else_the_best_trained_one():
    assert trained_partner(RUNS, "dot_with_bias #1") == ("dot_with_bias #1", "the active model")
    assert trained_partner(RUNS, "autorec #1") == ("dot_with_bias #1", "your best trained model")
    assert default_pair(RUNS, "autorec", None) == ("autorec #1", "dot_with_bias #1", "your best trained model")
    assert default_pair({"autorec #1": RUNS["autorec #1"]}, "autorec", None) == ("autorec #1", None, "")


def test_any_two_runs_open_on_the_active_run_and_a_run_of_another_kind():
    assert default_any_pair(RUNS, "dot_with_bias #1") == ("dot_with_bias #1", "simple_embedding #1")
    assert default_any_pair(RUNS, "simple_embedding #1") == ("simple_embedding #1", "autorec #1")
    same_kind = {"a": _run("svd", 1.0), "b": _run("svd", 1.0)}
    assert default_any_pair(same_kind, None) == ("b", "a")
