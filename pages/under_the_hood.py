"""Under the hood page: the hand-made embedding layer, proved equal to one-hot × matrix, and trained."""

import inspect
from dataclasses import replace

import keras
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cfcore import explore_charts as charts
from cfcore.config import PRESETS, ConfigError, preset
from cfcore.data import split_dataset
from cfcore.trainer.jobs import JobError
from cfcore.models import GatherEmbedding
from cfcore.text import md
from pages.common import (
    add_run,
    current_dataset,
    intro,
    load_default_dataset_button,
    runs,
    session_id,
    set_active_run,
    split_settings,
    training_manager,
)

WEATHER = ["sunny", "cloudy", "rainy", "snowy", "windy", "foggy", "stormy"]
MAX_DAYS = 14

st.title("Under the hood")
intro(
    "An embedding layer is a weight matrix with one row per category. Feeding it category *i* returns row *i*: "
    "exactly what multiplying a one-hot vector by the matrix gives, without building the one-hot vector. "
    "Here it is with the article's weather tags."
)

st.subheader("Lookup = one-hot × matrix")
left, right = st.columns([3, 1])
text = left.text_input(f"Some days' weather (comma-separated: {', '.join(WEATHER)})",
                       "sunny, rainy, rainy, stormy, foggy", key="uth_days")
dim = right.slider("Vector length", 2, 6, 3, key="uth_dim")
tags = [t.strip().lower() for t in text.split(",") if t.strip()]
unknown = sorted({t for t in tags if t not in WEATHER})
if unknown:
    st.warning(f"Skipping unknown tags: {md(', '.join(unknown))}. Use: {', '.join(WEATHER)}.")
tags = [t for t in tags if t in WEATHER][:MAX_DAYS] or ["sunny"]


@st.cache_resource(max_entries=64, show_spinner=False)
def _example(indices: tuple[int, ...], dim: int) -> tuple[np.ndarray, np.ndarray, list[str], go.Figure]:
    """The real layer called on ``indices`` (the rows it returns), ``one_hot(indices) @ W``, the days' labels
    and the three heatmaps.

    Built once per input for the whole server and only read afterwards (the arrays are read-only): while
    trainings keep TensorFlow's threads busy, even these few small ops would wait their turn on every visit,
    and the figure alone is about 30 ms of Python.
    """
    layer = GatherEmbedding(len(WEATHER), dim, keras.initializers.RandomUniform(-1.0, 1.0, seed=7))
    looked_up = keras.ops.convert_to_numpy(layer(np.array(indices, dtype="int32")))  # builds, then gathers rows
    weights = keras.ops.convert_to_numpy(layer.embeddings)
    onehot = np.eye(len(WEATHER), dtype=weights.dtype)[list(indices)]
    product = onehot @ weights
    looked_up.flags.writeable = product.flags.writeable = False
    rows = [f"day {i + 1}: {WEATHER[k]}" for i, k in enumerate(indices)]
    return looked_up, product, rows, charts.onehot_product_figure(onehot, weights, product, rows, WEATHER)


looked_up, product, rows, figure = _example(tuple(WEATHER.index(t) for t in tags), dim)
columns = [f"d{k + 1}" for k in range(dim)]
st.plotly_chart(figure)
left, right = st.columns(2)
left.markdown("`layer(indices)`: rows looked up")
left.dataframe(pd.DataFrame(looked_up, index=rows, columns=columns).round(4))
right.markdown("`one_hot(indices) @ W`: matrix product")
right.dataframe(pd.DataFrame(product, index=rows, columns=columns).round(4))
difference = float(np.abs(looked_up - product).max())
if np.array_equal(looked_up, product):
    st.success(f"Identical: the largest difference between the two tables is {difference:g}.")
else:
    st.error(f"The two tables differ by up to {difference:g}.")

with st.expander("The layer's source (cfcore/models.py)"):
    st.code(inspect.getsource(GatherEmbedding), language="python")

st.subheader("Does the hand-made layer learn like Keras's?")
st.markdown("The article trains the simple dot model twice: on `keras.layers.Embedding` (`simple_dot`) and on "
            "this layer (`simple_embedding`). Same settings, same seed: the curves should nearly coincide.")
