"""The app's pages, one file each, routed by app.py. What they share lives in the ``ui`` package."""
