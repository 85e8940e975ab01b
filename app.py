"""Entry point: routes only. Run with ``streamlit run app.py``."""

import streamlit as st

from pages.common import init_session, sidebar

st.set_page_config(page_title="Embeddings Explorer", page_icon="🎬", layout="wide")
init_session()
page = st.navigation(
    [
        st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
        st.Page("pages/recommend.py", title="Recommend", icon=":material/movie:"),
        st.Page("pages/under_the_hood.py", title="Under the hood", icon=":material/build:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    ]
)
sidebar()
page.run()
