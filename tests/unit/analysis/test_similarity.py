"""cfcore.analysis.similarity: comparing two representations with linear CKA, neighbour
overlap@10 and Procrustes."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.analysis.similarity import (
    SimilarityError,
    compare_runs,
    linear_cka,
    neighbour_overlap,
    procrustes_align,
    shared_movies,
)


def _rotation(seed: int) -> np.ndarray:
    """A random 8 x 8 orthogonal matrix."""
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(8, 8)))[0]


@pytest.fixture
def factors():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 8)) @ np.diag([3, 2, 1.5, 1, 1, 0.5, 0.3, 0.1])


def test_cka_is_one_for_itself_and_blind_to_a_rotation_and_a_scale_of_one_side(factors):
    rotated = 4.0 * factors @ _rotation(1)
    assert linear_cka(factors, factors) == pytest.approx(1.0)
    assert linear_cka(factors, rotated) == pytest.approx(1.0)
    unrelated = np.random.default_rng(5).normal(size=factors.shape)
    assert linear_cka(factors, unrelated) < 0.2
    half = np.hstack([factors[:, :2], np.random.default_rng(6).normal(size=(300, 6))])
    assert linear_cka(factors, unrelated) < linear_cka(factors, half) < 1


def test_neighbour_overlap_is_one_for_a_rotated_copy_and_small_for_noise(factors):
    rotated = factors @ _rotation(2)
    assert neighbour_overlap(factors, factors) == 1.0
    assert neighbour_overlap(factors, rotated) == pytest.approx(1.0)
    assert neighbour_overlap(factors, np.random.default_rng(7).normal(size=factors.shape)) < 0.15
    # Blocks of rows give the same lists as one pass (the matrix of all 9,724 movies would be 750 MB).
    from cfcore.analysis.similarity import nearest_rows

    assert np.array_equal(nearest_rows(factors, 10, block=7), nearest_rows(factors, 10, block=1000))


def test_procrustes_undoes_a_rotation(factors):
    turned = factors @ _rotation(3) + 5.0
    assert np.allclose(procrustes_align(factors, turned), factors)


@pytest.mark.parametrize("x, y, match", [
    (np.ones((5, 2)), np.ones((4, 2)), "same number"),
    (np.ones((5, 2)), np.ones((5, 2)), "no variance"),
])
def test_cka_refuses_what_it_cannot_compare(x, y, match):
    with pytest.raises(SimilarityError, match=match):
        linear_cka(x, y)


def test_two_runs_are_compared_over_the_movies_both_rate_enough(tiny_run, dot_run):
    assert compare_runs(tiny_run, tiny_run, 0).to_json() == pytest.approx(
        {"linear_cka": 1.0, "neighbour_overlap_at_10": 1.0, "movies": tiny_run.dataset.n_movies})
    threshold = int(tiny_run.dataset.movies["num_ratings"].quantile(0.25))
    ids, x, y = shared_movies(tiny_run, dot_run, threshold)
    counts = tiny_run.dataset.movies.set_index("movieId")["num_ratings"]
    assert set(ids) == set(counts[counts > threshold].index) and x.shape[0] == y.shape[0] == len(ids)
    compared = compare_runs(tiny_run, dot_run, threshold)
    assert 0 <= compared.linear_cka <= 1 and 0 <= compared.neighbour_overlap_at_10 <= 1
    with pytest.raises(SimilarityError, match="at least 11 are needed"):
        compare_runs(tiny_run, dot_run, 10_000)


def test_similarity_refuses_a_diverged_runs_nan_factors(wild_run):
    from dataclasses import replace

    from cfcore.analysis.similarity import SimilarityError, compare_runs
    from cfcore.runs.embeddings import Embeddings

    broken = wild_run.embeddings.movie.copy()
    broken[0, 0] = np.nan
    nan_run = replace(wild_run, embeddings=Embeddings(**{**wild_run.embeddings.__dict__, "movie": broken}))
    with pytest.raises(SimilarityError, match="NaN or infinity"):
        compare_runs(nan_run, wild_run, 0)
