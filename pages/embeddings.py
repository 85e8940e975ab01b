"""Embeddings page: the learned movie vectors, their principal components, and nearest neighbours."""

import pandas as pd
import streamlit as st

from cfcore import constants as C
from cfcore import share
from cfcore.analysis.movies import heatmap_frame, most_rated
from cfcore.analysis.neighbours import nearest_movies
from cfcore.analysis.pca import pc1_average_alignment
from cfcore.figures.embeddings import embedding_heatmap, neighbours_figure, variance_figure
from cfcore.figures.tables import for_display
from cfcore.text import count, md
from ui import cached, movie_map
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
TABLE_FORMAT = {col: st.column_config.NumberColumn(format="%.3f") for col in ("PC1", "PC2", "similarity")}
TABLE_FORMAT["rating"] = st.column_config.NumberColumn("mean rating", format="%.2f")
TABLE_FORMAT["num_ratings"] = st.column_config.NumberColumn("ratings")

st.subheader("The raw vectors")
rows = st.slider("Movies shown", 1, min(100, dataset.n_movies), min(20, dataset.n_movies), key="emb_heatmap_rows")
chart(st, embedding_heatmap(heatmap_frame(run, rows), f"First {count(rows, 'movie')} (by movieId)"))
st.caption("Red and blue are opposite signs; white is 0. No single dimension means anything on its own.")

st.subheader("Main directions: PCA")
centered = st.toggle("Center the vectors before PCA", key="emb_centered")
pca_result, movie_frame = cached.movie_pca(run, centered)
chart(st, variance_figure(pca_result.explained, centered))
alignment = pc1_average_alignment(run.embeddings.movie, pca_result)
if centered:
    st.caption("Centered: the average movie vector is subtracted first, so every component describes how movies "
               "differ from each other.")
elif alignment > 0.9:
    st.caption(f"Uncentered, as in the article: here PC1 carries {pca_result.explained[0]:.0%} of the variance and "
               f"points along the average movie vector (cosine {alignment:.2f}), so it mostly measures how much of "
               "what all movies share each movie has. Center the vectors to see how they differ instead.")
else:
    st.caption(f"Uncentered, as in the article: here PC1 carries {pca_result.explained[0]:.0%} of the variance and "
               f"is not the average movie vector (cosine {alignment:.2f} with it): this model's movies share little "
               "common direction, so even uncentered the components describe how movies differ.")

left, right = st.columns(2)
st.session_state.setdefault("emb_min_ratings", 20)
min_ratings = left.number_input("Only movies with more than this many ratings", 0, 1000, key="emb_min_ratings")
top = right.slider("Movies per table", 3, 30, 10, key="emb_top")
most = int(dataset.movies["num_ratings"].max())
if min_ratings >= most:
    st.warning(f"No movie has more than {count(int(min_ratings), 'rating')}: the most-rated one has {most:,}. The "
               "tables, the map and the movie finder below stay empty until you lower this filter.")
elif pca_result.components.shape[1] >= 2:
    tables = cached.pc_rankings(run, int(min_ratings), top, centered)
    for tab, pc in zip(st.tabs(["PC1", "PC2"]), ("pc1", "pc2"), strict=True):
        for end in ("lowest", "highest"):
            tab.markdown(f"**{end.capitalize()} on {pc.upper()}**")
            tab.dataframe(for_display(tables[f"{pc}_{end}"]), column_config=TABLE_FORMAT)
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
# The movies on the map, most rated first: listing all ~10,000 titles costs the browser a quarter of a second
# on every visit, and the ratings filter above already says which movies the learner is looking at.
findable = listed.sort_values("num_ratings", ascending=False)["movieId"].astype(int).tolist()
st.selectbox("Find a movie", findable, index=None, format_func=dataset.movie_title, key="emb_movie",
             filter_mode="contains", placeholder="Type part of a title, or click a movie on the map",
             help=f"Lists the {count(len(findable), 'movie')} on the map (more than {min_ratings} ratings).")
if len(shown) < n_passing:
    st.caption(f"The finder lists only the {count(len(findable), 'movie')} on the map, the most-rated of the "
               f"{n_passing:,} with more than {min_ratings} ratings: a rarer movie's title finds nothing here.")
else:
    st.caption(f"The finder lists only the {count(len(findable), 'movie')} with more than {min_ratings} ratings: a "
               "rarer movie's title finds nothing here. Lower the filter above to reach it.")
movie_id = st.session_state["emb_movie"]
if movie_id is None:
    share.drop_param(st.query_params, share.MOVIE_KEY)
    st.info("Pick a movie to see the movies whose vectors point the same way.")
else:
    st.query_params[share.MOVIE_KEY] = str(movie_id)
    left, right = st.columns(2)
    metric = left.radio("Similarity", ["cosine", "dot"], horizontal=True, key="emb_metric",
                        help="Cosine compares directions only; the dot product also rewards long vectors.")
    k = right.slider("Neighbours", 3, 30, 10, key="emb_k")
    position = movie_frame.loc[movie_frame["movieId"] == movie_id, ["PC1", "PC2"]].iloc[0]
    st.markdown(f"**{md(dataset.movie_title(movie_id))}** sits at PC1 = {position['PC1']:.3f}, "
                f"PC2 = {position['PC2']:.3f}.")
    neighbours = nearest_movies(run, movie_id, k=k, metric=metric, min_ratings=int(min_ratings))
    left, right = st.columns([3, 2])
    similarity = "cosine similarity" if metric == "cosine" else "dot product"
    left.dataframe(for_display(neighbours[["title", "similarity", "rating", "num_ratings", "genres"]]),
                   column_config={**TABLE_FORMAT, "similarity": st.column_config.NumberColumn(similarity,
                                                                                              format="%.3f")},
                   hide_index=True)
    chart(right, neighbours_figure(neighbours, metric))
    left.download_button("These neighbours (CSV)", share.table_csv_bytes(neighbours), f"neighbours_{movie_id}.csv",
                         "text/csv", key="emb_download_neighbours", on_click="ignore")

with st.expander("Download the embeddings"):
    st.download_button("Movie embeddings (CSV)", lambda: share.embeddings_csv_bytes(run), "movie_embeddings.csv",
                       "text/csv", key="emb_download_csv", on_click="ignore")
    st.caption("For projector.tensorflow.org: load vectors.tsv, then metadata.tsv.")
    left, right = st.columns(2)
    left.download_button("vectors.tsv", lambda: share.projector_bytes(run)[0], "vectors.tsv",
                         "text/tab-separated-values", key="emb_download_vectors", on_click="ignore")
    right.download_button("metadata.tsv", lambda: share.projector_bytes(run)[1], "metadata.tsv",
                          "text/tab-separated-values", key="emb_download_metadata", on_click="ignore")
