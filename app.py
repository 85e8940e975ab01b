"""Entry point: routes only. Run with ``streamlit run app.py``."""

import streamlit as st

from ui import presenter
from ui.streamlit_fixes import preload_widget_code, start_loading_chart_code

st.set_page_config(page_title="Embeddings Explorer", page_icon="🎬", layout="wide",
                   initial_sidebar_state="collapsed" if presenter.read_link() else "auto")
chart_code = start_loading_chart_code()  # first: the browser fetches Plotly while pandas is imported below

from ui import services, state  # noqa: E402 - after the call above
from ui.sidebar import sidebar  # noqa: E402

if chart_code is not None:
    chart_code.empty()
services.check_server_settings()
state.init_session()
page = st.navigation(
    [
        st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
        st.Page("pages/recommend.py", title="Recommend", icon=":material/movie:"),
        st.Page("pages/under_the_hood.py", title="Under the hood", icon=":material/build:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("pages/beyond.py", title="Beyond the article", icon=":material/explore:"),
    ],
    position="top" if presenter.on() else "sidebar",  # presenter mode shuts the sidebar: the pages stay reachable
)
sidebar(page.title)
presenter.apply()
state.say_if_link_was_gone()
preload_widget_code()  # once per session; the browser loads other pages' code when idle
try:
    page.run()
finally:
    state.show_dataset_with(None)  # this run's sidebar is drawn; a fragment's rerun has none
    state.save_workspace()  # also after a page's st.rerun or st.stop
