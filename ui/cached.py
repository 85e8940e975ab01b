"""What the pages compute once and then only read: a dataset's overview, a run's PCA, rankings and genres, Under
the hood's worked example. A trained run never changes, so nothing here is recomputed on a widget change.

Figures and frames are module attributes looked up at call time (``pca.movie_pca_frame``), so a test can count
the calls. A run is keyed by its identity and name (:data:`BY_RUN`), never hashed by content.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from cfcore.analysis import pca
from cfcore.data.dataset import Dataset
from cfcore.figures import data as data_figures
from cfcore.figures import predictions as prediction_figures
from cfcore.figures.tables import genre_names, joined_sample
from cfcore.runs.run import Run
from ui.lookup_example import WEATHER, LookupExample, lookup_example

BY_RUN = {Run: lambda run: (id(run), run.name)}


@st.cache_resource(max_entries=8, show_spinner=False)
def data_overview(fingerprint: str, _dataset: Dataset) -> tuple:
    """The Data page's three histograms and joined sample, built once per dataset for the whole server.

    About 50 ms of Python on every visit otherwise, for every learner. Shared objects: nothing changes a
    figure or the sample after it is built, and only a session with the very same data (fingerprint) gets them.
    """
    return (data_figures.rating_histogram(_dataset), data_figures.ratings_per_user(_dataset),
            data_figures.ratings_per_movie(_dataset), joined_sample(_dataset, n=8))


# Kept as one object that the pages only read (st.cache_resource): st.cache_data would keep it pickled and
# unpickle a copy on every rerun, which for an upload of 200,000 movies is about 200 MB each time.
@st.cache_resource(max_entries=4, ttl=600, show_spinner=False, hash_funcs=BY_RUN)
def movie_pca(run: Run, centered: bool = False) -> tuple[pca.PCAResult, object]:
    """The run's :func:`cfcore.analysis.pca.movie_pca_frame`, for the Embeddings and Recommend pages."""
    return pca.movie_pca_frame(run, centered=centered)


@st.cache_data(scope="session", max_entries=16, show_spinner=False, hash_funcs=BY_RUN)
def pc_rankings(run: Run, min_ratings: int, top: int, centered: bool) -> dict:
    """The movies at either end of PC1 and PC2 (:func:`cfcore.analysis.pca.pc_rankings`)."""
    return pca.pc_rankings(run, min_ratings, top, centered=centered, frame=movie_pca(run, centered)[1])


@st.cache_data(scope="session", max_entries=4, show_spinner=False, hash_funcs=BY_RUN)
def genres(run: Run) -> list[str]:
    """Every genre among the run's movies."""
    return genre_names(run.dataset.movies["genres"])


@st.cache_resource(max_entries=64, show_spinner=False)
def lookup_figures(tags: tuple[str, ...], dim: int) -> tuple[LookupExample, go.Figure]:
    """Under the hood's lookup and its three heatmaps, built once per input for the whole server."""
    example = lookup_example(list(tags), dim)
    return example, prediction_figures.onehot_product_figure(example.onehot, example.weights, example.product,
                                                             example.rows, list(WEATHER))
