"""Train page: choose settings, train in the trainer process, watch the curves live, keep the runs."""

from dataclasses import replace
from urllib.parse import urlencode

import streamlit as st

from cfcore import share
from cfcore.config import ConfigError
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.data.errors import DataError
from cfcore.data.split import split_dataset
from cfcore.figures.live_svg import training_curves_svg
from cfcore.figures.tables import runs_table
from cfcore.figures.training import training_curves
from cfcore.text import md, server_text
from cfcore.trainer.jobs import JobError
from cfcore.workspace import WorkspaceError
from ui import job_panel, run_summary, train_settings
from ui.page import chart, dataset_label, intro, live_svg, load_default_dataset_button, scroll_into_view, svg_font_px
from ui.state import current_dataset, init_session, runs, split_settings, workspace_link

PURPOSE = "train"


def _live_curve(job) -> str:
    """The running job's curves as SVG, rebuilt only when an epoch has been added (most redraws see the same
    epochs)."""
    history = list(job.history)
    key = (job.id, len(history), svg_font_px())  # presenter mode's larger labels are drawn into the SVG
    built = st.session_state.get("train_live_curve")
    if built is None or built[0] != key:
        references = run_summary.reference_lines(job.dataset, job.split)
        svg = training_curves_svg(history, job.config.epochs, references, font_px=key[2])
        built = st.session_state["train_live_curve"] = (key, svg)
    return built[1]


def _draw_live(jobs) -> None:
    for job in jobs:
        job_panel.progress_bar(job, md(job.name))
        live_svg(_live_curve(job))


def _retrain_next_seed() -> None:
    # A callback: it runs before the script draws the seed control, so the control can still change.
    st.session_state["train_seed"] = int(st.session_state["train_seed"]) + 1
    st.session_state["train_retrain"] = True
    st.session_state.pop("train_last_reused", None)


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
    settings = split_settings()
    st.caption(f"Data: {md(dataset_label(dataset))}, {settings['val_fraction']:.0%} held out for validation "
               f"(split seed {settings['seed']}; change it on the Data page).")
    start = st.button("Train", key="train_start", type="primary", icon=":material/play_arrow:", disabled=busy)

# The URL mirrors the settings, so the settings survive a reload; the share box below gives a link without the
# workspace.
chosen_params = share.config_to_params(train_settings.chosen_config(model))
st.query_params.update(chosen_params)

start = start or st.session_state.pop("train_retrain", False)
if start:
    config = replace(train_settings.chosen_config(model), val_fraction=settings["val_fraction"])
    try:
        split = split_dataset(dataset, config.val_fraction, settings["seed"])
        job_panel.submit(dataset, config, split, PURPOSE)
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
        job_panel.watch([job.id], _draw_live)
        job_panel.stop_button(job, "train_stop")
    else:
        st.session_state.pop("train_live_curve", None)
        if failure := job_panel.describe_failure(PURPOSE):
            st.error(failure)
            failed = st.session_state.get(f"{PURPOSE}_last_failed")
            if failed and failed[2]:
                st.caption(f"The epochs {md(failed[0])} completed before it stopped:")
                chart(st, training_curves(failed[2], failed[1]), key="train_failed_chart")
        if st.session_state.get("train_last_notice"):
            st.warning(st.session_state["train_last_notice"])
        if st.session_state.get("train_last_reused"):
            st.info("The same training just finished for someone else; here it is.")
            st.button("Train anyway with another seed", key="train_again_other_seed", on_click=_retrain_next_seed)
        last = st.session_state.get("train_last_run")
        shown = last if last in runs() else st.session_state.get("active_run")
        if shown in runs():
            run_summary.show(runs()[shown], shown)
        else:
            st.info("Choose settings and press **Train**. The *fast* preset trains in a second or two; the article's "
                    "settings (batch size 32, 10 epochs) take about 11 s on a 2-core CPU.")
    job_panel.other_trainings("train")

if runs():
    st.subheader("Runs in this workspace")
    st.dataframe(runs_table(runs()), hide_index=True)
    st.caption("Switch the active model in the sidebar; the Compare page puts runs side by side.")

with st.expander("Share these settings, or come back to this workspace"):
    base = (st.context.url or "").split("?")[0]
    st.markdown("**Share these settings**: this link opens the Train page with the settings above and nothing "
                "else (no runs, no data).")
    st.code(f"{base}?{urlencode(chosen_params)}", language=None)
    st.markdown("**Your workspace link** brings back your runs, data and choices after a reload, on another "
                "device or after the server restarts. It is private: anyone with it can see and change those "
                "runs, so do not post it where others can read it.")
    st.code(workspace_link(), language=None)
