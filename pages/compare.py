"""Compare page: the workspace's runs side by side, the baseline ladder, managing and sharing runs, loading runs."""

import streamlit as st

from cfcore.analysis.baselines import diverged, shared_ladder
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.data.dataset import is_article_dataset
from cfcore.figures.tables import runs_table
from cfcore.figures.training import METRIC_LABELS, baseline_ladder_figure, compare_curves
from cfcore.text import count, md, server_text
from ui import load_runs, manage_runs, state, tables
from ui.page import chart, intro

st.title("Compare")
intro(
    "Every run of this workspace side by side, and against two baselines that use no embeddings at all: "
    "predicting the average rating, and the average plus a user bias and a movie bias. Hide, delete or share a "
    "run here, save one, or load one (a class demo then needs no training and no network)."
)
all_runs, active = state.runs(), state.active_run()
hidden = state.hidden_run_names()
shown = {name: run for name, run in all_runs.items() if name not in hidden}
for problem in state.unreadable_runs():
    st.warning(f"A run folder in this workspace could not be read and is left out: {md(server_text(problem))}")
if notice := state.shared_run_notice():
    getattr(st, notice[0])(notice[1])


if active is None:
    st.info("No trained runs yet. Train one on the Train page, or load a saved run below.")
else:
    tables.show(st, runs_table(shown), tables.RUNS_COLUMNS)
    if hidden:
        st.caption(f"Hidden from the table and charts: {md(', '.join(sorted(hidden)))}.")
    metric = st.radio("Curve", list(METRIC_LABELS), horizontal=True, key="cmp_metric",
                      format_func=METRIC_LABELS.get)
    reference = (ARTICLE_VAL_RMSE["dot_with_bias"] if metric == "val_rmse" and is_article_dataset(active.dataset)
                 else None)
    broken = [name for name, run in shown.items() if diverged(run)]  # their RMSE of 80 would flatten the rest
    chart(st, compare_curves({name: run.result.history for name, run in shown.items() if name not in broken},
                                    metric, reference, "the article's Dot + biases"))
    if broken:
        st.caption(f"Left out of the curves and the ladder because they diverged (lower the learning rate): "
                   f"{md(', '.join(broken))}.")

    st.subheader("The baseline ladder")
    ladder, skipped = shared_ladder(active, [run for name, run in shown.items() if name not in broken])
    chart(st, baseline_ladder_figure(ladder))
    st.caption(f"Validation RMSE on the split of **{md(active.name)}**; lower is better."
               + (f" {count(skipped, 'run')} on other data or another split "
                  f"{'is' if skipped == 1 else 'are'} left out." if skipped else ""))

    manage_runs.show(all_runs, active, hidden)

load_runs.show()
