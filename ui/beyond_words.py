"""The "Beyond the article" page's words: what a learner's runs show about the article's open questions.

The page asks how much embeddings improve on one-hot vectors (:func:`onehot_verdict`), how embeddings differ with
the task they were trained on, and how an autoencoder's codes differ from learned embeddings
(:func:`similarity_verdict`; the numbers come from :mod:`cfcore.analysis.similarity`), and which runs to compare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from cfcore.analysis.similarity import NEIGHBOURS, Comparison, chance_overlap
from cfcore.config import FACTOR_METHODS, MODEL_NAMES
from cfcore.runs.run import Run
from cfcore.text import count


def similarity_verdict(comparison: Comparison, name_a: str, name_b: str) -> str:
    """Two or three sentences on what a comparison's numbers show."""
    cka, overlap, n = comparison.linear_cka, comparison.neighbour_overlap_at_10, len(comparison.movie_ids)
    if cka >= 0.7:
        geometry = "arrange these movies in much the same way (up to a rotation)"
    elif cka >= 0.3:
        geometry = "share part of their geometry, and differ in the rest"
    else:
        geometry = "arrange these movies very differently"
    chance = chance_overlap(n)
    times = overlap / chance
    if overlap >= 0.5:
        neighbours = "near movies stay near"
    elif times >= 2:
        neighbours = "some neighbourhoods survive, most do not"
    else:
        neighbours = "their neighbourhoods agree hardly more than chance would have them"
    return (f"Over {count(n, 'shared movie')}, **{name_a}** and **{name_b}** {geometry}: linear CKA {cka:.2f} "
            f"(1 would be the same map turned, 0 unrelated). On average {overlap * NEIGHBOURS:.1f} of each movie's "
            f"{NEIGHBOURS} nearest neighbours are the same in both, {times:.{0 if times >= 10 else 1}f} times what "
            f"chance would give ({chance * NEIGHBOURS:.2f}): {neighbours}.")


def onehot_verdict(onehot_rmse: float, runs: Mapping[str, Run]) -> str:
    """What the linear one-hot model's RMSE against the learner's best rating run on the same split shows (trained
    models and rating factors alike: the best is the best of the table above it)."""
    scored = {name: run.result.best_val_rmse for name, run in runs.items()
              if run.embeddings.predicts_ratings and math.isfinite(run.result.best_val_rmse)}
    if not scored:
        return ("Train a model on the Train page (on this split) to set its RMSE beside the one-hot model's: "
                "the *fast* preset takes seconds.")
    best_name = min(scored, key=scored.get)
    gain = onehot_rmse - scored[best_name]
    if gain > 0:
        return (f"Your best run on this split, **{best_name}** ({scored[best_name]:.4f}), predicts {gain:.3f} RMSE "
                "better than the one-hot linear model: that gain is all its factors' doing, since the one-hot model "
                "can only learn how generous each user is and how well liked each movie is, never who likes what.")
    return (f"None of your runs beats the one-hot linear model yet (best: **{best_name}**, {scored[best_name]:.4f}): "
            "a model without biases spends its dimensions on each user's and movie's average first. Train the bias "
            "model (the article preset) to see embeddings pull ahead.")


def runs_of_kind(runs: Mapping[str, Run], kinds: tuple[str, ...]) -> list[str]:
    """The names of ``runs`` whose kind (model or factors method) is one of ``kinds``, newest last."""
    return [name for name, run in runs.items() if run.config.model in kinds]


def trained_partner(runs: Mapping[str, Run], active: str | None) -> tuple[str | None, str]:
    """The trained model to set other factors against, and why it was chosen: the active model when it is one,
    else the trained model with the best validation RMSE."""
    trained = runs_of_kind(runs, MODEL_NAMES)
    if active in trained:
        return active, "the active model"
    if not trained:
        return None, ""
    return min(trained, key=lambda name: _rmse(runs[name])), "your best trained model"


def default_pair(runs: Mapping[str, Run], method: str, active: str | None) -> tuple[str | None, str | None, str]:
    """For the question about ``method`` (a factors method): its newest run, the trained model to compare it
    with and why that one (see :func:`trained_partner`)."""
    if method not in FACTOR_METHODS:
        raise ValueError(f"unknown method {method!r}")
    mine = runs_of_kind(runs, (method,))
    partner, why = trained_partner(runs, active)
    return (mine[-1] if mine else None), partner, why


def default_any_pair(runs: Mapping[str, Run], active: str | None) -> tuple[str, str]:
    """The pair "Compare any two runs" opens on (at least two runs): the active run (else the newest) against
    the newest run of another kind, else the newest other run."""
    names = list(runs)
    first = active if active in runs else names[-1]
    others = [name for name in names if name != first]
    other_kind = [name for name in others if runs[name].config.model != runs[first].config.model]
    return first, (other_kind or others)[-1]


def _rmse(run: Run) -> float:
    value = run.result.best_val_rmse
    return value if math.isfinite(value) else math.inf
