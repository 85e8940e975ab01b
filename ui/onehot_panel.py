"""What a Dense layer on one-hot vectors costs next to a lookup, measured on the page
(:class:`cfcore.analysis.onehot.CostJobs`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cfcore.analysis.onehot import MeasureError, check_measure, input_bytes
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split
from cfcore.text import md
from ui import services, state

POLL_SECONDS = 1.0
SIDES = ("lookup", "one-hot")
ROW_LABELS = {"lookup": "Embedding lookup", "one-hot": "Dense layer on one-hot vectors"}


def _bytes(value: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value:,.0f} bytes"


def cost_table(result: dict) -> pd.DataFrame:
    """The measurement as rows a learner reads: seconds per step and per epoch, gradient and inputs."""
    return pd.DataFrame({
        "input": [ROW_LABELS[side] for side in SIDES],
        "ms per step": [result[side]["seconds_per_step"] * 1000 for side in SIDES],
        "s per epoch": [result[side]["seconds_per_epoch"] for side in SIDES],
        "gradient per step": [_bytes(result[side]["gradient_bytes_per_step"]) for side in SIDES],
        "inputs of an epoch": [_bytes(result[side]["input_bytes_per_epoch"]) for side in SIDES],
    })


def panel(dataset: Dataset, split: Split, key: str) -> None:
    """A button that measures (once per dataset size for the whole server), its progress, then the table."""
    sizes = (dataset.n_users, dataset.n_movies, split.n_train)
    try:
        check_measure(dataset.n_users, dataset.n_movies)
    except MeasureError as err:
        inputs = input_bytes(split.n_train, dataset.n_users, dataset.n_movies)
        st.info(f"Not measured on this dataset: {md(err)}. That size is the point: an epoch's one-hot inputs built "
                f"at once would take {_bytes(inputs['one-hot'])}, the lookup's indices {_bytes(inputs['lookup'])}.")
        return
    if st.session_state.get(key) != sizes:
        if st.button("Measure it", key=f"{key}_go", icon=":material/timer:",
                     help="Times a training step of each in a child process (about half a minute)."):
            st.session_state[key] = sizes
            st.rerun()
        return
    job = services.onehot_costs().request(*sizes, owner=state.workspace_id())
    if not job.finished:
        _poll(sizes)
        return
    if job.state == "failed":
        st.error(f"The measurement failed: {md(job.error)}")
        if st.button("Try again", key=f"{key}_retry"):
            st.rerun()
        return
    _show(job.result)


@st.fragment(run_every=POLL_SECONDS)
def _poll(sizes: tuple) -> None:
    job = services.onehot_costs().request(*sizes, owner=state.workspace_id())
    if job.finished:
        st.rerun()
    st.progress(job.fraction, text=md(job.stage))


def _show(result: dict) -> None:
    st.dataframe(cost_table(result), hide_index=True, column_config={
        "ms per step": st.column_config.NumberColumn(format="%.2f"),
        "s per epoch": st.column_config.NumberColumn(format="%.1f"),
    })
    lookup, onehot = result["lookup"], result["one-hot"]
    same = "the very same" if result["max_difference"] == 0 else f"the same (to {result['max_difference']:.1e})"
    st.markdown(
        f"From the same weights both give {same} predictions. Per step of {result['batch_size']} ratings the "
        f"one-hot layer took {onehot['seconds_per_step'] / lookup['seconds_per_step']:.1f} times as long, its "
        f"gradient is {onehot['gradient_bytes_per_step'] / lookup['gradient_bytes_per_step']:,.0f} times as big "
        "(every row of both tables, not just the batch's), and an epoch's one-hot inputs built at once would take "
        f"{_bytes(onehot['input_bytes_per_epoch'])}. Keras's Adam moves every row at every step either way, which "
        "is why the times are closer than the sizes; this app's fast engine updates only the rows a batch touched.")
    st.caption(f"Timed over {result['steps_timed']} steps of each with one CPU thread in a child process, on random "
               "ratings of this dataset's sizes (the time depends on the sizes only), scaled to an epoch of "
               f"{result['n_train']:,} ratings.")
