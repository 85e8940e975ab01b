"""The Embeddings page's parts: what the PCA shows in words, the movies at either end of PC1 and PC2, a movie's
nearest neighbours, and the embeddings' downloads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cfcore import share
from cfcore.analysis.neighbours import nearest_movies
from cfcore.data.dataset import Dataset
from cfcore.figures.embeddings import neighbours_figure
from cfcore.figures.tables import for_display
from cfcore.runs.run import Run
from cfcore.text import count, md
from ui import cached, tables
from ui.page import chart

TABLE_FORMAT = {col: st.column_config.NumberColumn(format="%.3f") for col in ("PC1", "PC2", "similarity")}
TABLE_FORMAT["rating"] = st.column_config.NumberColumn("mean rating", format="%.2f")
TABLE_FORMAT["num_ratings"] = st.column_config.NumberColumn("ratings")


def pca_caption(centered: bool, first_share: float, alignment: float) -> None:
    """What the variance chart shows: centred or not, and whether uncentered PC1 is the average movie vector."""
    if centered:
        st.caption("Centered: the average movie vector is subtracted first, so every component describes how "
                   "movies differ from each other.")
    elif alignment > 0.9:
        st.caption(f"Uncentered, as in the article: here PC1 carries {first_share:.0%} of the variance and "
                   f"points along the average movie vector (cosine {alignment:.2f}), so it mostly measures how "
                   "much of what all movies share each movie has. Center the vectors to see how they differ instead.")
    else:
        st.caption(f"Uncentered, as in the article: here PC1 carries {first_share:.0%} of the variance and "
                   f"is not the average movie vector (cosine {alignment:.2f} with it): this model's movies share "
                   "little common direction, so even uncentered the components describe how movies differ.")


def rankings(run: Run, min_ratings: int, top: int, centered: bool) -> None:
    """The ``top`` movies at either end of PC1 and PC2 (more than ``min_ratings`` ratings), a tab per component."""
    ranked = cached.pc_rankings(run, min_ratings, top, centered)
    for tab, pc in zip(st.tabs(["PC1", "PC2"]), ("pc1", "pc2"), strict=True):
        for end in ("lowest", "highest"):
            tab.markdown(f"**{end.capitalize()} on {pc.upper()}**")
            tables.show(tab, for_display(ranked[f"{pc}_{end}"]), TABLE_FORMAT, hide_index=False)


def finder(dataset: Dataset, listed: pd.DataFrame, n_shown: int, n_passing: int, min_ratings: int) -> None:
    """The movie finder: the movies on the map (``listed``), most rated first, and what it cannot find."""
    # The movies on the map, most rated first: listing all ~10,000 titles costs the browser a quarter of a second
    # on every visit, and the ratings filter above already says which movies the learner is looking at.
    findable = listed.sort_values("num_ratings", ascending=False)["movieId"].astype(int).tolist()
    st.selectbox("Find a movie", findable, index=None, format_func=dataset.movie_title, key="emb_movie",
                 filter_mode="contains", placeholder="Type part of a title, or click a movie on the map",
                 help=f"Lists the {count(len(findable), 'movie')} on the map (more than {min_ratings} ratings).")
    if n_shown < n_passing:
        st.caption(f"The finder lists only the {count(len(findable), 'movie')} on the map, the most-rated of the "
                   f"{n_passing:,} with more than {min_ratings} ratings: a rarer movie's title finds nothing here.")
    else:
        st.caption(f"The finder lists only the {count(len(findable), 'movie')} with more than {min_ratings} ratings: a "
                   "rarer movie's title finds nothing here. Lower the filter above to reach it.")


def neighbours(run: Run, movie_frame: pd.DataFrame, min_ratings: int) -> None:
    """The chosen movie's nearest neighbours (by cosine or dot product), or how to choose one."""
    dataset = run.dataset
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
        neighbours = nearest_movies(run, movie_id, k=k, metric=metric, min_ratings=min_ratings)
        left, right = st.columns([3, 2])
        similarity = "cosine similarity" if metric == "cosine" else "dot product"
        tables.show(left, for_display(neighbours[["title", "similarity", "rating", "num_ratings", "genres"]]),
                    {**TABLE_FORMAT, "similarity": st.column_config.NumberColumn(similarity, format="%.3f")})
        chart(right, neighbours_figure(neighbours, metric))
        left.download_button("These neighbours (CSV)", share.table_csv_bytes(neighbours), f"neighbours_{movie_id}.csv",
                             "text/csv", key="emb_download_neighbours", on_click="ignore")


def downloads(run: Run) -> None:
    """The movie embeddings as CSV, and as the TensorFlow Embedding Projector's two files."""
    with st.expander("Download the embeddings"):
        st.download_button("Movie embeddings (CSV)", lambda: share.embeddings_csv_bytes(run), "movie_embeddings.csv",
                           "text/csv", key="emb_download_csv", on_click="ignore")
        st.caption("For projector.tensorflow.org: load vectors.tsv, then metadata.tsv.")
        left, right = st.columns(2)
        left.download_button("vectors.tsv", lambda: share.projector_bytes(run)[0], "vectors.tsv",
                             "text/tab-separated-values", key="emb_download_vectors", on_click="ignore")
        right.download_button("metadata.tsv", lambda: share.projector_bytes(run)[1], "metadata.tsv",
                              "text/tab-separated-values", key="emb_download_metadata", on_click="ignore")
