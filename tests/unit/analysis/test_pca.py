"""cfcore.analysis.pca: PCA against hand-computed answers, the SVD and scikit-learn, and the PC rankings of
runs with planted weights (known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.pca import RANKING_KEYS, movie_pca_frame, pc_rankings, pca
from tests.support.runs import make_run


def planted_axes_run(n: int = 16):
    """Movie embeddings with orthogonal columns: PC1 is exactly dim 1 and PC2 exactly dim 2."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 2.0, n)
    y = rng.normal(0, 1.0, n)
    y -= (y @ x) / (x @ x) * x  # orthogonal to x, so X^T X is diagonal
    y *= 0.5 * np.linalg.norm(x) / np.linalg.norm(y)
    movie = np.stack([x, y], axis=1)
    counts = [25 + j for j in range(n)]
    counts[int(np.argmin(x))] = 5  # the most negative PC1 movie is too rarely rated to rank
    counts[int(np.argmax(y))] = 20  # exactly min_ratings: "more than 20" excludes it
    return make_run("simple_dot", movie, counts=counts, n_users=max(counts)), movie, counts


def test_pca_uncentered_hand_computed():
    # X^T X = diag(4, 2): singular values 2 and sqrt(2), loadings the unit axes.
    x = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    result = pca(x)
    assert not result.centered
    np.testing.assert_allclose(result.variance, [4 / 2, 2 / 2])
    np.testing.assert_allclose(result.explained, [2 / 3, 1 / 3])
    np.testing.assert_allclose(result.components, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(result.scores, x, atol=1e-12)


def test_pca_centered_hand_computed():
    x = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    result = pca(x, centered=True)
    # Column means (2/3, 0); centred X^T X = diag(8/3, 2); variances 4/3 and 1.
    np.testing.assert_allclose(result.mean, [2 / 3, 0])
    np.testing.assert_allclose(result.variance, [4 / 3, 1.0])
    np.testing.assert_allclose(result.explained, [4 / 7, 3 / 7])
    np.testing.assert_allclose(result.scores, x - [2 / 3, 0], atol=1e-12)


def test_pca_matches_the_svd_definition_and_signs_are_stable():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 6)) @ np.diag([3, 2, 1.5, 1, 0.5, 0.2]) + 0.4
    result = pca(x)
    s = np.linalg.svd(x, compute_uv=False)
    np.testing.assert_allclose(result.variance, s**2 / (len(x) - 1))
    assert result.explained.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(result.components.T @ result.components, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(result.scores @ result.components.T, x, atol=1e-10)  # no centering: exact
    np.testing.assert_allclose(result.project(x), result.scores, atol=1e-10)
    # Sign convention: the largest-|loading| entry of each component is positive...
    pivots = np.abs(result.components).argmax(axis=0)
    assert (result.components[pivots, np.arange(6)] > 0).all()
    # ...so flipping the data flips the scores, never the axes.
    flipped = pca(-x)
    np.testing.assert_allclose(flipped.components, result.components, atol=1e-10)
    np.testing.assert_allclose(flipped.scores, -result.scores, atol=1e-10)


def test_pca_centered_agrees_with_scikit_learn():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 5)) @ np.diag([4, 2, 1, 0.5, 0.1]) + 2.0
    result = pca(x, centered=True)
    reference = PCA().fit(x)
    np.testing.assert_allclose(result.variance, reference.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(result.explained, reference.explained_variance_ratio_, rtol=1e-8)
    np.testing.assert_allclose(np.abs(result.components), np.abs(reference.components_.T), atol=1e-8)


def test_pca_rejects_bad_input():
    with pytest.raises(AnalysisError):
        pca(np.ones((1, 3)))
    with pytest.raises(AnalysisError):
        pca(np.array([[1.0, np.nan], [0.0, 1.0]]))


def test_movie_pca_frame_has_one_row_per_movie_with_scores():
    run, movie, counts = planted_axes_run()
    result, frame = movie_pca_frame(run)
    assert list(frame.columns[:5]) == ["movieId", "title", "genres", "num_ratings", "rating"]
    assert list(frame.columns[5:]) == ["PC1", "PC2"]
    np.testing.assert_allclose(frame["PC1"], movie[:, 0], atol=1e-5)
    np.testing.assert_allclose(frame["PC2"], movie[:, 1], atol=1e-5)
    assert frame["num_ratings"].tolist() == counts
    assert frame["movieId"].tolist() == list(run.dataset.index_to_movie)
    assert result.explained[0] == pytest.approx(0.8)  # column norms^2 in ratio 4 : 1


def test_pc_rankings_find_the_planted_extremes():
    run, movie, counts = planted_axes_run()
    tables = pc_rankings(run, min_ratings=20, top=3)
    assert set(tables) == {"pc1_lowest", "pc1_highest", "pc2_lowest", "pc2_highest"}
    eligible = np.array(counts) > 20
    titles = np.array(run.dataset.movies["title"])
    for key, column, descending in [("pc1_lowest", 0, False), ("pc1_highest", 0, True),
                                    ("pc2_lowest", 1, False), ("pc2_highest", 1, True)]:
        table = tables[key]
        assert list(table.columns) == ["title", "PC1", "PC2", "rating", "genres", "num_ratings"]
        order = np.argsort(movie[:, column])
        order = order[::-1] if descending else order
        expected = [titles[j] for j in order if eligible[j]][:3]
        assert table["title"].tolist() == expected, key
        assert (table["num_ratings"] > 20).all()
    # The planted rarely-rated extreme is excluded, and means come from the full ratings.
    assert titles[int(np.argmin(movie[:, 0]))] not in tables["pc1_lowest"]["title"].tolist()
    row = tables["pc1_highest"].iloc[0]
    j = int(np.flatnonzero(titles == row["title"])[0])
    ratings = run.dataset.ratings
    assert row["rating"] == pytest.approx(ratings.loc[ratings["movie"] == j, "rating"].mean())


def test_pc_rankings_centered_option_and_errors():
    run, _, _ = planted_axes_run()
    plain = pc_rankings(run, min_ratings=0, top=16)["pc1_lowest"]
    centered = pc_rankings(run, min_ratings=0, top=16, centered=True)["pc1_lowest"]
    assert len(plain) == len(centered) == 16
    assert not np.allclose(plain["PC1"], centered["PC1"])
    one_dim = make_run("simple_dot", np.arange(4, dtype=float)[:, None] + 1)
    with pytest.raises(AnalysisError, match="two"):
        pc_rankings(one_dim)


@pytest.mark.slow
def test_real_data_rankings_and_baseline_ladder(movielens_path):
    from cfcore.analysis.baselines import baseline_ladder
    from cfcore.config import preset
    from cfcore.data.sources import load_dataset
    from cfcore.training.fit import train

    dataset = load_dataset(movielens_path, download=False)
    run = train(dataset, preset("fast", epochs=3, patience=0))
    tables = pc_rankings(run)
    assert set(tables) == set(RANKING_KEYS)
    for table in tables.values():
        assert len(table) == 10
        assert (table["num_ratings"] > 20).all()
    assert tables["pc1_lowest"]["PC1"].max() < tables["pc1_highest"]["PC1"].min()
    ladder = baseline_ladder(run).set_index("name")["val_rmse"]
    assert ladder["global mean"] > ladder["user + movie biases"] + 0.1
    assert 0.84 < ladder["user + movie biases"] < 0.90
    assert ladder.iloc[2] < ladder["global mean"]


@pytest.mark.parametrize("centered", [False, True])
def test_pca_of_many_rows_through_the_small_gram_matrix_matches_the_svd(monkeypatch, centered):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(3000, 8)) @ rng.normal(size=(8, 8)) + rng.normal(size=8)).astype(np.float32)
    exact = pca(x, centered=centered)
    monkeypatch.setattr("cfcore.analysis.pca.GRAM_PCA_ROWS", 100)
    gram = pca(x, centered=centered)
    np.testing.assert_allclose(gram.scores, exact.scores, atol=1e-8)
    np.testing.assert_allclose(gram.components, exact.components, atol=1e-10)
    np.testing.assert_allclose(gram.variance, exact.variance, rtol=1e-10)
    np.testing.assert_allclose(gram.explained, exact.explained, atol=1e-12)


def test_pca_asked_for_fewer_scores_computes_the_first_ones_only():
    x = np.random.default_rng(5).normal(size=(40, 5)) @ np.diag([4, 3, 2, 1, 0.5])
    full, two = pca(x), pca(x, n_scores=2)
    assert two.scores.shape == (40, 2)
    np.testing.assert_allclose(two.scores, full.scores[:, :2], atol=1e-12)
    np.testing.assert_allclose(two.components, full.components)
    np.testing.assert_allclose(two.explained, full.explained)
