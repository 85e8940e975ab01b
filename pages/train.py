"""Train page: choose settings, train in the trainer process, watch the curves live, keep the runs."""

from dataclasses import replace

import streamlit as st

from cfcore import share
from cfcore.config import ConfigError
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.data.errors import DataError
from cfcore.data.split import split_dataset
from cfcore.figures.tables import runs_table
from cfcore.text import md, server_text
from cfcore.trainer.jobs import AlreadyTrained, JobError
from cfcore.workspaces.disk import WorkspaceError
from ui import job_panel, tables, train_panel, train_settings
from ui.page import dataset_label, intro, load_default_dataset_button, scroll_into_view
from ui.state import current_dataset, init_session, runs, split_settings

PURPOSE = "train"


init_session()
job_panel.collect_finished(PURPOSE)
job_panel.warm()
st.title("Train")
intro("Training moves a vector for every user and every movie until their dot product (plus two biases, for the "
      "bias model) predicts the known ratings. The training error falls every epoch; the validation error, on "
      "ratings the model never sees, tells you when it starts memorising instead of learning. The article's bias "
      f"model reached a validation RMSE of {ARTICLE_VAL_RMSE['dot_with_bias']} stars; the dashed lines show it.")

dataset = current_dataset()
if dataset is None:
    load_default_dataset_button("train_load_default")
    st.stop()

train_settings.init()
job = job_panel.current_job(PURPOSE)
busy = job is not None
for note in st.session_state.pop("train_link_notes", []):
    st.warning(f"The link's settings were adjusted: {md(note)}.")
controls, panel = st.columns([5, 6], gap="medium")  # the controls' select boxes need room on a projector
with controls:
    model = train_settings.controls(busy)
    chosen_split = split_settings()
    st.caption(f"Data: {md(dataset_label(dataset))}, {chosen_split['val_fraction']:.0%} held out for "
               f"validation (split seed {chosen_split['seed']}; change it on the Data page).")
    start = st.button("Train", key="train_start", type="primary", icon=":material/play_arrow:", disabled=busy)

# The URL mirrors the settings, so the settings survive a reload; the share box below gives a link without the
# workspace.
chosen_params = share.config_to_params(train_settings.chosen_config(model))
st.query_params.update(chosen_params)

start = start or st.session_state.pop("train_retrain", False)
if start:
    config = replace(train_settings.chosen_config(model), val_fraction=chosen_split["val_fraction"])
    try:
        split = split_dataset(dataset, config.val_fraction, chosen_split["seed"])
        try:
            job_panel.submit(dataset, config, split, PURPOSE)
        except AlreadyTrained as err:
            if err.name not in runs():  # deleted since: train it again
                job_panel.submit(dataset, config, split, PURPOSE, reuse=False)
            else:
                st.session_state["train_last_already"] = err.name
                st.session_state["active_run"] = err.name
                st.rerun()
    except (ConfigError, DataError, JobError, WorkspaceError) as err:
        st.error(f"Cannot start training: {md(server_text(err))}")
    else:
        job_panel.clear_notices(PURPOSE)
        st.session_state["train_scroll_to_panel"] = True
        st.rerun()

with panel.container(key="train_panel"):
    if st.session_state.pop("train_scroll_to_panel", False):
        scroll_into_view("train_panel")  # on a narrow screen the panel sits below the settings
    if job is not None:
        job_panel.watch([job.id], train_panel.draw_live)
        job_panel.stop_button(job, "train_stop")
    else:
        train_panel.idle(PURPOSE)
    job_panel.other_trainings("train")

if runs():
    st.subheader("Runs in this workspace")
    tables.show(st, runs_table(runs()), tables.RUNS_COLUMNS)
    st.caption("Switch the active model in the sidebar; the Compare page puts runs side by side.")

train_panel.share_box(chosen_params)
