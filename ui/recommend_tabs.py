"""The Recommend page's three tabs: one user's ratings and recommendations, fold-in for the learner, and one
prediction taken apart."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from cfcore import share
from cfcore.analysis.baselines import diverged
from cfcore.analysis.explain import explain_prediction
from cfcore.analysis.fold_in import fold_in, recommend_for_vector
from cfcore.analysis.predict import off_scale, recommend, user_ratings, user_rmse
from cfcore.config import kind_name
from cfcore.figures.embeddings import pc_scatter
from cfcore.figures.predictions import dot_product_bars, explanation_waterfall, predicted_vs_actual
from cfcore.figures.tables import for_display
from cfcore.runs.run import Run
from cfcore.text import count, md
from ui import cached, tables
from ui.page import chart, metric_row

FORMAT = {
    "predicted": st.column_config.NumberColumn(format="%.2f"),
    "error": st.column_config.NumberColumn(format="%+.2f"),
    "rating": st.column_config.NumberColumn("mean rating", format="%.2f"),
    "num_ratings": st.column_config.NumberColumn("ratings"),
}
THEIR_FORMAT = {**FORMAT, "rating": st.column_config.NumberColumn("their rating", format="%.1f")}


def _flag_off_scale(run: Run, predicted) -> None:
    """Say so when predictions leave the rating scale (the shaded band on the chart)."""
    low, high = run.dataset.min_rating, run.dataset.max_rating
    outside, lowest, highest = off_scale(predicted, low, high)
    if not outside:
        return
    emb = run.embeddings
    why = ("this run diverged: lower the learning rate and train again" if diverged(run) else
           "a plain dot product has nothing that keeps it on the scale; the bias model's sigmoid does"
           if not emb.has_bias else "the SVD adds biases and a dot product with no sigmoid to keep them on the "
           "scale" if emb.link == "identity" else "the predictions are not clipped to the scale")
    verb = "falls" if outside == 1 else "fall"
    st.warning(f"{count(outside, 'prediction')} on this page {verb} outside the {low:g} to {high:g} star scale "
               f"(from {lowest:.2f} to {highest:.2f}): {why}.")


def this_user(run: Run, user_id: int, top: int, min_ratings: int) -> None:
    """How well the model knows ``user_id``: their ratings beside its predictions, and their top ``top``."""
    low, high = run.dataset.min_rating, run.dataset.max_rating
    rated = user_ratings(run, user_id)
    validation = rated[rated["split"] == "validation"]
    row = metric_row()
    row.metric("Ratings", len(rated), width="content")
    row.metric("RMSE, all their ratings", f"{user_rmse(rated):.3f}", width="content")
    val_rmse = user_rmse(validation)
    row.metric(f"RMSE, {count(len(validation), 'held-out rating')}",
               f"{val_rmse:.3f}" if math.isfinite(val_rmse) else "none held out", width="content",
               help="This user's ratings in the validation split, which the model never trained on.")
    # The table across the page (its numbers need the room on a projector), the chart under it.
    tables.show(st, for_display(rated.drop(columns=["movieId", "genres"])), THEIR_FORMAT)
    chart(st.columns([3, 2])[0], predicted_vs_actual(rated, low, high))
    st.markdown(f"**Top {top} for user {user_id}** among movies they have not rated")
    recs = recommend(run, user_id, top=top, min_ratings=min_ratings)
    tables.show(st, for_display(recs.drop(columns=["movieId"])), FORMAT)
    _flag_off_scale(run, pd.concat([rated["predicted"], recs["predicted"]]))


def rate_yourself(run: Run, top: int, min_ratings: int, titles: dict[int, str],
                  movies_by_popularity: list[int]) -> None:
    """Fold-in: the learner rates a few movies and gets a vector of their own, its recommendations and its place
    on the movie map."""
    dataset = run.dataset
    low, high = dataset.min_rating, dataset.max_rating
    st.markdown(
        "Rate 5 to 20 movies. The movie vectors stay frozen; a small least-squares fit finds the user vector "
        "(and bias) that best reproduces your ratings. That is *fold-in*: no retraining."
    )
    # One Enter or one click adds one movie: no "Select N matches" entry (typing "Alien" and pressing Enter
    # added twenty), and titles match as typed, not by fuzzy subsequence.
    picked = st.multiselect("Movies you have seen", movies_by_popularity, format_func=titles.get,
                            max_selections=20, key="rec_you_movies", placeholder="Type part of a title",
                            select_all=False, filter_mode="contains", persist_state="session")
    yours = {}
    for column, movie_id in zip(st.columns(4) * 5, picked, strict=False):
        yours[movie_id] = column.slider(md(titles[movie_id]), low, high, round((low + high) / 2 * 2) / 2, 0.5,
                                        key=f"rec_you_rating_{movie_id}", persist_state="session")
    if len(yours) < 5:
        st.info(f"Rate {count(5 - len(yours), 'more movie', 'more movies')} to get recommendations.")
    else:
        fold = fold_in(run, yours)
        left, right = st.columns(2)
        left.markdown(f"**Your top {top}**")
        mine = recommend_for_vector(run, fold, top=top, min_ratings=min_ratings, exclude=yours)
        tables.show(left, for_display(mine[["title", "predicted", "genres"]]), FORMAT)
        every = recommend_for_vector(run, fold, top=dataset.n_movies)
        fit = every[every["movieId"].isin(list(yours))].assign(yours=lambda f: f["movieId"].map(yours))
        left.markdown("**How your vector reproduces your ratings**")
        tables.show(left, for_display(fit[["title", "yours", "predicted"]]),
                    {**FORMAT, "yours": st.column_config.NumberColumn("you said", format="%.1f")})
        pca_result, frame = cached.movie_pca(run, False)
        if "PC2" in frame:
            position = tuple(float(v) for v in pca_result.project(fold.vector)[0, :2])  # = project_vector()
            chart(right, pc_scatter(frame[frame["num_ratings"] > min_ratings], you=position))
            right.caption(f"You at PC1 = {position[0]:.3f}, PC2 = {position[1]:.3f} on the movie map.")


def explain(run: Run, user_id: int, min_ratings: int, titles: dict[int, str], movies_by_popularity: list[int]) -> None:
    """One prediction taken apart: the waterfall to the logit and the sigmoid, or a dot product's terms."""
    dataset = run.dataset
    if "rec_movie" not in st.session_state:
        shared = share.read_id(st.query_params, share.MOVIE_KEY) or st.session_state.get(share.SESSION_MOVIE_KEY)
        first = recommend(run, user_id, top=1, min_ratings=min_ratings)  # the page's filter
        fallback = int(first["movieId"].iloc[0]) if len(first) else movies_by_popularity[0]
        st.session_state["rec_movie"] = shared if shared in titles else fallback
    movie_id = st.selectbox("Movie", movies_by_popularity, format_func=titles.get, key="rec_movie",
                            filter_mode="contains", persist_state="session")
    st.query_params[share.MOVIE_KEY] = str(movie_id)
    if run.embeddings.has_bias:
        why = explain_prediction(run, user_id, movie_id)
        seen = f"they rated it {why.actual:g}" if why.actual is not None else "they have not rated it"
        terms = (f"{'offset + ' if why.global_offset else ''}user bias + movie bias + "
                 f"{'what they rated + ' if why.implicit else ''}the {len(why.contributions)} terms u_k·v_k")
        ending = (f"= logit **{why.logit:.3f}**; sigmoid = {why.sigmoid:.3f}; rating = {why.min_rating:g} + "
                  f"{why.max_rating - why.min_rating:g} × {why.sigmoid:.3f} = **{why.prediction:.2f}**."
                  if why.link == "sigmoid" else f"= **{why.prediction:.2f}** (no sigmoid).")
        st.markdown(f"User {user_id} and **{md(titles[movie_id])}** ({seen}): {terms} {ending}")
        chart(st, explanation_waterfall(why))
        _flag_off_scale(run, np.array([why.prediction]))
    else:
        st.info(f"The {kind_name(run.config.model)} model has no biases and no sigmoid: its prediction is the "
                "plain dot product of the user's and the movie's vectors, the sum of the bars below.")
        emb = run.embeddings
        user_vec, movie_vec = emb.user[dataset.user_to_index[user_id]], emb.movie[dataset.movie_to_index[movie_id]]
        chart(st, dot_product_bars(user_vec, movie_vec))
        _flag_off_scale(run, np.array([float(user_vec @ movie_vec)]))
