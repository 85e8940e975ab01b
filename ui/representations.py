"""Two runs' movie factors compared on the page: CKA, neighbour overlap, the aligned maps and their extremes.

The "Beyond the article" page shows this block for each of its questions (:func:`question`) and for any two
runs the learner picks (:func:`compare`).
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from cfcore.analysis.similarity import Comparison, SimilarityError, aligned_maps, compare_runs, extremes
from cfcore.config import FACTOR_LABELS
from cfcore.figures.embeddings import aligned_maps_figure
from cfcore.runs.run import Run
from cfcore.text import md, server_text
from ui import tables
from ui.beyond_words import default_pair, similarity_verdict
from ui.page import chart, metric_row, page_link

EXTREMES = 5


@st.cache_data(show_spinner=False, max_entries=32)
def _compared(key_a: str, key_b: str, min_ratings: int, _a: Run, _b: Run):
    # Keyed by the run folders (a workspace never rewrites one): 9,724 movies take 2.4 s to compare.
    return compare_runs(_a, _b, min_ratings), aligned_maps(_a, _b, min_ratings)


def _key(run: Run) -> str:
    return f"{run.path}|{run.name}"


def question(runs: Mapping[str, Run], method: str, key: str, active: str | None) -> None:
    """Compare the newest ``method`` run with the active model (or the best trained one), or say what to make
    first."""
    mine, trained, why = default_pair(runs, method, active)
    if mine is None:
        st.info(f"First compute a run with **{FACTOR_LABELS[method]}** in the section above (seconds), then come "
                "back here.")
    elif trained is None:
        st.info("Train a model on the Train page to compare with (the *fast* preset takes seconds).")
        page_link("pages/train.py", "Go to Train", ":material/model_training:")
    else:
        st.caption(f"The newest {FACTOR_LABELS[method]} run, **{md(mine)}**, against {why}, **{md(trained)}**.")
        compare(runs[mine], runs[trained], key)


def compare(run_a: Run, run_b: Run, key: str, min_ratings: int = 20) -> Comparison | None:
    """The comparison block for two runs, over their shared movies with more than ``min_ratings`` ratings."""
    try:
        comparison, (left, right) = _compared(_key(run_a), _key(run_b), int(min_ratings), run_a, run_b)
    except SimilarityError as err:
        st.warning(md(server_text(err)))
        return None
    row = metric_row()
    row.metric("Linear CKA", f"{comparison.linear_cka:.3f}", width="content",
               help="How alike the two sets of factors are, up to a rotation and a scale: 1 the same, 0 unrelated.")
    row.metric("Neighbour overlap@10", f"{comparison.neighbour_overlap_at_10:.3f}", width="content",
               help="The share of each movie's 10 nearest movies (cosine) that both runs agree on, averaged.")
    row.metric("Shared movies", f"{len(comparison.movie_ids):,}", width="content")
    st.markdown(similarity_verdict(comparison, md(run_a.name), md(run_b.name)))
    chart(st, aligned_maps_figure(left, right, run_a.name, run_b.name), key=f"{key}_maps")
    st.caption("Each run's movies on its own first two principal components (centred and scaled to the same "
               "spread: CKA ignores both), the right map turned and flipped (orthogonal Procrustes) to lie as close "
               "as it can on the left one. Hover a point for its movie.")
    for column, axis in (("x", "PC1"), ("y", "PC2")):
        st.markdown(f"**The ends of {axis}**")
        sides = st.columns(2)
        for side, (run, frame) in zip(sides, ((run_a, left), (run_b, right)), strict=True):
            table = extremes(frame, column, EXTREMES).rename(columns={column: axis})
            side.caption(md(run.name))
            tables.show(side, table, {axis: st.column_config.NumberColumn(format="%.3f")},
                        key=f"{key}_{axis}_{run.name}")
    return comparison
