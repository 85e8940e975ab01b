"""Two-dimensional maps of movie embeddings: PCA (instant) and t-SNE (seconds), and the background jobs that
compute t-SNE away from the page.

t-SNE runs on the movies above the ratings filter only (every one of them, at most ``MAP_MAX_MOVIES`` in
cfcore.constants: no sampling), on L2-normalised vectors, so that its notion of "near" is the cosine similarity
of the neighbours table. scikit-learn's Barnes-Hut t-SNE from a random start drawn from the seed gives the same
map for the same vectors, seed and perplexity, and another map for another seed
(``tests/unit/analysis/test_projection.py``).

:class:`ProjectionJobs` runs each t-SNE in a child process (``python -m cfcore.analysis.projection IN OUT``): the web
server's thread and its GIL stay free, progress comes from the child's report of its iterations, and the
result is kept in memory by (vectors, seed, perplexity), so any session that asks for the same map gets it at
once. No Streamlit here.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cfcore import constants as C
from cfcore.background import BackgroundJob, BackgroundJobs, TooManyJobs
from cfcore.child import exit_with_parent, run_module
from cfcore.trainer.caps import CapError, JobCaps

if TYPE_CHECKING:
    import pandas as pd

    from cfcore.runs.run import Run

PROJECTIONS = ("pca", "tsne")
DEFAULT_PERPLEXITY = 30
PERPLEXITY_RANGE = (5, 50)
TSNE_ITERATIONS = 1000
# Share of a job's progress bar for the neighbour search and probabilities before the iterations.
_SETUP_SHARE = 0.1
_ITERATION_LINE = re.compile(r"\[t-SNE\] Iteration (\d+)")


class ProjectionError(ValueError):
    """A map that cannot be computed with these settings; the message says what to change."""


def check_tsne(n_movies: int, perplexity: float) -> None:
    """Raise :class:`ProjectionError` unless t-SNE can place ``n_movies`` with ``perplexity``: no more than
    ``cfcore.constants.MAP_MAX_MOVIES``, checked before any copy or child process."""
    low, high = PERPLEXITY_RANGE
    if not low <= perplexity <= high:
        raise ProjectionError(f"perplexity must be from {low} to {high}. Received: {perplexity}")
    if n_movies > C.MAP_MAX_MOVIES:
        # Its time and its child's memory grow with the movies: 200,000 held the child at 0.9 GB for minutes.
        raise ProjectionError(f"t-SNE places at most {C.MAP_MAX_MOVIES:,} movies and {n_movies:,} pass the ratings "
                              "filter; raise the filter to place fewer")
    if n_movies <= perplexity:
        raise ProjectionError(f"t-SNE needs more movies than its perplexity: {n_movies} movies pass the ratings "
                              f"filter, perplexity is {perplexity:g}; lower the filter or the perplexity")


def tsne_map(vectors: np.ndarray, seed: int = 0, perplexity: float = DEFAULT_PERPLEXITY,
             verbose: int = 0) -> np.ndarray:
    """The ``(n, 2)`` t-SNE map of ``vectors`` (rows L2-normalised first).

    Raises:
        ProjectionError: for too few rows for the perplexity or too many for the cap, or non-finite values.
    """
    from sklearn.manifold import TSNE

    x = np.asarray(vectors, dtype=np.float64)
    check_tsne(len(x), perplexity)
    if not np.isfinite(x).all():
        raise ProjectionError("the embeddings hold NaN or infinity (a diverged run?): no map can be drawn")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    # A random start drawn from the seed (as the Embedding Projector does): with init="pca" the seed would
    # change nothing, and a learner could not see how much of the layout is chance.
    model = TSNE(n_components=2, perplexity=float(perplexity), random_state=int(seed), init="random",
                 learning_rate="auto", max_iter=TSNE_ITERATIONS, verbose=verbose)
    return model.fit_transform(x).astype(np.float64)


def map_movies(run: Run, min_ratings: int = 20, centered: bool = False) -> pd.DataFrame:
    """The movies a map draws: those with more than ``min_ratings`` ratings, as rows of
    ``cfcore.analysis.pca.movie_pca_frame`` (movieId, title, genres, num_ratings, rating, PC1, PC2); the index
    is each movie's row in ``run.embeddings.movie``.

    Raises:
        ProjectionError: for embeddings with fewer than two dimensions.
    """
    from cfcore.analysis.pca import movie_pca_frame

    _, frame = movie_pca_frame(run, centered=centered)
    if "PC2" not in frame:
        raise ProjectionError("a map needs embeddings with at least two dimensions")
    return frame[frame["num_ratings"] > min_ratings]


def movie_map(run: Run, projection: str = "pca", min_ratings: int = 20, seed: int = 0,
              perplexity: float = DEFAULT_PERPLEXITY, centered: bool = False) -> pd.DataFrame:
    """:func:`map_movies` with the map's ``x`` and ``y``: PC1 and PC2, or t-SNE computed here and now.

    Raises:
        ProjectionError: for an unknown projection or settings t-SNE cannot use.
    """
    if projection not in PROJECTIONS:
        raise ProjectionError(f"projection must be one of {', '.join(PROJECTIONS)}. Received: {projection!r}")
    movies = map_movies(run, min_ratings, centered)
    if projection == "pca":
        return movies.assign(x=movies["PC1"], y=movies["PC2"])
    coords = tsne_map(run.embeddings.movie[movies.index.to_numpy()], seed, perplexity)
    return movies.assign(x=coords[:, 0], y=coords[:, 1])


def vectors_key(vectors: np.ndarray, seed: int, perplexity: float) -> str:
    """What identifies a t-SNE map: the vectors' bytes and shape, the seed and the perplexity."""
    x = np.ascontiguousarray(vectors, dtype=np.float64)
    digest = hashlib.sha256(x.tobytes())
    digest.update(f"{x.shape}|{int(seed)}|{float(perplexity)!r}".encode())
    return digest.hexdigest()[:32]


