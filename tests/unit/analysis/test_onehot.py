"""cfcore.analysis.onehot: one-hot vectors against embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.analysis.baselines import fit_biases
from cfcore.analysis.onehot import (
    CostJobs,
    MeasureError,
    check_measure,
    measure_bytes,
    onehot_linear,
    onehot_matrix,
)
from cfcore.constants import ONEHOT_MEASURE_MAX_BYTES
from cfcore.data.split import split_dataset
from tests.support.waiting import wait_for


def test_onehot_rows_pick_one_user_and_one_movie():
    matrix = onehot_matrix(np.array([[0, 2], [1, 0]]), 2, 3).toarray()
    assert matrix.tolist() == [[1, 0, 0, 0, 1], [0, 1, 1, 0, 0]]


def test_the_linear_onehot_model_is_the_bias_baseline(synthetic_dataset):
    split = split_dataset(synthetic_dataset, 0.2, 3)
    linear = onehot_linear(split, synthetic_dataset.n_users, synthetic_dataset.n_movies)
    assert linear.max_difference < 1e-4
    assert linear.val_rmse == pytest.approx(linear.bias_val_rmse, abs=1e-4)
    assert linear.columns == synthetic_dataset.n_users + synthetic_dataset.n_movies
    # Not a trivial agreement: the biases are far from 0.
    mu, user_bias, _ = fit_biases(split, synthetic_dataset.n_users, synthetic_dataset.n_movies)
    assert np.std(user_bias) > 0.05


@pytest.mark.slow
def test_cost_jobs_measure_in_a_child_process_and_remember(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a server started from another folder still finds ``-m cfcore.training.onehot_cost``
    jobs = CostJobs(timeout_s=120)
    job = jobs.request(20, 30, 400, dim=4, batch_size=8)
    assert jobs.request(21, 30, 400, dim=4, batch_size=8).state == "waiting"  # one at a time
    wait_for(lambda: job.finished, timeout=120, interval=0.2)
    assert job.state == "done", job.error
    assert job.result["max_difference"] < 1e-6 and job.result["one-hot"]["seconds_per_step"] > 0
    assert jobs.request(20, 30, 400, dim=4, batch_size=8) is job


def test_a_measurement_past_the_memory_budget_is_refused_before_a_child_starts():
    from cfcore.child import run_module

    # An upload inside the public limits: 1,000,000 ratings, 200,000 movies and as many users.
    assert measure_bytes(200_000, 200_000) > ONEHOT_MEASURE_MAX_BYTES
    budget = f"past the {ONEHOT_MEASURE_MAX_BYTES / 1e6:,.0f} MB"
    with pytest.raises(MeasureError, match=f"measuring 200,000 users and 200,000 movies would take about .* {budget}"):
        check_measure(200_000, 200_000)
    with pytest.raises(MeasureError, match=budget):
        CostJobs().request(200_000, 200_000, 1_000_000)
    ended = run_module("cfcore.training.onehot_cost", ["--users", "200000", "--movies", "200000", "--train", "1000000"],
                       timeout_s=60)
    assert ended.returncode == 2 and budget in ended.reason("the measurement")
    check_measure(610, 9742)  # ml-latest-small is measured
    check_measure(6040, 3706)  # and ml-1m
