"""Under the hood page: the hand-made embedding layer, proved equal to one-hot × matrix, and trained."""

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.analysis.baselines import global_mean_baseline
from cfcore.config import PRESETS, ConfigError, preset
from cfcore.data.split import split_dataset
from cfcore.figures.live_svg import compare_curves_svg
from cfcore.figures.training import compare_curves
from cfcore.text import md, server_text
from cfcore.trainer.jobs import JobError
from cfcore.workspace import WorkspaceError
from ui import cached, job_panel
from ui.lookup_example import MAX_DAYS, WEATHER, layer_source, parse_days
from ui.page import chart, intro, live_svg, load_default_dataset_button, svg_font_px
from ui.state import current_dataset, runs, split_settings

PURPOSE = "compare-layers"

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
days = parse_days(text)
if days.unknown:
    st.warning(f"Skipping unknown tags: {md(', '.join(days.unknown))}. Use: {', '.join(WEATHER)}.")
if days.known_count > MAX_DAYS:
    st.info(f"Showing the first {MAX_DAYS} of your {days.known_count} days, so the matrices stay readable.")
if not days.known_count:
    st.info("No known weather tag to look up yet: showing one sunny day. Type tags from the list above, "
            "separated by commas.")


example, figure = cached.lookup_figures(tuple(days.tags), dim)
chart(st, figure)
left, right = st.columns(2)
left.markdown("`take(W, indices)`: rows looked up, as the layer's `call` does")
left.dataframe(pd.DataFrame(example.looked_up, index=example.rows, columns=example.dimensions).round(4))
right.markdown("`one_hot(indices) @ W`: matrix product")
right.dataframe(pd.DataFrame(example.product, index=example.rows, columns=example.dimensions).round(4))
difference = float(np.abs(example.looked_up - example.product).max())
if np.array_equal(example.looked_up, example.product):
    st.success(f"Identical: the largest difference between the two tables is {difference:g}.")
else:
    st.error(f"The two tables differ by up to {difference:g}.")

with st.expander("The layer's source (cfcore/training/models.py)"):
    st.code(layer_source(), language="python")

st.subheader("Does the hand-made layer learn like Keras's?")
st.markdown("The article trains the simple dot model twice: on `keras.layers.Embedding` (`simple_dot`) and on "
            "this layer (`simple_embedding`). Here both start from the very same weights (uniform in 0..0.05, the "
            "same seeds) and see the same batches, so their curves are identical: a lookup is a lookup. The "
            "article's hand-made layer started from its own initialiser instead (uniform in -0.05..0.05, other "
            "random numbers), which is where its 1.13 against 1.08 came from.")
own_init = st.toggle("Start the hand-made layer the article's way (its own initialiser)", key="uth_own_init",
                     help="The same model and settings from another starting point: how much of a result is the "
                          "start?")
dataset = current_dataset()
if dataset is None:
    load_default_dataset_button("uth_load_data")
    st.stop()

job_panel.warm()
job_panel.collect_finished(PURPOSE)


def _newest(model: str, config=None):
    """The newest workspace run of ``model`` on this dataset (with exactly ``config``, when given)."""
    for run in reversed(list(runs().values())):
        same_data = run.dataset.fingerprint == dataset.fingerprint
        if run.config.model == model and same_data and (config is None or run.config == config):
            return run
    return None


def _draw(jobs) -> None:
    for job in jobs:
        job_panel.progress_bar(job, job.config.model)
    curves = {j.config.model: j.history for j in jobs}  # before the first epoch: the axes and a note
    live_svg(compare_curves_svg(curves, max(j.config.epochs for j in jobs), font_px=svg_font_px()))


running = [job for job in job_panel.jobs(PURPOSE) if job.active]
if running:
    job_panel.watch([job.id for job in running], _draw)
    st.stop()
if failure := job_panel.describe_failure(PURPOSE):
    st.error(f"{failure}. Press the button to try again.")
dot_run = _newest("simple_dot")
if dot_run is None:
    preset_name = st.selectbox("Settings for both models", list(PRESETS), index=list(PRESETS).index("fast"),
                               key="uth_preset",
                               help="fast trains in a second or two; article about 11 s each on a 2-core CPU.")
    # The Data page's split, as the Train page uses: the new runs then stand next to its runs on Compare.
    settings = split_settings()
    config = preset(preset_name, model="simple_embedding", val_fraction=settings["val_fraction"], own_init=own_init)
    split, data = split_dataset(dataset, settings["val_fraction"], settings["seed"]), dataset
else:
    # Same settings and the same split as the finished simple_dot run: only the layer differs.
    config, split, data = (replace(dot_run.config, model="simple_embedding", own_init=own_init), dot_run.split,
                           dot_run.dataset)
    st.caption(f"Reusing this workspace's finished simple_dot run ({md(dot_run.name)}) and its settings.")
embedding_run = _newest("simple_embedding", config)
if dot_run is not None and embedding_run is not None:
    histories = {run.name: run.result.history for run in (dot_run, embedding_run)}
    chart(st, compare_curves(histories))
    gap = embedding_run.result.best_val_rmse - dot_run.result.best_val_rmse
    baseline = global_mean_baseline(dot_run.split).val_rmse
    st.caption((f"From its own start the hand-made layer ends {gap:+.3f} from simple_dot: the layers compute the "
                "same thing, and the starting weights moved the result." if own_init else
                f"Best validation RMSE differs by {abs(gap):.4f}: the two layers compute the same thing.")
               + (f" simple_dot is about as good as predicting every rating with the global mean ({baseline:.3f}): "
                  "without biases, its dimensions go on each user's and movie's average first."
                  if abs(dot_run.result.best_val_rmse - baseline) < 0.05 else
                  f" Predicting every rating with the global mean scores {baseline:.3f} on this split."))
else:
    todo = {"simple_embedding": config}
    if dot_run is None:
        todo["simple_dot"] = replace(config, model="simple_dot", own_init=False)
    if st.button(f"Train {' and '.join(todo)}", key="uth_train", type="primary"):
        job_panel.clear_notices(PURPOSE)
        try:
            for cfg in todo.values():
                job_panel.submit(data, cfg, split, PURPOSE)
        except (JobError, ConfigError, WorkspaceError) as err:
            st.error(md(server_text(err)))
        else:
            st.rerun()
