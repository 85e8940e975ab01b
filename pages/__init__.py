"""The app's pages (one file each, routed by app.py) and their shared helpers in ``common``."""