dataset = current_dataset()
if dataset is None:
    load_default_dataset_button("uth_load_data")
    st.stop()

manager, owner = training_manager(), session_id()
st.session_state.setdefault("uth_jobs", {})


def _newest(model: str, config=None):
    """The newest session run of ``model`` on this dataset (with exactly ``config``, when given)."""
    for run in reversed(list(runs().values())):
        same_data = run.dataset.fingerprint == dataset.fingerprint
        if run.config.model == model and same_data and (config is None or run.config == config):
            return run
    return None


def _jobs() -> dict:
    return {model: manager.get(job_id, owner) for model, job_id in st.session_state["uth_jobs"].items()}


def _collect(jobs: dict) -> None:
    """Keep the finished jobs' runs (the active model stays as it was) and rerun the whole page."""
    active = st.session_state.get("active_run")
    failures = []
    for model, job in jobs.items():
        if job is not None and job.run is not None and job.run.result.history:
            add_run(job.run)
        elif job is not None:
            failures.append(f"{model}: {job.error or job.state}")
        if job is not None:
            manager.release(job.id, owner)
    st.session_state["uth_failures"] = failures
    if active in runs():
        set_active_run(active)  # finishing a comparison should not swap the model the other pages show
    st.session_state["uth_jobs"] = {}
    st.rerun()


@st.fragment(run_every=1.0)
def _watch() -> None:
    jobs = _jobs()
    for model, job in jobs.items():
        p = job.progress if job is not None else None
        done = 0.0 if p is None else p.epoch - 1 + min(p.step / max(p.steps_per_epoch, 1), 1.0)
        where = f"epoch {p.epoch} of {p.epochs}" if p is not None else (job.state if job else "gone")
        st.progress(min(done / job.config.epochs, 1.0) if job else 1.0, f"{model}: {where}")
    curves = {m: j.history for m, j in jobs.items() if j is not None and j.history}
    if curves:
        st.plotly_chart(charts.compare_curves(curves))
    if all(job is None or job.finished for job in jobs.values()):
        _collect(jobs)


jobs = _jobs()
if any(job is not None and job.active for job in jobs.values()):
    _watch()
    st.stop()
if jobs:
    _collect(jobs)
for failure in st.session_state.pop("uth_failures", []):
    st.error(f"Training did not finish: {md(failure)}. Press the button to try again.")
dot_run = _newest("simple_dot")
if dot_run is None:
    preset_name = st.selectbox("Settings for both models", list(PRESETS), index=list(PRESETS).index("fast"),
                               key="uth_preset", help="fast trains in seconds; article takes minutes on a CPU.")
    # The Data page's split, as the Train page uses: the new runs then stand next to its runs on Compare.
    settings = split_settings()
    config = preset(preset_name, model="simple_embedding", val_fraction=settings["val_fraction"])
    split, data = split_dataset(dataset, settings["val_fraction"], settings["seed"]), dataset
else:
    # Same settings and the same split as the finished simple_dot run: only the layer differs.
    config, split, data = replace(dot_run.config, model="simple_embedding"), dot_run.split, dot_run.dataset
    st.caption(f"Reusing this session's finished simple_dot run ({md(dot_run.name)}) and its settings.")
embedding_run = _newest("simple_embedding", config)
if dot_run is not None and embedding_run is not None:
    histories = {run.name: run.result.history for run in (dot_run, embedding_run)}
    st.plotly_chart(charts.compare_curves(histories))
    gap = abs(dot_run.result.best_val_rmse - embedding_run.result.best_val_rmse)
    st.caption(f"Best validation RMSE differs by {gap:.4f}: the two layers compute the same thing.")
else:
    todo = {"simple_embedding": config}
    if dot_run is None:
        todo["simple_dot"] = replace(config, model="simple_dot")
    if st.button(f"Train {' and '.join(todo)}", key="uth_train", type="primary"):
        try:
            st.session_state["uth_jobs"] = {
                model: manager.submit(data, cfg, owner, split=split, name=model).id for model, cfg in todo.items()
            }
        except (JobError, ConfigError) as err:
            st.error(md(err))
        else:
            st.rerun()
