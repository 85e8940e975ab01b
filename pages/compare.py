"""Compare page: the session's runs side by side, the baseline ladder, downloads, and loading saved runs."""

import numpy as np
import pandas as pd
import streamlit as st

from cfcore import explore_charts as charts
from cfcore import share
from cfcore.baselines import baseline_ladder
from cfcore.constants import ARTICLE_VAL_RMSE
from cfcore.runzip import RunZipError, load_run_from_zip
from cfcore.text import md
from pages.common import active_run, add_run, current_dataset, intro, runs, set_dataset

st.title("Compare")
intro(
    "Every run of this session side by side, and against two baselines that use no embeddings at all: "
    "predicting the average rating, and the average plus a user bias and a movie bias. Save a run here, "
    "or load one (a class demo then needs no training and no network)."
)
all_runs, active = runs(), active_run()


def _keep(run) -> None:
    name = add_run(run)
    if current_dataset() is None:
        set_dataset(run.dataset)
    st.session_state["cmp_loaded"] = name
    st.rerun()


if active is None:
    st.info("No trained runs yet. Train one on the Train page, or load a saved run below.")
else:
    st.dataframe(charts.runs_table(all_runs), hide_index=True, column_config={
        "best val RMSE": st.column_config.NumberColumn(format="%.4f"),
        "seconds": st.column_config.NumberColumn(format="%.1f"),
    })
    metric = st.radio("Curve", ["val_rmse", "train_rmse", "val_loss", "loss"], horizontal=True, key="cmp_metric")
    reference = ARTICLE_VAL_RMSE["dot_with_bias"] if metric == "val_rmse" else None
    st.plotly_chart(charts.compare_curves({name: run.result.history for name, run in all_runs.items()}, metric,
                                          reference, "the article's dot_with_bias"))

    st.subheader("The baseline ladder")
    # Baselines are fitted on the active run's split; only runs on that same split can stand next to them.
    same_split = [
        run for run in all_runs.values() if run is not active
        and run.dataset.fingerprint == active.dataset.fingerprint
        and np.array_equal(run.split.val_rows, active.split.val_rows)
    ]
    ladder = pd.concat([baseline_ladder(active)] + [baseline_ladder(run).iloc[[-1]] for run in same_split],
                       ignore_index=True)
    st.plotly_chart(charts.baseline_ladder_figure(ladder))
    skipped = len(all_runs) - 1 - len(same_split)
    st.caption(f"Validation RMSE on the split of **{md(active.name)}**; lower is better."
               + (f" {skipped} run(s) on other data or another split are left out." if skipped else ""))

    st.subheader(f"Download {md(active.name)}")
    a, b, c = st.columns(3)
    a.download_button("Model (.keras)", lambda: share.model_bytes(active), "model.keras", "application/zip",
                      key="cmp_download_model")
    b.download_button("History (CSV)", lambda: share.history_csv_bytes(active), "history.csv", "text/csv",
                      key="cmp_download_history")
    c.download_button("Whole run (zip, loads below)", lambda: share.run_zip_bytes(active), "run.zip",
                      "application/zip", key="cmp_download_run")

st.subheader("Load a saved run")
if "cmp_loaded" in st.session_state:
    st.success(f"Loaded **{md(st.session_state.pop('cmp_loaded'))}**; it is now the active model.")
folder_tab, zip_tab = st.tabs(["From the runs folder", "From a zip"])
with folder_tab:
    root = share.runs_root()
    if root is None:
        st.caption(f"Set the environment variable {share.RUNS_DIR_ENV_VAR} to a folder of saved runs "
                   "(`python -m cfcore train ... --out FOLDER/name`) to list them here.")
    else:
        names = share.list_run_dirs(root)
        choice = st.selectbox(f"Runs in {root}", names, index=None, key="cmp_run_dir",
                              placeholder="Choose a run" if names else "No saved runs there yet")
        typed = st.text_input("Or a path inside that folder", key="cmp_run_path")
        if st.button("Load run", key="cmp_load_dir", disabled=not (choice or typed.strip())):
            from cfcore.runs import RunError, load_run

            try:
                with st.spinner("Loading..."):
                    loaded = load_run(share.resolve_run_dir(root, typed.strip() or choice))
            except (share.RunsFolderError, RunError) as err:
                st.error(md(err))
            else:
                _keep(loaded)
with zip_tab:
    upload = st.file_uploader('A run zip (the "Whole run" download above)', type="zip",
                              key="cmp_upload")
    if st.button("Load uploaded run", key="cmp_load_zip", disabled=upload is None):
        try:
            with st.spinner("Checking and loading..."):
                loaded = load_run_from_zip(upload)  # extracted only while loading, then removed
        except RunZipError as err:
            st.error(f"That zip could not be loaded: {md(err)}")
        else:
            _keep(loaded)
