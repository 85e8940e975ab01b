"""The file layouts of the MovieLens releases: which ratings file goes with which movies file.

``ml-latest-small``, ``ml-25m`` and ``ml-32m`` have ``ratings.csv`` and ``movies.csv``; ``ml-1m`` and ``ml-10m`` have
``ratings.dat`` and ``movies.dat`` (``::``-separated); ``ml-100k``, the fast.ai lesson's, has ``u.data`` (tab-
separated) and ``u.item`` (pipe-separated, Latin-1, genres as 19 flags). :mod:`cfcore.data.read` parses each.
"""

from __future__ import annotations

from pathlib import Path

from cfcore import constants as C

# (ratings file, movies file), in the order a folder is looked at.
LAYOUTS = ((C.RATINGS_FILE, C.MOVIES_FILE), ("ratings.dat", "movies.dat"), ("u.data", "u.item"))
RATINGS_FILES = tuple(ratings for ratings, _ in LAYOUTS)


def layout_of(folder: Path) -> tuple[str, str] | None:
    """The (ratings, movies) file names of the first layout whose ratings file ``folder`` holds, or None."""
    return next(((ratings, movies) for ratings, movies in LAYOUTS if (folder / ratings).is_file()), None)
