"""The Data page's source: the configured folder, the built-in MovieLens copy or an upload, loaded into the session
(a load that failed is remembered, so a failing source is not retried on every click)."""

from __future__ import annotations

import streamlit as st

from cfcore import settings
from cfcore.data.dataset import dataset_from_files
from cfcore.data.errors import DataError
from cfcore.text import md, server_text
from ui.services import configured_data_path, load_path_dataset
from ui.state import current_dataset, set_dataset


def choose() -> None:
    """The source menu, and the chosen data loaded (or an upload's form, or why it could not be used)."""
    configured = configured_data_path()
    labels = {
        "configured": f"Configured folder (CFCORE_DATA: `{configured}`)" if settings.show_paths()
        else "Configured folder (CFCORE_DATA)",
        "builtin": "MovieLens ml-latest-small (built in)",
        "upload": "Upload ratings.csv and movies.csv",
    }
    options = (["configured"] if configured else []) + ["builtin", "upload"]
    if st.session_state.get("data_source") not in options:
        st.session_state["data_source"] = options[0]
    source = st.radio("Source", options, key="data_source", format_func=labels.get, horizontal=True,
                      persist_state="session")
    if source == "upload":
        _use_upload()
        return
    if source == "builtin" and configured:
        st.caption("CFCORE_DATA is set, so the built-in choice uses that copy instead of downloading.")
    _use_path("", configured)


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


def _use_path(path: str, configured: str) -> None:
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
