"""Plotly figures and tables for the pages, and the live training chart as SVG: frames and arrays in, figures
out. No Streamlit, no TensorFlow."""
