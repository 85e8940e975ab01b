"""The Embeddings page's movie map: PCA or t-SNE, every movie above the ratings filter (the most-rated ones past
``MAP_MAX_MOVIES`` in cfcore.constants), coloured by what the learner picks, with its view in the link and the
workspace, and its coordinates as a download.

t-SNE is computed in the background (:class:`cfcore.analysis.projection.ProjectionJobs`, shared by the server's
sessions); while it runs the page shows its progress and every other page works as usual.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from cfcore import share
from cfcore.analysis.projection import DEFAULT_PERPLEXITY, PERPLEXITY_RANGE, ProjectionError
from cfcore.figures.embeddings import MAP_COLOURS, pc_scatter, selected_movie_id
from cfcore.runs.run import Run
from cfcore.text import count, md, server_text
from ui import services, state
from ui.page import chart

PROJECTION_LABELS = {"pca": "PCA (PC1 x PC2)", "tsne": "t-SNE"}
TSNE_NOTE = (
    "t-SNE keeps each movie's nearest neighbours near it on the map, and little else: the distances between "
    "groups, their sizes and the two axes carry no meaning, and another seed or perplexity can move whole groups. "
    "Read neighbourhoods off this map, and distances and directions off the PCA map, whose axes are the "
    "embeddings' own main directions."
)
POLL_SECONDS = 1.0


def apply_link_view(genres: list[str]) -> None:
    """Put a link's map view into the widgets, once per session (before they are drawn); say what was changed."""
    view, notes = st.session_state.pop("share_view", None) or ({}, [])
    colour = view.get("emb_colour")
    if colour is not None and colour not in colour_options(genres):
        notes.append(f"colour={str(colour)[:40]!r} is not a colouring of this run's map: mean rating is used")
        view.pop("emb_colour")
    st.session_state.update(view)
    if notes:
        st.session_state["_emb_view_notes"] = notes


def colour_options(genres: list[str]) -> list[str]:
    return [*MAP_COLOURS, *genres]


def show(run: Run, movies: pd.DataFrame, listed: pd.DataFrame, explained, genres: list[str],
         movie_id: int | None, passing: int | None = None) -> None:
    """The map section for ``movies`` (the rows above the ratings filter, with PC columns). The PCA map draws
    ``listed``, the page's finder list (``movies`` and the chosen movie even when the filter leaves it out); t-SNE
    places only ``movies``: its map must not change with the selection. ``passing`` is how many movies passed the
    filter, when ``movies`` holds only the most-rated of them."""
    for note in st.session_state.pop("_emb_view_notes", []):
        st.warning(f"This link's map view was adjusted: {md(note)}.")
    st.session_state.setdefault("emb_projection", "pca")
    left, middle, right = st.columns([2, 2, 3])
    projection = left.radio("Map", list(PROJECTION_LABELS), key="emb_projection", format_func=PROJECTION_LABELS.get,
                            horizontal=True, persist_state="session")
    colour = right.selectbox("Colour by", colour_options(genres), key="emb_colour", persist_state="session")
    if projection == "tsne":
        st.session_state.setdefault("emb_perplexity", DEFAULT_PERPLEXITY)
        st.session_state.setdefault("emb_tsne_seed", 0)
        a, b = middle.columns(2)
        perplexity = a.slider("Perplexity", *PERPLEXITY_RANGE, key="emb_perplexity", persist_state="session",
                              help="About how many neighbours each movie keeps close: small values show small "
                                   "tight groups, large ones the broader layout.")
        seed = b.number_input("Seed", 0, 2**31 - 1, key="emb_tsne_seed", persist_state="session",
                           help="The same seed draws the same map.")
        st.caption(TSNE_NOTE)
    st.query_params.update(share.view_to_params(st.session_state))
    if movies.empty:
        st.info("No movie passes the ratings filter above, so the map is empty.")
        return
    if projection == "pca":
        drawn = listed.assign(x=listed["PC1"], y=listed["PC2"])
        titles = (f"PC1 ({explained[0]:.1%} of the variance)", f"PC2 ({explained[1]:.1%} of the variance)")
    else:
        drawn = _tsne(run, movies, int(seed), float(perplexity))
        if drawn is None:
            return
        titles = ("t-SNE 1 (no unit)", "t-SNE 2 (no unit)")
    passing = len(movies) if passing is None else passing
    min_ratings = st.session_state.get("emb_min_ratings", 20)
    if movie_id is not None and movie_id not in set(drawn["movieId"]):
        why = (f"it is not among the {len(movies):,} most-rated" if passing > len(movies) else
               "it has too few ratings for the filter above")
        st.caption(f"The movie picked below is not on the map: {why}.")
    chart(st, pc_scatter(drawn, colour, highlight=movie_id, x="x", y="y", x_title=titles[0],
                                y_title=titles[1]),
          key="emb_map", on_select=_pick_from_map, selection_mode="points")
    if passing > len(movies):
        st.caption(f"Showing the {len(movies):,} most-rated of the {passing:,} movies with more than {min_ratings} "
                   f"ratings: a map draws at most {len(movies):,}. Raise *Only movies with more than this many "
                   "ratings* above to see fewer. Hover for details; click a movie to see its neighbours.")
    else:
        st.caption(f"{count(len(drawn), 'movie')}: every one with more than {min_ratings} ratings. Hover for "
                   "details; click a movie to see its neighbours.")
    _exports(run, drawn, projection)


