"""Under the hood page: the hand-made embedding layer, proved equal to one-hot × matrix, and trained."""

from dataclasses import replace

import streamlit as st

from cfcore.config import PRESETS, ConfigError, kind_name, preset
from cfcore.data.split import split_dataset
from cfcore.text import md, server_text
from cfcore.trainer.jobs import JobError
from cfcore.workspaces.disk import WorkspaceError
from ui import job_panel, layer_race, lookup_section
from ui.page import intro, load_default_dataset_button
from ui.state import current_dataset, split_settings

PURPOSE = "compare-layers"

st.title("Under the hood")
intro(
    "An embedding layer is a weight matrix with one row per category. Feeding it category *i* returns row *i*: "
    "exactly what multiplying a one-hot vector by the matrix gives, without building the one-hot vector. "
    "Here it is with the article's weather tags."
)

lookup_section.show()

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


running = [job for job in job_panel.jobs(PURPOSE) if job.active]
if running:
    job_panel.watch([job.id for job in running], layer_race.draw)
    st.stop()
if failure := job_panel.describe_failure(PURPOSE):
    st.error(f"{failure}. Press the button to try again.")
dot_run = layer_race.newest(dataset, "simple_dot")
if dot_run is None:
    preset_name = st.selectbox("Settings for both models", list(PRESETS), index=list(PRESETS).index("fast"),
                               key="uth_preset",
                               help="fast trains in a second or two; article about 11 s each on a 2-core CPU.")
    # The Data page's split, as the Train page uses: the new runs then stand next to its runs on Compare.
    chosen_split = split_settings()
    config = preset(preset_name, model="simple_embedding", val_fraction=chosen_split["val_fraction"],
                    own_init=own_init)
    split, data = split_dataset(dataset, chosen_split["val_fraction"], chosen_split["seed"]), dataset
else:
    # Same settings and the same split as the finished simple_dot run: only the layer differs.
    config, split, data = (replace(dot_run.config, model="simple_embedding", own_init=own_init), dot_run.split,
                           dot_run.dataset)
    st.caption(f"Reusing this workspace's finished simple_dot run ({md(dot_run.name)}) and its settings.")
embedding_run = layer_race.newest(dataset, "simple_embedding", config)
if dot_run is not None and embedding_run is not None:
    layer_race.verdict(dot_run, embedding_run, own_init)
else:
    todo = {"simple_embedding": config}
    if dot_run is None:
        todo["simple_dot"] = replace(config, model="simple_dot", own_init=False)
    if st.button(f"Train {' and '.join(kind_name(model) for model in todo)}", key="uth_train", type="primary"):
        job_panel.clear_notices(PURPOSE)
        try:
            for cfg in todo.values():
                job_panel.submit(data, cfg, split, PURPOSE)
        except (JobError, ConfigError, WorkspaceError) as err:
            st.error(md(server_text(err)))
        else:
            st.rerun()
