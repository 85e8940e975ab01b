"""This workspace's trainings: submitting, the live panel Train and Under the hood share, and collecting results.

A job belongs to the workspace, not the tab: reload during a training, or open the workspace link elsewhere,
and :func:`current_job` finds it again. The trainer saves a finished run into the workspace with no tab open
(:func:`ui.services._record_job`); a tab only picks up what to say about it.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.data.split import Split
from cfcore.text import md, server_text
from cfcore.trainer.jobs import Job
from cfcore.workspaces import workspace
from cfcore.workspaces.workspace import JobRecord
from ui import services, state
from ui.page import chart

# The live panel is redrawn this often (and at once when an epoch ends); every watching browser redraws it,
# about 0.07 s of its CPU on the Train page (cfcore/figures/live_svg.py), which is why the curve there is not Plotly's.
POLL_SECONDS = 1.0
STOPPING = "Stopping after the current group of batches..."


def warm() -> None:
    """Start the trainer process now (TensorFlow imported, code traced), so Train starts at once."""
    services.trainer().warm()


def job(job_id: str) -> Job | None:
    """This workspace's job with that id, or None (another workspace's jobs are invisible)."""
    return services.training_manager().get(job_id, state.workspace_id())


def jobs(purpose: str) -> list[Job]:
    """This workspace's jobs for ``purpose`` not yet collected, oldest first."""
    return [j for j in services.training_manager().jobs(state.workspace_id()) if j.purpose == purpose]


def current_job(purpose: str) -> Job | None:
    """The oldest queued or running job of this workspace for ``purpose``."""
    return next((j for j in jobs(purpose) if j.active), None)


def submit(dataset: Dataset, config: TrainConfig, split: Split, purpose: str, name: str = "",
           reuse: bool = True) -> Job:
    """Queue a training for this workspace; its run is saved in the workspace when it ends. An identical
    training under way is joined; with ``reuse``, one that has just finished is copied at once.

    Raises:
        ConfigError, JobError, WorkspaceError: with a message for the learner.
    """
    return services.training_manager().submit(
        dataset, config.validate(), state.workspace_id(), split=split, name=name or state.next_run_name(config.model),
        out_dir=state.new_run_dir(), purpose=purpose, reuse=reuse,
    )


def collect_finished(purpose: str) -> list[Job]:
    """Take this workspace's finished ``purpose`` jobs off the manager and note what to tell the learner:
    ``"<purpose>_last_run"`` (the newest run's name), ``"<purpose>_last_error"`` (with the partial curve under
    ``"<purpose>_last_failed"``) and ``"<purpose>_last_notice"``. Called on every page through the sidebar, so a
    run that ends while the learner is elsewhere is picked up on their next click."""
    finished = [j for j in jobs(purpose) if j.finished]
    manager = services.training_manager()
    for done in finished:
        if done.detached:
            st.session_state[f"{purpose}_last_notice"] = ("You stopped watching a training others are waiting for: "
                                                          "it goes on for them, and nothing was added here.")
        elif done.error:
            st.session_state[f"{purpose}_last_error"] = done.error
            st.session_state[f"{purpose}_last_failed"] = (done.name, done.config.epochs, list(done.history))
        elif done.run is not None and done.run.result.history:
            st.session_state[f"{purpose}_last_run"] = done.name
            if purpose == "train":
                st.session_state["active_run"] = done.name
            if done.reused:
                st.session_state[f"{purpose}_last_reused"] = done.name
            if done.time_limited:
                st.session_state[f"{purpose}_last_notice"] = (
                    f"stopped: time limit. This server stops a training after {manager.max_seconds:,.0f} s; "
                    "the epochs so far are kept. Fewer epochs or a bigger batch size fit in the limit.")
        else:
            st.session_state[f"{purpose}_last_notice"] = ("The run was stopped before its first epoch ended; "
                                                          "nothing to keep.")
        manager.release(done.id, state.workspace_id())
    return finished


def clear_notices(purpose: str) -> None:
    for key in ("last_error", "last_failed", "last_notice", "last_reused", "last_already"):
        st.session_state.pop(f"{purpose}_{key}", None)


