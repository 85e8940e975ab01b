"""Beyond the article: the questions it leaves to the reader, answered with the learner's own data and runs."""

import pandas as pd
import streamlit as st

from cfcore.analysis import baselines
from cfcore.config import FACTOR_DESCRIPTIONS, FACTOR_LABELS, FACTOR_METHODS, ConfigError, check_work, factor_config
from cfcore.data.split import split_dataset
from cfcore.text import count, md, server_text
from cfcore.trainer.jobs import JobError
from cfcore.workspaces.disk import WorkspaceError
from ui import job_panel, onehot_panel, representations, services, state, tables
from ui.beyond_words import default_any_pair, onehot_verdict
from ui.page import intro, load_default_dataset_button

PURPOSE = "beyond"

st.title("Beyond the article")
intro("The article ends with questions it leaves to the reader: how much do embeddings improve on one-hot "
      "vectors, how do embeddings change with the task they were trained on, and how do an autoencoder's factors "
      "differ from them? Each section answers one on your data and your runs.")
dataset = state.current_dataset()
if dataset is None:
    load_default_dataset_button("bey_load_data")
    st.stop()
runs, active = state.runs(), state.active_run()
active_name = active.name if active is not None else None
if active is not None and active.dataset.fingerprint == dataset.fingerprint:
    split, split_name = active.split, f"the split of the active model, **{md(active.name)}**"
else:
    choice = state.split_settings()
    split, split_name = split_dataset(dataset, choice["val_fraction"], choice["seed"]), "the Data page's split"
on_split = {name: run for name, run in runs.items() if baselines.on_split(run, dataset, split)}

st.header("1. How much do embeddings improve on one-hot vectors?")
st.markdown("Give a linear model one-hot vectors (a 1 in the user's column, a 1 in the movie's) and it learns one "
            "number per column: how generous each user is, how well liked each movie is. That is exactly the user + "
            "movie biases baseline. Whatever a model does better is the embeddings' doing: who likes what.")
linear = services.onehot_linear(dataset, split)
rows = {f"linear model on one-hot vectors ({linear.columns:,} columns, least squares)": linear.val_rmse,
        "user + movie biases baseline": linear.bias_val_rmse}
rows.update({name: run.result.best_val_rmse for name, run in on_split.items() if run.embeddings.predicts_ratings})
tables.show(st, pd.DataFrame({"model": list(rows), "val RMSE": list(rows.values())}),
            {"val RMSE": st.column_config.NumberColumn(format="%.4f"), "model": st.column_config.TextColumn(width=420)})
st.caption(f"On {split_name} ({count(split.n_val, 'held-out rating')}); the two linear fits agree to "
           f"{linear.max_difference:.0e} on every prediction. Runs on another split are not listed.")
st.markdown(onehot_verdict(linear.val_rmse, on_split))
st.subheader("A Dense layer on one-hot vectors is a lookup, at a price")
st.markdown("A one-hot row times a weight matrix is one row of that matrix: a Dense layer on one-hot inputs "
            "computes exactly what an embedding layer looks up. The price is the one-hot vectors themselves, and a "
            "gradient for every row of the table at every step.")
onehot_panel.panel(dataset, split, "bey_cost")

st.header("Other ways to get movie factors")
st.markdown("The article opens with the SVD of a rating matrix. Here are three more ways to give every movie a "
            "vector, each saved as a run you can open on the Embeddings page, compare below or download.")
method = st.radio("Method", FACTOR_METHODS, format_func=FACTOR_LABELS.get, horizontal=True, key="bey_method",
                  persist_state="session")
st.caption(FACTOR_DESCRIPTIONS[method])
left, right = st.columns(2)
# Defaults set here, not as the widgets' values: a workspace may have restored them (no Session State warning).
st.session_state.setdefault("bey_dim", 64)
st.session_state.setdefault("bey_seed", 42)
dim = left.number_input("Factors per movie", 2, 256, key="bey_dim", persist_state="session")
seed = right.number_input("Seed", 0, 2**31 - 1, key="bey_seed", persist_state="session")
job_panel.collect_finished(PURPOSE)
running = job_panel.current_job(PURPOSE)
if running is not None:
    job_panel.watch([running.id], lambda jobs: job_panel.progress_bar(jobs[0], jobs[0].name))
    job_panel.stop_button(running, f"bey_stop_{running.id}")
elif st.button(f"Compute {FACTOR_LABELS[method]}", key="bey_compute", type="primary"):
    job_panel.clear_notices(PURPOSE)
    try:
        config = check_work(factor_config(method, int(dim), int(seed), val_fraction=split.val_fraction),
                            dataset.n_users, dataset.n_movies)
        job_panel.submit(dataset, config, split, PURPOSE)
    except (JobError, ConfigError, WorkspaceError) as err:
        st.error(md(server_text(err)))
    else:
        st.rerun()
if failure := job_panel.describe_failure(PURPOSE):
    st.error(failure)
if done := st.session_state.get(f"{PURPOSE}_last_run"):
    st.success(f"**{md(done)}** is saved in this workspace; pick it in the sidebar to explore it on the Embeddings "
               "page.")

st.header("2. Do embeddings change with the task they were trained on?")
st.markdown("The implicit run never sees a rating: it learns only which movies each user chose to rate. Compare "
            "its movie factors with a model trained on the ratings themselves. What survives is what both tasks "
            "need: which movies the same people watch.")
representations.question(runs, "implicit", "bey_task", active_name)

st.header("3. How do an autoencoder's factors differ from embeddings?")
st.markdown("AutoRec squeezes each movie's column of ratings through a small hidden layer and back; its hidden "
            "code is the movie's factors. A sigmoid code is never negative, so its first uncentred direction is "
            "mostly the average code (see the Embeddings page): the maps here are centred.")
representations.question(runs, "autorec", "bey_codes", active_name)

st.header("Compare any two runs")
names = list(runs)
if len(names) < 2:
    st.info("Two runs are needed: train one or compute one above.")
else:
    first, second, third = st.columns([2, 2, 1])
    def label(name: str) -> str:
        return state.run_label(runs[name], runs)

    pair = default_any_pair(runs, active_name)
    name_a = first.selectbox("Run", names, index=names.index(pair[0]), key="bey_any_a", format_func=label)
    name_b = second.selectbox("Against", names, index=names.index(pair[1]), key="bey_any_b", format_func=label)
    st.session_state.setdefault("bey_min_ratings", 20)
    min_ratings = third.number_input("More ratings than", 0, 10_000, key="bey_min_ratings", persist_state="session",
                                     help="Only movies with more ratings than this in both runs' data (0: all).")
    representations.compare(runs[name_a], runs[name_b], "bey_any", int(min_ratings))
