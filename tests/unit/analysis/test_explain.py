"""cfcore.analysis.explain: a prediction taken apart into an offset, biases and per-dimension products
that add up to the model's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.explain import explain_prediction
from tests.support.runs import make_run, model_predict


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
