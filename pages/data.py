"""Data page: choose the ratings, look at their shape, choose the train/validation split. No TensorFlow here."""

import streamlit as st

from cfcore import settings
from cfcore.data.dataset import dataset_from_files
from cfcore.data.errors import DataError
from cfcore.data.split import split_dataset
from cfcore.figures.data import rating_histogram, ratings_per_movie, ratings_per_user
from cfcore.figures.tables import joined_sample
from cfcore.text import md, server_text
from ui.page import chart, dataset_label, intro, metric_row
from ui.services import configured_data_path, load_path_dataset
from ui.state import current_dataset, init_session, set_dataset, set_split_settings, split_settings


@st.cache_resource(max_entries=8, show_spinner=False)
def _overview(fingerprint: str, _dataset) -> tuple:
    """The three histograms and the joined sample, built once per dataset for the whole server.

    About 50 ms of Python on every visit otherwise, for every learner. Shared objects: nothing changes a
    figure or the sample after it is built, and only a session with the very same data (fingerprint) gets them.
    """
    return (rating_histogram(_dataset), ratings_per_user(_dataset),
            ratings_per_movie(_dataset), joined_sample(_dataset, n=8))


init_session()
st.title("Data")
intro(
    "Collaborative filtering learns only from *who rated what*: a table of (user, movie, stars). "
    "Here you choose those ratings and look at their shape before any model sees them. The article uses "
    "MovieLens *ml-latest-small*: about 100,000 ratings by some 600 users of some 9,000 movies, so fewer than 2 in 100 "
    "of the possible user-movie pairs have a rating, and the model has to fill in the rest."
)

configured = configured_data_path()
LABELS = {
    "configured": f"Configured folder (CFCORE_DATA: `{configured}`)" if settings.show_paths()
    else "Configured folder (CFCORE_DATA)",
    "builtin": "MovieLens ml-latest-small (built in)",
    "upload": "Upload ratings.csv and movies.csv",
}
options = (["configured"] if configured else []) + ["builtin", "upload"]
if st.session_state.get("data_source") not in options:
    st.session_state["data_source"] = options[0]
source = st.radio("Source", options, key="data_source", format_func=LABELS.get, horizontal=True,
                  persist_state="session")


def _remember_failure(key: tuple, message: str) -> None:
    st.session_state["data_failed"] = (key, server_text(message))


def _show_failure(key: tuple) -> bool:
    """Show a stored load error for ``key`` (so a failing source is not retried on every click)."""
    failed = st.session_state.get("data_failed")
    if not failed or failed[0] != key:
        return False
    st.error(md(server_text(failed[1])))
    if key[0] == "path":
        st.info("Other ways in: choose **Upload** above and give your own ratings.csv and movies.csv (the "
                "MovieLens ones work), or, if you run this server, start it with `CFCORE_DATA` set to a MovieLens "
                "folder or .zip. Then press *Try again*.")
        if st.button("Try again", key="data_retry"):
            st.session_state.pop("data_failed", None)
            st.rerun()
    return True


def _use_path(path: str) -> None:
    key = ("path", path or configured)
    if st.session_state.get("data_loaded_key") == key and current_dataset() is not None:
        return
    if _show_failure(key):
        return
    message = "Loading the ratings..." if configured else (
        "Loading MovieLens ml-latest-small (downloading about 1 MB from grouplens.org the first time)...")
    with st.spinner(message):
        try:
            dataset = load_path_dataset(path)
        except DataError as err:
            _remember_failure(key, f"Could not load the data: {err}")
            _show_failure(key)
            return
    set_dataset(dataset, path=path)
    st.session_state["data_loaded_key"] = key


def _use_upload() -> None:
    left, right = st.columns(2)
    limit = settings.upload_max_mb()  # CFCORE_UPLOAD_MAX_MB: the uploader itself refuses a bigger file
    ratings_file = left.file_uploader("ratings.csv (userId, movieId, rating)", type=["csv"], key="data_upload_ratings",
                                      max_upload_size=limit)
    movies_file = right.file_uploader("movies.csv (movieId, title, genres)", type=["csv"], key="data_upload_movies",
                                      max_upload_size=limit)
    st.caption("An upload is kept in your workspace only (the private link in the address bar); no other visitor "
               "can see it.")
    if ratings_file is None or movies_file is None:
        st.info("Upload both files to use them. Until then the previous dataset stays active.")
        return
    key = ("upload", ratings_file.file_id, movies_file.file_id)
    if st.session_state.get("data_loaded_key") == key or _show_failure(key):
        return
    try:
        dataset = dataset_from_files(
            ratings_file.getvalue(), movies_file.getvalue(), source=f"upload: {ratings_file.name} + {movies_file.name}"
        )
    except DataError as err:
        _remember_failure(key, f"That upload cannot be used: {err}")
        _show_failure(key)
        return
    set_dataset(dataset)
    st.session_state["data_loaded_key"] = key


if source == "upload":
    _use_upload()
else:
    if source == "builtin" and configured:
        st.caption("CFCORE_DATA is set, so the built-in choice uses that copy instead of downloading.")
    _use_path("")

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
ratings_chart, users_chart, movies_chart, sample = _overview(dataset.fingerprint, dataset)
cols = st.columns(3)
chart(cols[0], ratings_chart, key="data_hist_ratings")
chart(cols[1], users_chart, key="data_hist_users")
chart(cols[2], movies_chart, key="data_hist_movies")
st.caption("Most movies have only a handful of ratings: their embeddings will be learned from very little.")

st.subheader("A sample of the joined table")
st.dataframe(sample, hide_index=True)

st.subheader("Train / validation split")
st.markdown("The model learns from the training ratings; its error (RMSE, in stars) is measured on validation "
            "ratings it never saw. The Train page uses the split chosen here.")
settings = split_settings()
st.session_state.setdefault("data_val_fraction", settings["val_fraction"])
st.session_state.setdefault("data_split_seed", settings["seed"])
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
