"""Data page: choose the ratings, look at their shape, choose the train/validation split. No TensorFlow here."""

import streamlit as st

from cfcore.data.errors import DataError
from cfcore.data.split import split_dataset
from cfcore.text import md, server_text
from ui import cached, data_source, tables
from ui.page import chart, dataset_label, intro, metric_row
from ui.state import current_dataset, init_session, set_split_settings, split_settings

init_session()
st.title("Data")
intro(
    "Collaborative filtering learns only from *who rated what*: a table of (user, movie, stars). "
    "Here you choose those ratings and look at their shape before any model sees them. The article uses "
    "MovieLens *ml-latest-small*: about 100,000 ratings by some 600 users of some 9,000 movies, so fewer than 2 in 100 "
    "of the possible user-movie pairs have a rating, and the model has to fill in the rest."
)

data_source.choose()

dataset = current_dataset()
if dataset is None:
    st.stop()

st.subheader(f"Summary: {md(dataset_label(dataset))}")
row = metric_row()
row.metric("Users", f"{dataset.n_users:,}", width="content")
row.metric("Movies", f"{dataset.n_movies:,}", help="Movies with at least one rating.", width="content")
row.metric("Ratings", f"{dataset.n_ratings:,}", width="content")
row.metric("Sparsity", f"{dataset.sparsity:.2%}", help="Share of the user x movie grid with no rating.",
           width="content")
ratings_chart, users_chart, movies_chart, sample = cached.data_overview(dataset.fingerprint, dataset)
# Two to a row: three in a row left each chart 180 px on a 1024 px projector, their axis labels on each other.
first, second = st.columns(2)
chart(first, ratings_chart, key="data_hist_ratings")
chart(second, users_chart, key="data_hist_users")
third, words = st.columns(2, vertical_alignment="center")
chart(third, movies_chart, key="data_hist_movies")
words.caption("Most movies have only a handful of ratings: their embeddings will be learned from very little. "
              "Most users have rated a few dozen movies and a few have rated thousands: that long tail is why the "
              "counts are on a log scale.")

st.subheader("A sample of the joined table")
tables.show(st, sample)

st.subheader("Train / validation split")
st.markdown("The model learns from the training ratings; its error (RMSE, in stars) is measured on validation "
            "ratings it never saw. The Train page uses the split chosen here.")
chosen = split_settings()
st.session_state.setdefault("data_val_fraction", chosen["val_fraction"])
st.session_state.setdefault("data_split_seed", chosen["seed"])
left, right = st.columns(2)
val_fraction = left.slider("Validation fraction", 0.05, 0.5, step=0.05, key="data_val_fraction",
                           persist_state="session")
seed = right.number_input("Split seed", 0, 2**31 - 1, step=1, key="data_split_seed", persist_state="session")
set_split_settings(val_fraction, seed)
try:
    split = split_dataset(dataset, float(val_fraction), int(seed))
except DataError as err:
    st.error(md(server_text(err)))
    st.stop()
cold = split.cold_start_counts()
row = metric_row()
row.metric("Training ratings", f"{split.n_train:,}", width="content")
row.metric("Validation ratings", f"{split.n_val:,}", width="content")
row.metric("Val. ratings, new movie", f"{cold['unseen_movie']:,}", width="content",
               help="Validation ratings whose movie never appears in training: its embedding never moves from "
               "its random start, so these predictions are guesses.")
row.metric("Val. ratings, new user", f"{cold['unseen_user']:,}", width="content",
               help="Validation ratings whose user never appears in training.")
