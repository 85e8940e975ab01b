"""The Train page's panel: a running training's live curve (the SVG module is looked up at call time, so a
test can count the builds), what the panel shows when nothing trains (the last
run, a failure, a reused run), and the box with the settings' link and the workspace's."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from cfcore.figures import live_svg as live_figures
from cfcore.figures.training import training_curves
from cfcore.text import md
from ui import job_panel, run_summary
from ui.page import chart, live_svg, svg_font_px
from ui.state import runs, workspace_link


def live_curve(job) -> str:
    """The running job's curves as SVG, rebuilt only when an epoch has been added (most redraws see the same
    epochs)."""
    history = list(job.history)
    key = (job.id, len(history), svg_font_px())  # presenter mode's larger labels are drawn into the SVG
    built = st.session_state.get("train_live_curve")
    if built is None or built[0] != key:
        references = run_summary.reference_lines(job.dataset, job.split)
        svg = live_figures.training_curves_svg(history, job.config.epochs, references, font_px=key[2])
        built = st.session_state["train_live_curve"] = (key, svg)
    return built[1]


def draw_live(jobs) -> None:
    """Each running job's progress bar and live curve."""
    for job in jobs:
        job_panel.progress_bar(job, md(job.name))
        live_svg(live_curve(job))


def _retrain_next_seed() -> None:
    # A callback: it runs before the script draws the seed control, so the control can still change.
    st.session_state["train_seed"] = int(st.session_state["train_seed"]) + 1
    st.session_state["train_retrain"] = True
    st.session_state.pop("train_last_reused", None)
    st.session_state.pop("train_last_already", None)


def idle(purpose: str) -> None:
    """The panel when nothing trains: a failure and its epochs, a notice, a reused run, or the last run."""
    st.session_state.pop("train_live_curve", None)
    if failure := job_panel.describe_failure(purpose):
        st.error(failure)
        failed = st.session_state.get(f"{purpose}_last_failed")
        if failed and failed[2]:
            st.caption(f"The epochs {md(failed[0])} completed before it stopped:")
            chart(st, training_curves(failed[2], failed[1]), key="train_failed_chart")
    if st.session_state.get("train_last_notice"):
        st.warning(st.session_state["train_last_notice"])
    already = st.session_state.get("train_last_already")
    if already in runs():
        st.info(f"You trained exactly this a moment ago (same data, settings and seed): it is **{md(already)}**, "
                "shown below and now the active model. Training it again would give the same numbers.")
    elif st.session_state.get("train_last_reused"):
        st.info("Someone on this server had just trained exactly this (same data, settings and seed): your copy "
                "is below, without waiting.")
    if already in runs() or st.session_state.get("train_last_reused"):
        st.button("Train anyway with another seed", key="train_again_other_seed", on_click=_retrain_next_seed)
    last = already if already in runs() else st.session_state.get("train_last_run")
    shown = last if last in runs() else st.session_state.get("active_run")
    if shown in runs():
        run_summary.show(runs()[shown], shown)
    else:
        st.info("Choose settings and press **Train**. The *fast* preset trains in a second or two; the article's "
                "settings (batch size 32, 10 epochs) take about 11 s on a 2-core CPU.")


def share_box(chosen_params: dict[str, str]) -> None:
    """The link that opens the Train page with these settings, and this workspace's private link."""
    with st.expander("Share these settings, or come back to this workspace"):
        base = (st.context.url or "").split("?")[0]
        st.markdown("**Share these settings**: this link opens the Train page with the settings above and nothing "
                    "else (no runs, no data).")
        st.code(f"{base}?{urlencode(chosen_params)}", language=None)
        st.markdown("**Your workspace link** brings back your runs, data and choices after a reload, on another "
                    "device or after the server restarts. It is private: anyone with it can see and change those "
                    "runs, so do not post it where others can read it.")
        st.code(workspace_link(), language=None)