def progress_bar(current: Job, label: str = "") -> None:
    """One job's progress: its place in the queue, starting, or epoch and batch."""
    prefix = f"{label}: " if label else ""
    if current.joined:
        st.caption("Someone on this server started the very same training (same data, settings and seed): you "
                   "are watching it, and you get your own copy of the run.")
    if current.state == "queued":
        st.progress(0.0, text=f"{prefix}waiting for a free training slot: position {current.queue_position()} in "
                              f"the queue (at most {services.training_manager().max_concurrent} trainings run at "
                              "once on this server).")
    elif current.progress is None:
        st.progress(0.0, text=f"{prefix}starting: building the model in the trainer...")
    elif current.config.model == "svd":  # no epochs or batches: one factorisation
        st.progress(0.5, text=f"{prefix}computing the SVD of the ratings · {current.elapsed:.0f} s")
    else:
        p = current.progress
        done = (p.epoch - 1 + min(p.step / max(p.steps_per_epoch, 1), 1.0)) / max(p.epochs, 1)
        st.progress(min(done, 1.0), text=f"{prefix}epoch {p.epoch} of {p.epochs} · batch {p.step:,} of "
                                         f"{p.steps_per_epoch:,} · {current.elapsed:.0f} s")


def stop_button(current: Job, key: str) -> None:
    if current.stop_requested:
        st.caption(STOPPING)
    elif st.button("Stop", key=key, icon=":material/stop_circle:"):
        current.stop()
        st.caption(STOPPING)


def watch(job_ids: list[str], draw: Callable[[list[Job]], None]) -> None:
    """Show ``draw(jobs)`` while any of the jobs runs, and rerun the whole page when all have ended.

    The server pushes the changes: after the page's run has drawn the panel, the panel's own rerun stays on the
    server and redraws it the moment an epoch ends or the jobs finish (and every :data:`POLL_SECONDS` for the
    batch counter), instead of waiting for the browser to ask again. So a busy or slow browser (thirty in one
    room, on a shared server) still gets its result as soon as it is saved. ``draw`` must not make widgets (they
    would be made twice); the page's Stop buttons go after this call, where a click reruns the page, which ends
    the wait at its next redraw.
    """
    in_page_run = True
    owner = state.workspace_id()

    @st.fragment(run_every=POLL_SECONDS)  # the browser's timer only starts the panel's rerun (or restarts it)
    def _live() -> None:
        panel = st.empty()
        while True:
            services.job_caps().seen(owner)  # a tab watching its jobs wants them; a closed one stops saying so
            current = [j for j in (job(job_id) for job_id in job_ids) if j is not None]
            if all(j.finished for j in current):
                st.rerun()  # a full run collects the finished runs and shows the results
            with panel.container():
                draw(current)
            if in_page_run:
                return  # the rest of the page still has to be drawn
            services.training_manager().wait_for_change(current, POLL_SECONDS)

    _live()
    in_page_run = False


def interrupted() -> list[JobRecord]:
    """Trainings of this workspace that a server restart cut, with their curves so far."""
    live = {j.id for j in services.training_manager().jobs(state.workspace_id())}
    return [record for record in state.workspace().job_records() if record.job_id not in live and record.interrupted]


def elsewhere() -> list[JobRecord]:
    """Trainings of this workspace that another server of this app (a replica) is running now."""
    live = {j.id for j in services.training_manager().jobs(state.workspace_id())}
    this_server = workspace.SERVER_TOKEN  # read now, not at import: a restart changes it
    return [record for record in state.workspace().job_records()
            if record.job_id not in live and not record.interrupted and record.server != this_server]


def dismiss_interrupted(job_id: str) -> None:
    state.workspace().drop_job(job_id)


def describe_failure(purpose: str) -> str | None:
    error = st.session_state.get(f"{purpose}_last_error")
    return f"Training failed: {md(server_text(error))}" if error else None


def other_trainings(key: str) -> None:
    """This workspace's trainings this server does not run: one on another replica (a line), one a restart
    interrupted (its curve so far, and Dismiss). ``key`` prefixes the widget keys."""
    from cfcore.figures.training import training_curves

    for record in elsewhere():
        st.info(f"**{md(record.name)}** is training on another server of this app (epoch {len(record.history)} of "
                f"{record.config.get('epochs', '?')}); it appears here when it is saved.")
    for record in interrupted():
        with st.container(border=True):
            done, planned = len(record.history), record.config.get("epochs", "?")
            st.warning(f"**{md(record.name)}** was interrupted (the server restarted or its trainer stopped) "
                       + (f"after {done} of {planned} epochs. Its curve so far:" if done else
                          f"before its first epoch ended (of {planned}): nothing to keep. Train it again."))
            if record.history:
                chart(st, training_curves(record.history, int(record.config.get("epochs", 1))),
                                key=f"{key}_interrupted_{record.job_id}")
            if st.button("Dismiss", key=f"{key}_dismiss_{record.job_id}"):
                dismiss_interrupted(record.job_id)
                st.rerun()
