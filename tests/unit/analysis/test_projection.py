"""cfcore.analysis.projection: t-SNE maps of the movies and their background jobs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cfcore.analysis.projection import ProjectionError, ProjectionJobs, check_tsne, movie_map, tsne_map, vectors_key
from tests.support.waiting import wait_for


def _planted(n_per: int = 60, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three tight clusters in random directions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 3
    labels = np.repeat(np.arange(3), n_per)
    return centres[labels] + rng.normal(scale=0.3, size=(len(labels), dim)), labels


def _wait(job, timeout: float = 120.0):
    assert wait_for(lambda: job.finished, timeout), f"the map did not finish: {job}"
    return job


def test_tsne_keeps_planted_clusters_apart():
    vectors, labels = _planted()
    coords = tsne_map(vectors, seed=0, perplexity=20)
    centroids = np.stack([coords[labels == k].mean(axis=0) for k in range(3)])
    nearest = np.linalg.norm(coords[:, None, :] - centroids[None], axis=2).argmin(axis=1)
    assert (nearest == labels).mean() == 1.0
    spread = max(np.linalg.norm(coords[labels == k] - centroids[k], axis=1).mean() for k in range(3))
    gaps = [np.linalg.norm(centroids[a] - centroids[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 3 * spread, (gaps, spread)


def test_the_same_seed_gives_the_same_map_and_another_seed_another():
    vectors, _ = _planted(seed=1)
    first = tsne_map(vectors, seed=7, perplexity=15)
    assert np.array_equal(first, tsne_map(vectors, seed=7, perplexity=15))
    assert not np.allclose(first, tsne_map(vectors, seed=8, perplexity=15))


@pytest.mark.parametrize("n, perplexity, match", [(10, 30, "more movies than its perplexity"),
                                                  (100, 500, "from 5 to 50"), (100, 1, "from 5 to 50")])
def test_settings_tsne_cannot_use_are_a_message(n, perplexity, match):
    with pytest.raises(ProjectionError, match=match):
        tsne_map(np.ones((n, 4)), perplexity=perplexity)
    with pytest.raises(ProjectionError, match=match):
        ProjectionJobs().request(np.ones((n, 4)), 0, perplexity)


def test_tsne_refuses_more_movies_than_a_map_draws_before_any_copy_or_child():
    from cfcore.constants import MAP_MAX_MOVIES

    too_many = np.ones((MAP_MAX_MOVIES + 1, 4))
    match = f"at most {MAP_MAX_MOVIES:,} movies and {MAP_MAX_MOVIES + 1:,} pass the ratings filter"
    with pytest.raises(ProjectionError, match=match):
        tsne_map(too_many)
    jobs = ProjectionJobs()
    with pytest.raises(ProjectionError, match=match):
        jobs.request(too_many, 0, 30)
    assert jobs.get(vectors_key(too_many, 0, 30)) is None  # nothing queued, nothing copied
    check_tsne(MAP_MAX_MOVIES, 30)  # the cap itself is allowed


def test_a_background_job_returns_at_once_and_computes_the_same_map_in_its_own_process():
    vectors, _ = _planted(n_per=80, seed=2)
    jobs = ProjectionJobs()
    started = time.monotonic()
    job = jobs.request(vectors, 3, 20)
    assert time.monotonic() - started < 0.5 and not job.finished
    fractions = []

    def finished_or_sampled() -> bool:
        if job.finished:
            return True
        fractions.append(job.fraction)
        return False

    wait_for(finished_or_sampled, timeout=120, interval=0.02)
    assert job.state == "done", job.error
    assert fractions == sorted(fractions) and job.fraction == 1.0
    assert np.array_equal(job.result, tsne_map(vectors, seed=3, perplexity=20))
    assert jobs.request(vectors, 3, 20) is job  # remembered: any session asking for it gets it at once
    assert jobs.request(vectors, 4, 20) is not job


def test_a_failing_map_is_a_failed_job_with_the_reason_and_can_be_retried():
    vectors, _ = _planted(seed=3)
    vectors[5, 2] = np.nan
    jobs = ProjectionJobs()
    job = _wait(jobs.request(vectors, 0, 20))
    assert job.state == "failed" and "NaN" in job.error
    assert jobs.request(vectors, 0, 20) is job
    jobs.forget(job.key)
    assert jobs.request(vectors, 0, 20) is not job


def test_movie_map_places_exactly_the_movies_above_the_filter(tiny_run):
    placed = movie_map(tiny_run, "pca", min_ratings=3)
    counts = tiny_run.dataset.movies.set_index("movieId")["num_ratings"]
    assert set(placed["movieId"]) == set(counts[counts > 3].index)
    assert np.array_equal(placed["x"], placed["PC1"])
    tsne = movie_map(tiny_run, "tsne", min_ratings=0, seed=1, perplexity=5)
    assert len(tsne) == tiny_run.dataset.n_movies and np.isfinite(tsne[["x", "y"]].to_numpy()).all()


@pytest.mark.slow
def test_a_server_waits_on_few_maps_at_once_and_forgets_only_finished_ones():
    vectors, _ = _planted(n_per=20, seed=4)
    jobs = ProjectionJobs(max_waiting=3, keep=2)
    jobs.slots.acquire()  # one map holds the only slot: everything else waits
    try:
        waiting = [jobs.request(vectors, seed, 10) for seed in range(3)]
        with pytest.raises(ProjectionError, match="computing 3 other t-SNE maps"):
            jobs.request(vectors, 99, 10)
        assert all(job.state == "queued" for job in waiting)
        assert [jobs.get(job.key) for job in waiting] == waiting  # over keep=2, but none is finished: all kept
    finally:
        jobs.slots.release()
    for job in waiting:
        _wait(job)
    assert all(job.state == "done" for job in waiting)
    fresh = _wait(jobs.request(vectors, 7, 10))
    assert fresh.state == "done" and sum(jobs.get(job.key) is not None for job in [*waiting, fresh]) <= 3
