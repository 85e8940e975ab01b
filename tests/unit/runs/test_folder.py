"""cfcore.runfiles: every file of a run folder is checked against its schema before anything uses it (issue 19)."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile

import numpy as np
import pytest

from cfcore import constants as C
from cfcore.runs.errors import RunError
from cfcore.runs.folder import read_run_files


@pytest.fixture
def run_dir(tiny_run_dir, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run_dir, folder)
    return folder


def _edit_json(path, **changes) -> None:
    values = json.loads(path.read_text())
    values.update(changes)
    path.write_text(json.dumps(values))


def _refused(folder, match: str) -> str:
    with pytest.raises(RunError, match=match) as info:
        read_run_files(folder)
    return str(info.value)


def test_a_saved_run_reads_back_with_counts_from_its_ratings(run_dir, tiny_run):
    files = read_run_files(run_dir)
    assert files.config == tiny_run.config and len(files.history) == len(tiny_run.result.history)
    assert [row["val_rmse"] for row in files.history] == [row["val_rmse"] for row in tiny_run.result.history]
    np.testing.assert_array_equal(files.movies["num_ratings"], tiny_run.dataset.movies["num_ratings"])
    np.testing.assert_allclose(files.movies["mean_rating"], tiny_run.dataset.movies["mean_rating"], rtol=1e-6)


@pytest.mark.parametrize("history, match", [
    ([], "history must be a list with one entry per epoch run"),
    ("garbage", "history must be a list"),
    ([{"epoch": 1, "val_rmse": "low"}], "history entry 1: val_rmse must be a number"),
    ([{"epoch": 2, "val_rmse": 1.0}], "history entry 1: epoch must be 1"),
    ([7], "history entry 1 is not an object"),
])
def test_a_garbage_history_is_refused(run_dir, history, match):
    _edit_json(run_dir / "result.json", history=history)
    _refused(run_dir, match)


@pytest.mark.parametrize("changes, match", [
    ({"model": "foo"}, "config.json: unknown model 'foo'"),
    ({"epochs": 10**9}, "config.json: epochs must be between 1 and 100"),
    ({"batch_size": "32"}, "config.json: batch_size must be a number"),
])
def test_a_bad_config_is_refused(run_dir, changes, match):
    _edit_json(run_dir / "config.json", **changes)
    _refused(run_dir, match)


def test_a_movies_file_without_titles_is_refused(run_dir):
    """Such a file crashed Embeddings and Recommend with KeyError: 'title'."""
    import pandas as pd

    movies = pd.read_csv(run_dir / "movies.csv")
    movies.drop(columns=["title"]).to_csv(run_dir / "movies.csv", index=False)
    _refused(run_dir, "movies.csv: the header must be index,movieId,title,genres,num_ratings,mean_rating")
    movies.assign(title="").to_csv(run_dir / "movies.csv", index=False)
    _refused(run_dir, "movies.csv: line 2: the title is empty")


def test_ratings_over_the_upload_limit_are_refused_from_the_header(run_dir):
    """A run zip carried 5,000,000 ratings past the 2,000,000 upload limit."""
    n = C.UPLOAD_MAX_RATING_ROWS + 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, dtype in (("user", np.int32), ("movie", np.int32), ("rating", np.float32), ("val_rows", np.int64)):
            with archive.open(f"{key}.npy", "w") as out:
                np.lib.format.write_array(out, np.zeros(n if key != "val_rows" else 10, dtype=dtype))
    (run_dir / "ratings.npz").write_bytes(buffer.getvalue())
    _refused(run_dir, "user.npy declares 2,000,001 ratings, over the limit of 2,000,000")


def _model_with(run_dir, **sizes) -> None:
    path = run_dir / "model.keras"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"].update(sizes)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_a_model_declaring_millions_of_users_is_refused_before_keras(run_dir):
    _model_with(run_dir, n_users=40_000_000)
    started = time.perf_counter()
    _refused(run_dir, "model.keras: declares n_users=40000000, but the run has 60")
    assert time.perf_counter() - started < 2.0


def test_a_model_of_another_size_than_its_config_is_refused(run_dir):
    _model_with(run_dir, embedding_dim=256)
    _refused(run_dir, "model.keras: declares embedding_dim=256, but the run has 8")


def test_a_weights_file_bigger_than_the_weights_is_refused(run_dir):
    path = run_dir / "model.keras"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.weights.h5"] += bytes(2 * 1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    _refused(run_dir, "its weights file is .* bytes, more than 900 weights need")


def test_a_truncated_file_names_itself(run_dir):
    raw = (run_dir / "ratings.npz").read_bytes()
    (run_dir / "ratings.npz").write_bytes(raw[: len(raw) // 2])
    _refused(run_dir, "ratings.npz")
    (run_dir / "ratings.npz").write_bytes(raw)
    (run_dir / "result.json").write_text('{"history": [')
    _refused(run_dir, "result.json: not valid JSON")
