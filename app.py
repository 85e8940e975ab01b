"""Entry point: routes only. Run with ``streamlit run app.py``."""

import streamlit as st

st.set_page_config(page_title="Embeddings Explorer", page_icon="🎬", layout="wide")
st.title("Collaborative filtering with embeddings")
st.write("The app is being built; the core package works from the command line: `python -m cfcore --help`.")
