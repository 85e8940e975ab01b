"""cfcore.analysis.predict: predictions equal the model's, a user's ratings and RMSE, recommendations of
unseen movies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.fold_in import fold_in
from cfcore.analysis.predict import predict, recommend, user_ratings, user_rmse
from cfcore.config import factor_config
from cfcore.training.fit import train
from tests.support.runs import model_predict


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


def test_implicit_runs_refuse_rating_questions(synthetic_dataset):
    run = train(synthetic_dataset, factor_config("implicit", 4, 2, epochs=1))
    user = int(synthetic_dataset.index_to_user[0])
    with pytest.raises(AnalysisError, match="predicts only that"):
        recommend(run, user)
    with pytest.raises(AnalysisError, match="predicts only that"):
        fold_in(run, {int(synthetic_dataset.index_to_movie[0]): 4.0})