def _pick_from_map() -> None:
    picked = selected_movie_id(st.session_state.get("emb_map"))
    if picked is not None:
        st.session_state["emb_movie"] = picked


def _tsne(run: Run, movies: pd.DataFrame, seed: int, perplexity: float) -> pd.DataFrame | None:
    """The movies with their t-SNE place, or None (and a progress bar) while the map is being computed."""
    vectors = run.embeddings.movie[movies.index.to_numpy()]
    try:
        job = services.projections().request(vectors, seed, perplexity, owner=state.workspace_id())
    except ProjectionError as err:
        st.info(f"No t-SNE map: {md(err)}.")
        return None
    if job.state == "failed":
        st.error(f"The t-SNE map could not be computed: {md(server_text(job.error))}")
        if st.button("Try again", key="emb_tsne_retry"):
            services.projections().forget(job.key)
            st.rerun()
        return None
    if not job.finished:
        _progress(job.key, len(movies))
        return None
    return movies.assign(x=job.result[:, 0], y=job.result[:, 1])


@st.fragment(run_every=POLL_SECONDS)
def _progress(key: str, n_movies: int) -> None:
    """The t-SNE job's progress, polled; the page draws the map once it is done."""
    job = services.projections().get(key)
    if job is None or job.finished:
        st.rerun()
    where = job.stage  # a queued map's says it waits for another
    st.progress(job.fraction, text=f"Computing the t-SNE map of {n_movies:,} movies: {where}. Other pages work "
                                   "meanwhile; the map appears here when it is ready.")


def _exports(run: Run, drawn: pd.DataFrame, projection: str) -> None:
    with st.expander("Export this view"):
        st.download_button("Map coordinates (CSV)", share.map_csv_bytes(drawn), f"movie_map_{projection}.csv",
                           "text/csv", key="emb_download_map", on_click="ignore")
        st.caption("Every movie on the map with its x and y. The camera button above the chart saves it as an "
                   "image (PNG or SVG: the sidebar's *Chart images*).")
        if st.button("Link to this view", key="emb_share_view", icon=":material/share:",
                     help="A link that opens a copy of this run on this map, for anyone (your workspace stays "
                          "private)."):
            token = state.share_run_token(run.name)
            params = {state.SHARED_RUN_PARAM: token, **share.view_to_params(st.session_state)}
            movie = st.session_state.get("emb_movie")
            if movie is not None:
                params[share.MOVIE_KEY] = str(movie)
            base = (st.context.url or "").split("?")[0]
            st.code(f"{base}?{urlencode(params)}", language=None)
