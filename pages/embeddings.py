"""Embeddings page: the learned movie vectors, their principal components, and nearest neighbours."""

import pandas as pd
import streamlit as st

from cfcore import constants as C
from cfcore import share
from cfcore.analysis.movies import heatmap_frame, most_rated
from cfcore.analysis.pca import pc1_average_alignment
from cfcore.figures.embeddings import embedding_heatmap, variance_figure
from cfcore.text import count
from ui import bias_section, cached, embeddings_sections, movie_map
from ui.page import chart, intro, require_run

st.title("Embeddings")
intro(
    "Each movie is a row of numbers the model learned from ratings alone: nobody told it about genres. "
    "Below: the raw vectors, their main directions (PCA), the movies at both ends of those directions, "
    "and each movie's nearest neighbours."
)
run = require_run()
if run is None:
    st.stop()

dataset = run.dataset
movie_map.apply_link_view(cached.genres(run))
if dataset.n_movies < 2:
    st.info("This run's data has fewer than two movies: there is nothing to compare.")
    st.stop()

st.subheader("The raw vectors")
rows = st.slider("Movies shown", 1, min(100, dataset.n_movies), min(20, dataset.n_movies), key="emb_heatmap_rows")
chart(st, embedding_heatmap(heatmap_frame(run, rows), f"First {count(rows, 'movie')} (by movieId)"))
st.caption("Red and blue are opposite signs; white is 0. No single dimension means anything on its own.")

st.subheader("Main directions: PCA")
centered = st.toggle("Center the vectors before PCA", key="emb_centered", persist_state="session")
pca_result, movie_frame = cached.movie_pca(run, centered)
chart(st, variance_figure(pca_result.explained, centered))
alignment = pc1_average_alignment(run.embeddings.movie, pca_result)
embeddings_sections.pca_caption(centered, float(pca_result.explained[0]), alignment)

left, right = st.columns(2)
st.session_state.setdefault("emb_min_ratings", 20)
min_ratings = left.number_input("Only movies with more than this many ratings", 0, 1000, key="emb_min_ratings",
                                persist_state="session")
top = right.slider("Movies per table", 3, 30, 10, key="emb_top")
most = int(dataset.movies["num_ratings"].max())
if min_ratings >= most:
    st.warning(f"No movie has more than {count(int(min_ratings), 'rating')}: the most-rated one has {most:,}. The "
               "tables, the map and the movie finder below stay empty until you lower this filter.")
elif pca_result.components.shape[1] >= 2:
    embeddings_sections.rankings(run, int(min_ratings), top, centered)
else:
    st.info("PC rankings need embeddings with at least two dimensions.")

st.subheader("The movie map")
if "emb_movie" not in st.session_state:
    shared = share.read_id(st.query_params, share.MOVIE_KEY) or st.session_state.get(share.SESSION_MOVIE_KEY)
    st.session_state["emb_movie"] = shared if shared is not None and dataset.movie_title(shared) else None
if "PC2" not in movie_frame:
    st.info("The movie map needs embeddings with at least two dimensions.")
    st.stop()
movie_id = st.session_state["emb_movie"]
passing = movie_frame["num_ratings"].to_numpy() > min_ratings  # a mask: a filtered copy of 200,000 rows is 111 MB
n_passing = int(passing.sum())
# An upload's 200,000 movies made a 20 MB chart message per render: the map, t-SNE and the finder take the
# most-rated ones past the cap, and say so.
shown = most_rated(movie_frame, C.MAP_MAX_MOVIES, where=passing)
listed = shown  # the finder's movies: a chosen one below the filter too, so it never vanishes
if movie_id is not None and movie_id not in set(shown["movieId"]):
    listed = pd.concat([shown, movie_frame[movie_frame["movieId"] == movie_id]])
movie_map.show(run, shown, listed, pca_result.explained, cached.genres(run), movie_id, n_passing)

st.subheader("Nearest neighbours")
embeddings_sections.finder(dataset, listed, len(shown), n_passing, int(min_ratings))
embeddings_sections.neighbours(run, movie_frame, int(min_ratings))

if run.embeddings.has_bias and min_ratings < most:
    st.subheader("What the biases learned")
    bias_section.show(run, int(min_ratings), top)

embeddings_sections.downloads(run)
