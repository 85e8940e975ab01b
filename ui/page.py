"""Small helpers every page uses: the intro text, links to other pages, and the "needs data / a run" notices."""

from __future__ import annotations

import os
import re

import streamlit as st
from streamlit.errors import StreamlitAPIException

from cfcore.data.dataset import Dataset
from cfcore.data.errors import DataError
from cfcore.runs.run import Run
from cfcore.text import md, server_text
from ui import presenter, services, state


def intro(text: str) -> None:
    """The 2-3 sentences under a page title that say what the learner is looking at and why."""
    state.init_session()  # every page calls this first: the place to route through app.py
    st.markdown(text)


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """``st.page_link`` that degrades to plain text when the page is not registered (a page run on its own)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.markdown(f"Open **{label.removeprefix('Go to ')}** from the menu.")


def require_run(predicts_ratings: bool = False) -> Run | None:
    """The active run (with ``predicts_ratings``, one that predicts ratings); when there is none, say how to get
    one and return None."""
    run = state.active_run()
    if run is None:
        st.info("This page needs a trained model. Train one on the Train page: the *fast* preset takes seconds.")
        page_link("pages/train.py", "Go to Train", ":material/model_training:")
        return None
    if predicts_ratings and not run.embeddings.predicts_ratings:
        st.info(f"This page needs a model that predicts ratings. The active model, **{md(run.name)}**, was trained "
                "on whether a movie was rated at all, and predicts only that: pick another model in the sidebar, "
                "or look at its movie factors on the Embeddings page.")
        page_link("pages/embeddings.py", "Go to Embeddings", ":material/scatter_plot:")
        return None
    loaded = state.current_dataset()
    if loaded is not None and loaded.fingerprint != run.dataset.fingerprint:
        st.warning(f"The active model, **{md(run.name)}**, was trained on {md(dataset_label(run.dataset))}, not on "
                   f"the data now loaded ({md(dataset_label(loaded))}): this page shows the model's own users and "
                   "movies. Train a model on the new data, or pick another model in the sidebar.")
    return run


def load_default_dataset_button(key: str) -> None:
    """For pages that need data when none is loaded: a button that loads the default source."""
    st.info("No dataset is loaded yet. Choose one on the Data page, or load the default here.")
    page_link("pages/data.py", "Go to Data", ":material/database:")
    if st.button("Load the default dataset", key=key, type="primary"):
        with st.spinner("Loading MovieLens ml-latest-small (downloading it the first time)..."):
            try:
                state.set_dataset(services.load_path_dataset(), path="")
                st.session_state["data_loaded_key"] = ("path", services.configured_data_path())  # as Data keys it
            except DataError as err:
                st.error(md(server_text(err)))
                return
        st.rerun()


# The camera button of every chart saves it at a projector's resolution, as PNG or as SVG (the sidebar's choice).
IMAGE_FORMAT_KEY = "chart_image_format"
IMAGE_SIZE = {"width": 1920, "height": 1080, "scale": 1}


def chart(container, figure, **kwargs):
    """``container.plotly_chart(figure, **kwargs)`` whose camera button saves a 1920x1080 PNG or an SVG, named
    after the chart's title (Plotly's own export, in the browser)."""
    title = str(getattr(figure.layout.title, "text", None) or "chart")
    name = re.sub(r"[^A-Za-z0-9]+", "-", re.sub(r"<[^>]*>", " ", title)).strip("-").lower()[:60] or "chart"
    image = {"format": st.session_state.get(IMAGE_FORMAT_KEY, "png"), "filename": name, **IMAGE_SIZE}
    config = {"toImageButtonOptions": image, "displaylogo": False}
    return container.plotly_chart(presenter.figure(figure), config=config, **kwargs)


def live_svg(svg: str) -> None:
    """A running training's chart from :mod:`cfcore.figures.live_svg` (it says why not Plotly's), which escapes every
    text in it; ``st.html`` drops SVG."""
    st.markdown(svg, unsafe_allow_html=True)


def svg_font_px() -> int:
    """Text size for :mod:`cfcore.figures.live_svg`'s charts: the projector's larger labels in presenter mode."""
    return presenter.CHART_FONT_PX + 2 if presenter.on() else 13


def scroll_into_view(key: str) -> None:
    """Scroll the browser to the container made with ``st.container(key=key)`` (Streamlit gives it the class
    ``st-key-<key>``); the script is this page's own, with no visitor text in it."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        raise ValueError(f"not a container key: {key!r}")
    st.html(f"<script>document.querySelector('.st-key-{key}')?.scrollIntoView({{block: 'start'}});</script>",
            unsafe_allow_javascript=True)


def metric_row():
    """A row for ``st.metric(..., width="content")`` cards that wraps onto a new line when the page is narrow
    (a projector's 1024 px, or 150% zoom), instead of cutting values and labels to "0..." as fixed columns did."""
    return st.container(horizontal=True, gap="large")


def remembered_tabs(labels: list[str], key: str, default: str | None = None):
    """``st.tabs`` that open on the tab the learner chose last, also after a page switch or a rerun that
    changes the page above them (Streamlit forgets a widget's state when its page is left, and stateless tabs
    jump back to the first when the elements before them change). Only the open tab's ``.open`` is True."""
    if key not in st.session_state:  # a first visit, or the page was left: Streamlit dropped the widget's state
        remembered = st.session_state.get(f"_{key}_chosen")
        st.session_state[key] = remembered if remembered in labels else (default if default in labels else labels[0])
    tabs = st.tabs(labels, key=key, on_change="rerun")  # no default: it would change the widget's identity
    st.session_state[f"_{key}_chosen"] = st.session_state[key]  # a plain key outlives the page
    return tabs


def dataset_label(dataset: Dataset) -> str:
    """A short name for where a dataset came from."""
    source = dataset.source or "dataset"
    if source.startswith("upload"):
        return source
    return os.path.basename(source.rstrip("/\\")) or source
