"""Compare page: the workspace's runs side by side, the baseline ladder, managing and sharing runs, loading runs."""

import streamlit as st

from cfcore import settings, share
from cfcore.analysis.baselines import diverged, shared_ladder
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.data.dataset import is_article_dataset
from cfcore.figures.tables import runs_table
from cfcore.figures.training import METRIC_LABELS, baseline_ladder_figure, compare_curves
from cfcore.runs.errors import RunError
from cfcore.runs.zip import RunZipError
from cfcore.text import count, md, server_text
from cfcore.workspace import WorkspaceError
from ui import state
from ui.page import chart, intro, remembered_tabs

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


def _loaded(name: str, new: bool) -> None:
    st.session_state["cmp_loaded"] = (name, new)
    st.rerun()


if active is None:
    st.info("No trained runs yet. Train one on the Train page, or load a saved run below.")
else:
    st.dataframe(runs_table(shown), hide_index=True, column_config={
        "best val RMSE": st.column_config.NumberColumn(format="%.4f"),
        "seconds": st.column_config.NumberColumn(format="%.1f"),
    })
    if hidden:
        st.caption(f"Hidden from the table and charts: {md(', '.join(sorted(hidden)))}.")
    metric = st.radio("Curve", list(METRIC_LABELS), horizontal=True, key="cmp_metric",
                      format_func=METRIC_LABELS.get)
    reference = (ARTICLE_VAL_RMSE["dot_with_bias"] if metric == "val_rmse" and is_article_dataset(active.dataset)
                 else None)
    broken = [name for name, run in shown.items() if diverged(run)]  # their RMSE of 80 would flatten the rest
    chart(st, compare_curves({name: run.result.history for name, run in shown.items() if name not in broken},
                                    metric, reference, "the article's dot_with_bias"))
    if broken:
        st.caption(f"Left out of the curves and the ladder because they diverged (lower the learning rate): "
                   f"{md(', '.join(broken))}.")

    st.subheader("The baseline ladder")
    ladder, skipped = shared_ladder(active, [run for name, run in shown.items() if name not in broken])
    chart(st, baseline_ladder_figure(ladder))
    st.caption(f"Validation RMSE on the split of **{md(active.name)}**; lower is better."
               + (f" {count(skipped, 'run')} on other data or another split "
                  f"{'is' if skipped == 1 else 'are'} left out." if skipped else ""))

    st.subheader("Manage runs")
    picked = st.selectbox("Run", list(all_runs), index=list(all_runs).index(active.name), key="cmp_manage",
                          format_func=lambda name: state.run_label(all_runs[name]))
    run = all_runs[picked]
    left, middle, right = st.columns(3)
    if left.toggle("Hide from the charts", value=picked in hidden, key=f"cmp_hide_{picked}") != (picked in hidden):
        state.set_hidden(picked, picked not in hidden)
        st.rerun()
    if middle.button("Delete this run", key="cmp_delete", icon=":material/delete:"):
        st.session_state["cmp_confirm_delete"] = picked
    if right.button("Share this run", key="cmp_share", icon=":material/share:"):
        token = state.share_run_token(picked)
        st.session_state["cmp_share_link"] = (picked, f"{(st.context.url or '').split('?')[0]}?"
                                                      f"{state.SHARED_RUN_PARAM}={token}")
    if st.session_state.get("cmp_confirm_delete") == picked:
        st.warning(f"Delete **{md(picked)}** from this workspace and from the server's disk? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", key="cmp_delete_yes", type="primary"):
            state.delete_run(picked)
            st.session_state.pop("cmp_confirm_delete")
            st.rerun()
        if no.button("Keep it", key="cmp_delete_no"):
            st.session_state.pop("cmp_confirm_delete")
            st.rerun()
    link = st.session_state.get("cmp_share_link")
    if link and link[0] == picked:
        st.markdown("A read-only link to a copy of this one run: whoever opens it gets the copy in their own "
                    "workspace and sees nothing else of yours.")
        st.code(link[1], language=None)
    st.caption("Your workspace's own link (the address bar) is private: anyone with it can see and change all "
               "these runs. Share runs with the button above instead.")

    st.subheader(f"Download {md(run.name)}")
    a, b, c = st.columns(3)
    a.download_button("Model (.keras)", lambda: share.model_bytes(run), "model.keras", "application/zip",
                      key="cmp_download_model", on_click="ignore")
    b.download_button("History (CSV)", lambda: share.history_csv_bytes(run), "history.csv", "text/csv",
                      key="cmp_download_history", on_click="ignore")
    c.download_button("Whole run (zip, loads below)", lambda: share.run_zip_bytes(run), "run.zip",
                      "application/zip", key="cmp_download_run", on_click="ignore")

st.subheader("Load a saved run")
if "cmp_loaded" in st.session_state:
    name, new = st.session_state.pop("cmp_loaded")
    if new:
        st.success(f"Loaded **{md(name)}**; it is now the active model.")
    else:
        st.info(f"That run is already in this workspace as **{md(name)}**; nothing was added.")
folder_tab, zip_tab = remembered_tabs(["From the runs folder", "From a zip"], "cmp_load_tab")
with folder_tab:
    root = share.runs_root()
    if root is None:
        st.caption(f"Set the environment variable {share.RUNS_DIR_ENV_VAR} to a folder of saved runs "
                   "(`python -m cfcore train ... --out FOLDER/name`) to list them here.")
    else:
        names = share.list_run_dirs(root)
        folder_label = f"Runs in {root}" if settings.show_paths() else f"Runs in the {share.RUNS_DIR_ENV_VAR} folder"
        choice = st.selectbox(folder_label, names, index=None, key="cmp_run_dir",
                              placeholder="Choose a run" if names else "No saved runs there yet")
        typed = st.text_input("Or a path inside that folder", key="cmp_run_path")
        load_one, load_all = st.columns(2)
        if load_one.button("Load run", key="cmp_load_dir", disabled=not (choice or typed.strip())):
            try:
                with st.spinner("Loading..."):
                    result = state.keep_folder_run(share.resolve_run_dir(root, typed.strip() or choice))
            except (share.RunsFolderError, RunError, WorkspaceError) as err:
                st.error(md(server_text(err)))
            else:
                _loaded(*result)
        if load_all.button(f"Load all {len(names)}", key="cmp_load_all", disabled=not names):
            added, problems = [], []
            with st.spinner("Loading..."):
                for folder_name in names:
                    try:
                        name, new = state.keep_folder_run(share.resolve_run_dir(root, folder_name))
                    except (share.RunsFolderError, RunError, WorkspaceError) as err:
                        problems.append(f"{folder_name}: {server_text(err)}")
                        if isinstance(err, WorkspaceError):
                            break
                    else:
                        added += [name] if new else []
            here = len(names) - len(added) - len(problems)
            st.success(f"Added {count(len(added), 'run')}; {count(here, 'run')} {'was' if here == 1 else 'were'} "
                       "here already.")
            for problem in problems:
                st.error(md(server_text(problem)))
with zip_tab:
    upload = st.file_uploader('A run zip (the "Whole run" download above)', type="zip", key="cmp_upload",
                              max_upload_size=settings.upload_max_mb())
    if st.button("Load uploaded run", key="cmp_load_zip", disabled=upload is None):
        try:
            with st.spinner("Checking and loading..."):
                result = state.keep_zip_run(upload)  # checked in a scratch folder, then moved into the workspace
        except (RunZipError, WorkspaceError) as err:
            st.error(f"That zip could not be loaded: {md(server_text(err))}")
        else:
            _loaded(*result)
