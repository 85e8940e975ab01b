"""cfcore: collaborative filtering with learned embeddings, without Streamlit."""

__version__ = "0.1.0"