class ProjectionJobs:
    """t-SNE maps computed in child processes (a :class:`~cfcore.background.BackgroundJobs` of kind "map"), at
    most ``max_running`` at once, the last ``keep`` remembered; a job's ``result`` is the ``(n, 2)`` map.

    Thread-safe; :meth:`request` never waits for a computation.
    """

    def __init__(self, max_running: int = 1, keep: int = 32, timeout_s: float = 600.0, max_waiting: int = 4,
                 caps: JobCaps | None = None):
        self.timeout_s = float(timeout_s)
        # Maps not yet finished, all sessions together: each holds a copy of its vectors while it waits, and
        # stepping a seed input would otherwise queue hours of t-SNE.
        self.max_waiting = int(max_waiting)
        self.jobs = BackgroundJobs("map", self._compute, caps, max_running=max_running, keep=keep,
                                   before_start=self._still_wanted, first_stage="waiting for another map to finish")
        self.caps, self.slots = self.jobs.caps, self.jobs.slots
        _sweep_stale_folders(2 * self.timeout_s)

    def request(self, vectors: np.ndarray, seed: int, perplexity: float, owner: str = "") -> BackgroundJob:
        """The job for this map: the one computed or under way, else a new one started in the background for
        ``owner`` (a workspace), under its cap on jobs of every kind.

        Raises:
            ProjectionError: when the settings cannot give a map, or the workspace has as many jobs under way as
                it may (checked before anything starts).
        """
        check_tsne(len(vectors), perplexity)
        key = vectors_key(vectors, seed, perplexity)
        job = self.jobs.known(key)
        if job is not None:
            return job
        data = (np.array(vectors, dtype=np.float64), int(seed), float(perplexity))  # a copy: the caller's may change
        try:
            return self.jobs.start(key, owner, data, max_unfinished=self.max_waiting)
        except CapError as err:
            raise ProjectionError(str(err)) from None
        except TooManyJobs as busy:
            raise ProjectionError(f"the server is computing {busy.unfinished} other t-SNE maps; try again when "
                                  "they are done (a minute or so), or look at the PCA map meanwhile") from None

    def get(self, key: str) -> BackgroundJob | None:
        """The job with this key, if it is still remembered."""
        return self.jobs.get(key)

    def forget(self, key: str) -> None:
        """Drop a finished job (a failed one, to try again)."""
        self.jobs.forget(key)

    def _still_wanted(self, job: BackgroundJob) -> None:
        job.stage = "finding each movie's neighbours"
        if not self.caps.present(job.owner):
            raise ProjectionError("nobody was waiting for it any more; open the map again to compute it")

    def _compute(self, job: BackgroundJob, data: tuple[np.ndarray, int, float]) -> np.ndarray:
        vectors, seed, perplexity = data

        def follow(line: str) -> None:
            found = _ITERATION_LINE.search(line)
            if found:
                done = int(found.group(1))
                job.fraction = _SETUP_SHARE + (1 - _SETUP_SHARE) * min(done / TSNE_ITERATIONS, 1.0)
                job.stage = f"iteration {done:,} of {TSNE_ITERATIONS:,}"
            elif "conditional probabilities" in line:
                job.fraction, job.stage = _SETUP_SHARE, "placing the movies"

        folder = Path(tempfile.mkdtemp(prefix=_FOLDER_PREFIX))
        try:
            np.save(folder / "in.npy", vectors)
            # One core: the trainer needs the other (scikit-learn's t-SNE would take every OpenMP thread).
            arguments = [str(folder / "in.npy"), str(folder / "out.npy"), "--seed", str(seed), "--perplexity",
                         repr(perplexity)]
            ended = run_module("cfcore.analysis.projection", arguments, self.timeout_s, follow)
            if ended.returncode != 0:
                raise ProjectionError(ended.reason("the t-SNE process"))
            return np.load(folder / "out.npy")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


_FOLDER_PREFIX = "cfcore-tsne-"


def _sweep_stale_folders(older_than_s: float) -> None:
    """Remove t-SNE scratch folders a stopped server left in the temp folder (its jobs' ``finally`` never ran)."""
    cutoff = time.time() - older_than_s
    for folder in Path(tempfile.gettempdir()).glob(f"{_FOLDER_PREFIX}*"):
        with contextlib.suppress(OSError):
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """The child process: read IN (an ``(n, d)`` .npy), write OUT (its ``(n, 2)`` map), reporting progress."""
    parser = argparse.ArgumentParser(prog="python -m cfcore.analysis.projection")
    parser.add_argument("vectors")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--perplexity", type=float, default=DEFAULT_PERPLEXITY)
    args = parser.parse_args(argv)
    exit_with_parent()
    try:
        coords = tsne_map(np.load(args.vectors, allow_pickle=False), args.seed, args.perplexity, verbose=2)
    except (ProjectionError, OSError, ValueError) as err:
        print(f"error: {err}", flush=True)
        return 2
    with contextlib.suppress(FileNotFoundError):
        os.remove(args.out)
    np.save(args.out, coords)
    return 0


if __name__ == "__main__":
    sys.exit(main())
