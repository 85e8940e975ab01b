"""cfcore.analysis.fold_in: a new user's vector from their ratings (planted vectors recovered),
recommendations for it, and its place on the PCA map."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.fold_in import FoldIn, fold_in, project_vector, recommend_for_vector
from cfcore.analysis.pca import movie_pca_frame
from cfcore.analysis.predict import predict, recommend, user_ratings
from cfcore.config import factor_config
from cfcore.data.split import split_dataset
from cfcore.training.fit import train
from tests.support.runs import make_run, model_predict


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


def test_svd_fold_in_recovers_a_known_user(synthetic_dataset):
    split = split_dataset(synthetic_dataset, 0.2, 2)
    run = train(synthetic_dataset, factor_config("svd", 2, 2), split=split)
    user = int(synthetic_dataset.index_to_user[3])
    rated = user_ratings(run, user)
    fold = fold_in(run, dict(zip(rated["movieId"], rated["predicted"], strict=True)), reg=1e-6)
    again = recommend_for_vector(run, fold, top=synthetic_dataset.n_movies)
    mine = recommend(run, user, top=synthetic_dataset.n_movies)
    merged = mine.merge(again, on="movieId", suffixes=("", "_fold"))
    assert np.allclose(merged["predicted"], merged["predicted_fold"], atol=1e-3)


def test_fold_in_uses_the_new_persons_rated_set(svdpp_run):
    dataset = svdpp_run.dataset
    ratings = dataset.ratings.iloc[svdpp_run.split.train_rows]
    user_index = int(ratings["user"].value_counts().index[0])
    mine = ratings[ratings["user"] == user_index]
    predicted = predict(svdpp_run, user_index, mine["movie"].to_numpy())
    fold = fold_in(svdpp_run, dict(zip(mine["movieId"].astype(int), predicted, strict=True)), reg=1e-9)
    # Rated exactly what the user rated in training, with the model's own predictions: the same person.
    assert np.allclose(fold.vector, svdpp_run.embeddings.user[user_index], atol=2e-3)
