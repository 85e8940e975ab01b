"""A finished training on the Train page: how it ended in words, its numbers and curves, with reference lines."""

from __future__ import annotations

import streamlit as st

from cfcore.analysis.baselines import diverged, global_mean_baseline
from cfcore.config import kind_name
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.data.dataset import Dataset, is_article_dataset
from cfcore.data.split import Split
from cfcore.figures.training import training_curves
from cfcore.runs.run import Run
from cfcore.text import count, md
from ui.page import chart, metric_row
from ui.services import bias_baseline_rmse
from ui.state import set_active_run


def reference_lines(dataset: Dataset, split: Split) -> dict[str, float | None]:
    """The dashed lines: the global mean and the biases-only baseline on this split, and on the article's data
    its three models' validation RMSEs."""
    lines = {"global mean": global_mean_baseline(split).val_rmse, "biases only": bias_baseline_rmse(dataset, split)}
    if is_article_dataset(dataset):
        lines.update({f"article, {kind_name(name)}": value for name, value in ARTICLE_VAL_RMSE.items()})
    return lines


def show(run: Run, name: str) -> None:
    """The finished run's outcome in words, its four numbers, its curves, and "Use this model"."""
    result, config = run.result, run.config
    how = ("diverged: lower the learning rate" if diverged(run) else "stopped by you" if result.stopped_by_user else
           "stopped early: validation RMSE stopped improving" if result.stopped_early else "finished")
    if not result.history[-1].get("complete", True):
        how += f"; epoch {result.epochs_run} was cut short"
    st.markdown(f"**{md(name)}** ({how})")
    if diverged(run):
        st.warning("This run's validation error blew up instead of falling: the steps were too big. Lower the "
                   "learning rate (or pick a preset) and train again; its numbers below mean nothing.")
    if not run.embeddings.predicts_ratings:
        st.caption("It was trained on whether a movie was rated at all: no validation RMSE, only its loss "
                   f"({result.history[-1]['val_loss']:.4f} after {count(result.epochs_run, 'epoch')}). The "
                   "Beyond the article page compares it with rating models.")
        return
    article = ARTICLE_VAL_RMSE.get(config.model) if is_article_dataset(run.dataset) else None
    mean = global_mean_baseline(run.split).val_rmse
    beats_mean = result.best_val_rmse < mean
    row = metric_row()
    row.metric("Final val RMSE", f"{result.history[-1]['val_rmse']:.3f}", width="content")
    row.metric("Best val RMSE", f"{result.best_val_rmse:.3f}", width="content",
               delta_color="inverse" if beats_mean else "off",  # no green for a model the mean beats
               help=f"Epoch {result.best_epoch}; the model keeps these weights.",
               delta=f"{result.best_val_rmse - article:+.3f} vs article" if article else None)
    row.metric("Epochs run", f"{result.epochs_run} of {config.epochs}", width="content")
    row.metric("Training time", f"{result.train_seconds:.1f} s", width="content")
    for line in what_the_numbers_mean(run, article, mean):
        st.caption(line)
    chart(st, training_curves(result.history, config.epochs, reference_lines(run.dataset, run.split)),
          key="train_chart")
    if st.session_state.get("active_run") == name:
        st.caption("This is the active model: the Embeddings, Recommend and Under the hood pages use it.")
    elif st.button("Use this model", key="train_use", type="primary"):
        set_active_run(name)
        st.rerun()


def what_the_numbers_mean(run: Run, article: float | None, mean: float) -> list[str]:
    """What the comparison beside the RMSE means, where it could mislead: a model no better than predicting the
    mean, and the hand-made layer, which is the simple model by construction."""
    result, config = run.result, run.config
    lines = []
    if result.best_val_rmse >= mean:
        lines.append(f"No better than predicting the global mean for every rating ({mean:.3f} on this split): the "
                     "model has learned nothing beyond the average yet"
                     + (", even where it is below the article's number." if article else "."))
    if config.model == "simple_embedding" and article is not None:
        lines.append(f"The article's {article} came from this same model with other starting weights (its own "
                     f"initialiser), against its simple model's {ARTICLE_VAL_RMSE['simple_dot']}. "
                     + ("This run also used them." if config.own_init else
                        "This run starts from the simple model's weights, so it matches the simple model; "
                        "Under the hood races the two ways."))
    return lines
