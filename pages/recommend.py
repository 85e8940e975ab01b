"""Recommend page: one user's predictions and recommendations, fold-in for you, and one prediction explained."""

import streamlit as st

from cfcore import share
from ui import recommend_tabs
from ui.page import intro, remembered_tabs, require_run

st.title("Recommend")
intro(
    "A prediction is a user's vector meeting a movie's vector. Pick a user to see how well the model knows them, "
    "rate a few movies yourself to get a vector of your own without retraining, or take one prediction apart."
)
run = require_run(predicts_ratings=True)
if run is None:
    st.stop()

dataset = run.dataset
counts = dataset.ratings.groupby("userId").size()
titles = dict(zip(dataset.movies["movieId"].astype(int), dataset.movies["title"].astype(str), strict=True))
movies_by_popularity = dataset.movies.sort_values("num_ratings", ascending=False)["movieId"].astype(int).tolist()
if "rec_user" not in st.session_state:
    shared = share.read_id(st.query_params, share.USER_KEY) or st.session_state.get(share.SESSION_USER_KEY)
    st.session_state["rec_user"] = shared if shared in counts.index else int(counts.index[0])

# Kept for the whole session (persist_state), so leaving the page and coming back keeps the learner's choices.
st.session_state.setdefault("rec_min_ratings", 20)
st.session_state.setdefault("rec_top", 10)
left, right, _ = st.columns([1, 1, 1])
min_ratings = left.number_input("More ratings than", 0, 1000, key="rec_min_ratings", persist_state="session",
                                help="Recommend only movies with more ratings than this: a movie rated by a handful "
                                     "of people has a vector learned from very little.")
top = right.slider("How many", 3, 50, key="rec_top", persist_state="session")


def user_picker() -> int:
    """The user this tab is about (the two tabs about a user share it)."""
    user_id = st.selectbox("User", counts.index.astype(int).tolist(), key="rec_user", persist_state="session",
                           format_func=lambda u: f"user {u} ({counts[u]} ratings)")
    st.query_params[share.USER_KEY] = str(user_id)
    return user_id


# Only the open tab runs (and reaches the browser): the other two each list every movie, about a quarter
# of a second of browser time apiece on a page switch. A session opened by a link that names a movie starts
# on its explanation (decided once per session: a changing default would reset the tabs).
TABS = ["This user", "Rate movies yourself", "Explain a prediction"]
user_tab, you_tab, explain_tab = remembered_tabs(
    TABS, "rec_tab", default=TABS[2] if st.session_state.get(share.SESSION_MOVIE_KEY) else TABS[0])

if user_tab.open:
    with user_tab:
        recommend_tabs.this_user(run, user_picker(), top, int(min_ratings))
if you_tab.open:
    with you_tab:
        recommend_tabs.rate_yourself(run, top, int(min_ratings), titles, movies_by_popularity)
if explain_tab.open:
    with explain_tab:
        recommend_tabs.explain(run, user_picker(), int(min_ratings), titles, movies_by_popularity)
