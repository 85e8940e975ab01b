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
    """What the linear one-hot model's RMSE against the learner's rating models on the same split shows."""
    scored = {name: run.result.best_val_rmse for name, run in runs.items()
              if run.config.model in MODEL_NAMES and math.isfinite(run.result.best_val_rmse)}
    if not scored:
        return ("Train a model on the Train page (on this split) to set its RMSE beside the one-hot model's: "
                "the *fast* preset takes seconds.")
    best_name = min(scored, key=scored.get)
    gain = onehot_rmse - scored[best_name]
    if gain > 0:
        return (f"Your best model, **{best_name}**, predicts {gain:.3f} RMSE better than the one-hot linear model: "
                "that gain is all the embeddings' doing, since the one-hot model can only learn how generous each "
                "user is and how well liked each movie is, never who likes what.")
    return (f"None of your models beats the one-hot linear model yet (best: **{best_name}**, {scored[best_name]:.3f}): "
            "a model without biases spends its dimensions on each user's and movie's average first. Train the bias "
            "model (the article preset) to see embeddings pull ahead.")


def runs_of_kind(runs: Mapping[str, Run], kinds: tuple[str, ...]) -> list[str]:
    """The names of ``runs`` whose kind (model or factors method) is one of ``kinds``, newest last."""
    return [name for name, run in runs.items() if run.config.model in kinds]


def default_pair(runs: Mapping[str, Run], method: str) -> tuple[str | None, str | None]:
    """For the question about ``method`` (a factors method): its newest run and the newest trained model."""
    if method not in FACTOR_METHODS:
        raise ValueError(f"unknown method {method!r}")
    mine, trained = runs_of_kind(runs, (method,)), runs_of_kind(runs, MODEL_NAMES)
    return (mine[-1] if mine else None), (trained[-1] if trained else None)
