"""The Embeddings page's "What the biases learned": the movies with the lowest and highest bias, each movie's bias
against its mean rating, and the users' biases (runs whose model has biases)."""

from __future__ import annotations

import streamlit as st

from cfcore.analysis.biases import bias_rankings, far_from_the_line, movie_biases, user_biases
from cfcore.figures.biases import bias_vs_mean_figure, user_bias_figure
from cfcore.figures.tables import for_display
from cfcore.runs.run import Run
from ui import tables
from ui.page import chart

FORMAT = {"bias": st.column_config.NumberColumn(format="%.3f"),
          "mean_rating": st.column_config.NumberColumn("mean rating", format="%.2f"),
          "num_ratings": st.column_config.NumberColumn("ratings")}
FAR_FROM_THE_LINE = 6


def show(run: Run, min_ratings: int, top: int) -> None:
    """The section, over the movies with more than ``min_ratings`` ratings, ``top`` to a table."""
    scale = (" Here the sum goes through a sigmoid to become stars, so a bias is on that sum's scale, not in stars."
             if run.embeddings.link == "sigmoid" else "")
    st.markdown("Next to the dot product of tastes, the model learns one number per movie and one per user, added "
                "to every prediction: a movie's **bias** is how much people like it whatever their taste (the "
                "lowest are the movies people dislike even when they are their kind of movie), a user's bias how "
                f"generously they rate.{scale}")
    ranked = bias_rankings(run, min_ratings, top)
    for end in ("lowest", "highest"):
        st.markdown(f"**{end.capitalize()} bias** (movies with more than {min_ratings:,} ratings)")
        tables.show(st, for_display(ranked[end].drop(columns="movieId")), FORMAT, hide_index=False)
    movies = movie_biases(run, min_ratings)
    named = far_from_the_line(run, min_ratings, FAR_FROM_THE_LINE)
    chart(st, bias_vs_mean_figure(movies, named))
    st.caption("A movie's bias mostly follows its mean rating (the dashed line). The movies far from the line are the "
               "interesting ones: above it (blue), the people who rated it liked it more than their tastes and "
               "generosity predict, so its mean undersells it; below it (orange), the reverse: a mean lifted by an "
               "easy audience.")
    left, _ = st.columns([3, 2])
    chart(left, user_bias_figure(user_biases(run)))
