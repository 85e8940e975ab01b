"""Analysis functions on runs with planted weights (known answers) and on the tiny trained run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.explain import explain_prediction
from cfcore.analysis.export import embeddings_frame, write_projector_files
from cfcore.analysis.fold_in import FoldIn, fold_in, project_vector, recommend_for_vector
from cfcore.analysis.movies import find_movies, heatmap_frame, most_rated
from cfcore.analysis.neighbours import nearest_movies
from cfcore.analysis.pca import RANKING_KEYS, movie_pca_frame, pc_rankings, pca
from cfcore.analysis.predict import predict, recommend, user_ratings, user_rmse
from tests.support.runs import make_run, model_predict

# ---------------------------------------------------------------------------
# Embeddings and the heatmap
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["simple_dot", "dot_with_bias", "simple_embedding"])
def test_embeddings_of_returns_the_set_weights(name):
    from cfcore.training.models import embeddings_of

    rng = np.random.default_rng(0)
    movie = rng.normal(size=(5, 3))
    user = rng.normal(size=(6, 3))
    run = make_run(name, movie, user=user, user_bias=np.arange(6) * 0.1, movie_bias=-np.arange(5) * 0.2)
    emb = embeddings_of(run.model)
    np.testing.assert_allclose(emb.movie, movie, atol=1e-6)
    np.testing.assert_allclose(emb.user, user, atol=1e-6)
    if name == "dot_with_bias":
        np.testing.assert_allclose(emb.user_bias, np.arange(6) * 0.1, atol=1e-6)
        np.testing.assert_allclose(emb.movie_bias, -np.arange(5) * 0.2, atol=1e-6)
        assert (emb.min_rating, emb.max_rating) == (0.5, 5.0)
        assert emb.global_offset == 0.0
    else:
        assert emb.user_bias is None and emb.movie_bias is None and emb.min_rating is None


def test_embeddings_of_reads_the_global_offset():
    from cfcore.training.models import embeddings_of

    run = make_run("dot_with_bias", np.ones((4, 2)), global_offset=0.75)
    assert embeddings_of(run.model).global_offset == pytest.approx(0.75)


def test_heatmap_frame_is_first_movies_in_id_order_with_titles():
    movie = np.arange(24, dtype=float).reshape(8, 3)
    run = make_run("simple_dot", movie)
    frame = heatmap_frame(run, n_movies=5)
    assert list(frame.index) == [f"Film {j} ({1980 + j})" for j in range(5)]
    assert list(frame.columns) == [1, 2, 3]
    np.testing.assert_allclose(frame.to_numpy(), movie[:5])
    assert len(heatmap_frame(run)) == 8  # default 20, capped at the number of movies
    with pytest.raises(AnalysisError):
        heatmap_frame(run, n_movies=0)


# ---------------------------------------------------------------------------
# PCA
# ---------------------------------------------------------------------------


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


def test_most_rated_keeps_the_most_rated_rows_in_their_order():
    movies = pd.DataFrame({"movieId": [10, 20, 30, 40, 50], "num_ratings": [5, 50, 7, 50, 7]}, index=[4, 3, 2, 1, 0])
    top = most_rated(movies, 3)  # of the two with 7 ratings, the first
    assert top["movieId"].tolist() == [20, 30, 40] and top.index.tolist() == [3, 2, 1]
    assert most_rated(movies, 2)["movieId"].tolist() == [20, 40]
    assert most_rated(movies, 5) is movies and most_rated(movies, 0).empty
    with pytest.raises(AnalysisError, match="limit=-1"):
        most_rated(movies, -1)


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


# ---------------------------------------------------------------------------
# Movies: search and neighbours
# ---------------------------------------------------------------------------


def three_movie_run():
    # Film 1 points the same way as film 0 but is short; film 2 is long but at 45 degrees.
    movie = np.array([[1.0, 0.0], [0.9, 0.1], [5.0, 5.0]])
    return make_run("simple_dot", movie, counts=[3, 1, 3], n_users=3)


def test_nearest_movies_cosine_versus_dot():
    run = three_movie_run()
    ids = run.dataset.index_to_movie
    cosine = nearest_movies(run, int(ids[0]))
    assert list(cosine.columns) == ["movieId", "title", "genres", "similarity", "num_ratings", "rating"]
    assert cosine["movieId"].tolist() == [ids[1], ids[2]]  # itself excluded
    np.testing.assert_allclose(cosine["similarity"], [0.9 / math.hypot(0.9, 0.1), 1 / math.sqrt(2)], atol=1e-6)
    dot = nearest_movies(run, int(ids[0]), metric="dot")
    assert dot["movieId"].tolist() == [ids[2], ids[1]]
    np.testing.assert_allclose(dot["similarity"], [5.0, 0.9], atol=1e-6)
    filtered = nearest_movies(run, int(ids[0]), min_ratings=1)
    assert filtered["movieId"].tolist() == [ids[2]]
    assert len(nearest_movies(run, int(ids[0]), k=1)) == 1


def test_nearest_movies_errors():
    run = three_movie_run()
    with pytest.raises(AnalysisError, match="unknown movieId 999"):
        nearest_movies(run, 999)
    with pytest.raises(AnalysisError, match="metric"):
        nearest_movies(run, int(run.dataset.index_to_movie[0]), metric="euclid")


def test_find_movies_is_case_insensitive_and_most_rated_first():
    run = make_run("simple_dot", np.ones((4, 2)), counts=[2, 5, 3, 1], n_users=5)
    found = find_movies(run, "FILM")
    assert list(found.columns) == ["movieId", "title", "genres", "num_ratings", "rating"]
    assert found["num_ratings"].tolist() == [5, 3, 2, 1]
    assert find_movies(run, "film 2 (")["title"].tolist() == ["Film 2 (1982)"]
    assert find_movies(run, "(.*)").empty  # plain text, not a regex
    assert len(find_movies(run, "", limit=2)) == 2


# ---------------------------------------------------------------------------
# Users: predictions and recommendations (tiny trained run)
# ---------------------------------------------------------------------------


def test_predict_matches_the_model_in_inference_mode(tiny_run):
    users = np.array([0, 1, 2, 3, 4])
    movies = np.array([5, 4, 3, 2, 1])
    np.testing.assert_allclose(predict(tiny_run, users, movies), model_predict(tiny_run, users, movies),
                               atol=1e-5)
    # Dropout is off: the same pair predicts the same twice.
    assert predict(tiny_run, 0, 0)[0] == predict(tiny_run, 0, 0)[0]
    assert predict(tiny_run, 0, np.arange(7)).shape == (7,)
    with pytest.raises(AnalysisError):
        predict(tiny_run, tiny_run.dataset.n_users, 0)


def test_user_ratings_and_rmse(tiny_run):
    ds = tiny_run.dataset
    user_id = int(ds.index_to_user[3])
    frame = user_ratings(tiny_run, user_id)
    assert list(frame.columns) == ["movieId", "title", "genres", "rating", "predicted", "error", "split"]
    mine = ds.ratings[ds.ratings["userId"] == user_id]
    assert len(frame) == len(mine) and set(frame["movieId"]) == set(mine["movieId"])
    expected = model_predict(tiny_run, [3] * len(frame), [ds.movie_to_index[m] for m in frame["movieId"]])
    np.testing.assert_allclose(frame["predicted"], expected, atol=1e-5)
    np.testing.assert_allclose(frame["error"], frame["predicted"] - frame["rating"])
    val_rows = set(tiny_run.split.val_rows.tolist())
    val_movies = {int(ds.ratings["movieId"].iloc[r]) for r in mine.index if r in val_rows}
    assert set(frame.loc[frame["split"] == "validation", "movieId"]) == val_movies
    assert user_rmse(frame) == pytest.approx(np.sqrt(np.mean(frame["error"] ** 2)))
    assert math.isnan(user_rmse(frame.iloc[:0]))
    with pytest.raises(AnalysisError, match="unknown userId 2"):
        user_ratings(tiny_run, 2)  # synthetic ids are 1, 4, 7, ...


def test_recommend_ranks_unseen_movies_by_prediction(tiny_run):
    ds = tiny_run.dataset
    user_id = int(ds.index_to_user[0])
    top = recommend(tiny_run, user_id, top=5)
    assert list(top.columns) == ["movieId", "title", "genres", "predicted", "num_ratings", "rating"]
    seen = set(ds.ratings.loc[ds.ratings["userId"] == user_id, "movieId"])
    assert len(top) == 5 and not seen & set(top["movieId"])
    all_pred = model_predict(tiny_run, np.zeros(ds.n_movies, int), np.arange(ds.n_movies))
    unseen = [j for j in range(ds.n_movies) if int(ds.index_to_movie[j]) not in seen]
    best = sorted(unseen, key=lambda j: -all_pred[j])[:5]
    assert top["movieId"].tolist() == [int(ds.index_to_movie[j]) for j in best]
    np.testing.assert_allclose(top["predicted"], all_pred[best], atol=1e-5)
    limit = int(np.median(ds.movies["num_ratings"]))
    assert (recommend(tiny_run, user_id, top=40, min_ratings=limit)["num_ratings"] > limit).all()
    with pytest.raises(AnalysisError):
        recommend(tiny_run, -5)


# ---------------------------------------------------------------------------
# Fold-in
# ---------------------------------------------------------------------------


def cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("name", ["simple_dot", "simple_embedding"])
def test_fold_in_recovers_a_planted_vector_dot_models(name):
    rng = np.random.default_rng(11)
    movie = rng.normal(0, 1, (30, 4))
    run = make_run(name, movie)
    planted = np.array([0.8, -0.5, 0.3, 0.6])
    chosen = rng.choice(30, 12, replace=False)
    ids = run.dataset.index_to_movie
    ratings = {int(ids[j]): float(movie[j] @ planted) for j in chosen}
    before = [run.embeddings.user.copy(), run.embeddings.movie.copy()]
    fold = fold_in(run, ratings)
    assert cosine(fold.vector, planted) > 0.99
    assert np.linalg.norm(fold.vector) == pytest.approx(np.linalg.norm(planted), rel=0.05)
    assert fold.bias == 0.0 and fold.movies_used == list(ratings)
    for old, new in zip(before, [run.embeddings.user, run.embeddings.movie], strict=True):
        np.testing.assert_array_equal(old, new)  # no retraining


@pytest.mark.parametrize("offset", [None, 0.4])
def test_fold_in_recovers_a_planted_vector_bias_model(offset):
    rng = np.random.default_rng(12)
    movie = rng.normal(0, 0.7, (30, 4))
    movie_bias = rng.normal(0, 0.4, 30)
    run = make_run("dot_with_bias", movie, movie_bias=movie_bias, global_offset=offset)
    planted, planted_bias = np.array([0.9, -0.6, 0.4, 0.7]), 0.3
    chosen = rng.choice(30, 15, replace=False)
    logit = movie[chosen] @ planted + planted_bias + movie_bias[chosen] + (offset or 0.0)
    values = 0.5 + 4.5 / (1 + np.exp(-logit))
    ids = run.dataset.index_to_movie
    fold = fold_in(run, {int(ids[j]): float(v) for j, v in zip(chosen, values, strict=True)}, reg=0.01)
    assert cosine(fold.vector, planted) > 0.98
    assert np.linalg.norm(fold.vector) == pytest.approx(np.linalg.norm(planted), rel=0.1)
    assert fold.bias == pytest.approx(planted_bias, abs=0.1)


def test_fold_in_with_star_ratings_fits_them_in_rating_space():
    # Half-star ratings including 5.0 and 0.5: the logit start clips those, Gauss-Newton fixes the fit.
    rng = np.random.default_rng(13)
    movie = rng.normal(0, 1.0, (30, 3))
    run = make_run("dot_with_bias", movie, movie_bias=np.zeros(30))
    planted = np.array([3.0, -2.0, 1.6])
    logit = movie @ planted
    stars = np.clip(np.round((0.5 + 4.5 / (1 + np.exp(-logit))) * 2) / 2, 0.5, 5.0)
    assert stars[:20].max() == 5.0 and stars[:20].min() == 0.5
    ids = run.dataset.index_to_movie
    fold = fold_in(run, {int(ids[j]): float(stars[j]) for j in range(20)}, reg=0.01)
    assert cosine(fold.vector, planted) > 0.99
    fitted = recommend_for_vector(run, fold, top=30)
    fitted = fitted.set_index("movieId").loc[[int(i) for i in ids[:20]], "predicted"].to_numpy()
    # The logit-space ridge start alone fits these at RMSE 0.40 (cosine 0.97); the refined fit is far closer.
    assert np.sqrt(np.mean((fitted - stars[:20]) ** 2)) < 0.2


def test_fold_in_errors():
    run = make_run("dot_with_bias", np.ones((4, 2)))
    with pytest.raises(AnalysisError, match="at least one"):
        fold_in(run, {})
    with pytest.raises(AnalysisError, match="unknown movieId 5"):
        fold_in(run, {5: 4.0})
    with pytest.raises(AnalysisError, match="finite"):
        fold_in(run, {int(run.dataset.index_to_movie[0]): float("nan")})
    with pytest.raises(AnalysisError, match="reg"):
        fold_in(run, {int(run.dataset.index_to_movie[0]): 4.0}, reg=-1)


@pytest.mark.parametrize("name", ["simple_dot", "dot_with_bias"])
def test_recommend_for_vector_matches_the_model(name):
    rng = np.random.default_rng(14)
    movie = rng.normal(0, 1, (12, 3))
    run = make_run(name, movie, global_offset=0.2 if name == "dot_with_bias" else None)
    ids = [int(i) for i in run.dataset.index_to_movie]
    fold = fold_in(run, {ids[0]: 4.5, ids[1]: 1.0, ids[2]: 3.0})
    top = recommend_for_vector(run, fold, top=5, exclude=ids[:3])
    assert list(top.columns) == ["movieId", "title", "genres", "predicted", "num_ratings", "rating"]
    assert not set(ids[:3]) & set(top["movieId"])
    # Put the folded-in user into the model as user 0: the model must predict the same ratings.
    run.model.user_embedding.embeddings.assign(np.tile(fold.vector, (run.dataset.n_users, 1)).astype(np.float32))
    if name == "dot_with_bias":
        run.model.user_bias.embeddings.assign(np.full((run.dataset.n_users, 1), fold.bias, np.float32))
    expected = model_predict(run, np.zeros(12, int), np.arange(12))
    order = [j for j in np.argsort(-expected) if j >= 3][:5]
    assert top["movieId"].tolist() == [ids[j] for j in order]
    np.testing.assert_allclose(top["predicted"], expected[order], atol=1e-4)


@pytest.mark.parametrize("centered", [False, True])
def test_project_vector_places_a_movie_vector_on_its_own_scores(centered):
    rng = np.random.default_rng(15)
    movie = rng.normal(0, 1, (10, 4))
    run = make_run("simple_dot", movie)
    _, frame = movie_pca_frame(run, centered=centered)
    fold = FoldIn(movie[6].copy(), 0.0, [])
    position = project_vector(run, fold, centered=centered)
    assert position == pytest.approx((frame["PC1"].iloc[6], frame["PC2"].iloc[6]), abs=1e-5)


# ---------------------------------------------------------------------------
# Explaining a prediction
# ---------------------------------------------------------------------------


def test_explain_prediction_parts_add_up_to_the_model(tiny_run):
    ds = tiny_run.dataset
    for u, m in [(0, 0), (5, 17), (30, 39)]:
        user_id, movie_id = int(ds.index_to_user[u]), int(ds.index_to_movie[m])
        exp = explain_prediction(tiny_run, user_id, movie_id)
        parts = exp.parts()
        assert list(parts.columns) == ["part", "value"]
        assert parts["part"].tolist()[:3] == ["global offset", "user bias", "movie bias"]
        assert len(parts) == 3 + tiny_run.config.embedding_dim
        assert parts["value"].sum() == pytest.approx(exp.logit, abs=1e-9)
        assert exp.sigmoid == pytest.approx(1 / (1 + math.exp(-exp.logit)))
        assert exp.prediction == pytest.approx(exp.min_rating + (exp.max_rating - exp.min_rating) * exp.sigmoid)
        assert exp.prediction == pytest.approx(float(model_predict(tiny_run, [u], [m])[0]), abs=1e-4)
        assert exp.title == ds.movies["title"].iloc[m]


def test_explain_prediction_with_global_offset_and_known_parts():
    movie = np.array([[1.0, 2.0], [0.5, -1.0]])
    user = np.tile([0.3, -0.2], (6, 1))
    run = make_run("dot_with_bias", movie, user=user, user_bias=np.full(6, 0.1), movie_bias=np.array([-0.4, 0.2]),
                   global_offset=0.25)
    ids = run.dataset
    exp = explain_prediction(run, int(ids.index_to_user[2]), int(ids.index_to_movie[0]))
    np.testing.assert_allclose(exp.contributions, [0.3, -0.4], atol=1e-6)
    assert exp.logit == pytest.approx(0.25 + 0.1 - 0.4 + 0.3 - 0.4, abs=1e-6)
    assert exp.prediction == pytest.approx(float(model_predict(run, [2], [0])[0]), abs=1e-4)
    assert exp.actual is not None


def test_explain_prediction_needs_the_bias_model():
    run = make_run("simple_dot", np.ones((3, 2)))
    with pytest.raises(AnalysisError, match="needs a model with biases"):
        explain_prediction(run, int(run.dataset.index_to_user[0]), int(run.dataset.index_to_movie[0]))


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------


def test_embeddings_frame_and_projector_files(tmp_path):
    rng = np.random.default_rng(16)
    movie = rng.normal(size=(4, 3))
    titles = ["Plain (1999)", "Tab\tinside (2000)", "Comma, The (2001)", 'Quote "Q" (2002)']
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings

    ratings = pd.DataFrame({"userId": [1, 1, 2, 2], "movieId": [1, 2, 3, 4], "rating": [1.0, 2.0, 3.0, 5.0]})
    movies = pd.DataFrame({"movieId": [1, 2, 3, 4], "title": titles, "genres": ["A", "B", "C", "D|E"]})
    run = make_run("simple_dot", movie, n_users=6)
    run.dataset = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)))
    frame = embeddings_frame(run)
    assert list(frame.columns) == ["movieId", "title", "dim_1", "dim_2", "dim_3"]
    paths = write_projector_files(run, tmp_path / "out")
    assert [p.name for p in paths] == ["movie_embeddings.csv", "vectors.tsv", "metadata.tsv"]
    back = pd.read_csv(paths[0])
    assert back["title"].tolist() == titles
    np.testing.assert_allclose(back[["dim_1", "dim_2", "dim_3"]], movie, rtol=1e-6)
    vectors = np.loadtxt(paths[1], delimiter="\t")
    np.testing.assert_allclose(vectors, movie, rtol=1e-6)
    lines = paths[2].read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:3] == ["title", "genres", "movieId"]
    assert len(lines) == 1 + len(movie)
    assert all(len(line.split("\t")) == 5 for line in lines)
    assert lines[2].startswith("Tab inside (2000)\tB\t2\t")
    (tmp_path / "file").write_text("x")
    with pytest.raises(AnalysisError):
        write_projector_files(run, tmp_path / "file")


# ---------------------------------------------------------------------------
# Real data (slow, still in CI)
# ---------------------------------------------------------------------------


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


def test_most_rated_takes_only_the_rows_a_mask_marks():
    movies = pd.DataFrame({"movieId": [1, 2, 3, 4, 5], "num_ratings": [9, 1, 7, 7, 3]})
    mask = np.array([False, True, True, True, True])
    assert most_rated(movies, 2, where=mask)["movieId"].tolist() == [3, 4]  # not 1: the mask leaves it out
    assert most_rated(movies, 10, where=mask)["movieId"].tolist() == [2, 3, 4, 5]
    assert most_rated(movies, 10) is movies


def test_pca_asked_for_fewer_scores_computes_the_first_ones_only():
    x = np.random.default_rng(5).normal(size=(40, 5)) @ np.diag([4, 3, 2, 1, 0.5])
    full, two = pca(x), pca(x, n_scores=2)
    assert two.scores.shape == (40, 2)
    np.testing.assert_allclose(two.scores, full.scores[:, :2], atol=1e-12)
    np.testing.assert_allclose(two.components, full.components)
    np.testing.assert_allclose(two.explained, full.explained)
