"""Under the hood's second section: the hand-made embedding layer trained against Keras's from the same start,
live, and what the two curves say."""

from __future__ import annotations

import streamlit as st

from cfcore.analysis.baselines import global_mean_baseline
from cfcore.config import kind_name
from cfcore.data.dataset import Dataset
from cfcore.figures.live_svg import compare_curves_svg
from cfcore.figures.training import compare_curves
from cfcore.runs.run import Run
from ui import job_panel
from ui.page import chart, live_svg, svg_font_px
from ui.state import runs


def newest(dataset: Dataset, model: str, config=None) -> Run | None:
    """The newest workspace run of ``model`` on this dataset (with exactly ``config``, when given)."""
    for run in reversed(list(runs().values())):
        same_data = run.dataset.fingerprint == dataset.fingerprint
        if run.config.model == model and same_data and (config is None or run.config == config):
            return run
    return None


def draw(jobs) -> None:
    """Both trainings' progress bars and their live curves on one chart."""
    for job in jobs:
        job_panel.progress_bar(job, kind_name(job.config.model))
    curves = {kind_name(j.config.model): j.history for j in jobs}  # before the first epoch: the axes and a note
    live_svg(compare_curves_svg(curves, max(j.config.epochs for j in jobs), font_px=svg_font_px()))


def verdict(dot_run: Run, embedding_run: Run, own_init: bool) -> None:
    """Both finished runs' curves, and what the gap between them means (next to the global-mean baseline)."""
    histories = {run.name: run.result.history for run in (dot_run, embedding_run)}
    chart(st, compare_curves(histories))
    gap = embedding_run.result.best_val_rmse - dot_run.result.best_val_rmse
    baseline = global_mean_baseline(dot_run.split).val_rmse
    st.caption((f"From its own start the hand-made layer ends {gap:+.3f} from {dot_run.name}: the layers compute the "
                "same thing, and the starting weights moved the result." if own_init else
                f"Best validation RMSE differs by {abs(gap):.4f}: the two layers compute the same thing.")
               + (f" {dot_run.name} is about as good as predicting every rating with the global mean ({baseline:.3f}): "
                  "without biases, its dimensions go on each user's and movie's average first."
                  if abs(dot_run.result.best_val_rmse - baseline) < 0.05 else
                  f" Predicting every rating with the global mean scores {baseline:.3f} on this split."))
