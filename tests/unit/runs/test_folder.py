"""cfcore.runs.folder: every file of a run folder is checked against its schema before anything uses it."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile

import numpy as np
import pytest

from cfcore import constants as C
from cfcore.config import factor_config
from cfcore.runs.embeddings import EMBEDDINGS_FILE, write_embeddings_file
from cfcore.runs.errors import RunError
from cfcore.runs.folder import content_hash, read_run_files
from cfcore.training.fit import train
from cfcore.training.save import save_run
from tests.support.runs import rewrite_model_member


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


def _rewrite_embeddings(folder, change) -> None:
    """Rewrite the run's embeddings.npz with ``change(arrays)`` applied: what a hand-edited run zip would carry."""
    with np.load(folder / EMBEDDINGS_FILE, allow_pickle=False) as archive:
        arrays = {name: archive[name].copy() for name in archive.files}
    change(arrays)
    write_embeddings_file(arrays, folder)


def test_a_factor_run_whose_model_claims_another_link_is_refused(synthetic_dataset, tmp_path):
    run = train(synthetic_dataset, factor_config("svd", 4, 2))
    folder = save_run(run, tmp_path / "svd")

    def claim_sigmoid(data: bytes) -> bytes:
        declared = json.loads(data)
        declared["config"]["link"] = "sigmoid"
        return json.dumps(declared).encode()

    rewrite_model_member(folder, "config.json", claim_sigmoid)
    with pytest.raises(RunError, match="link 'sigmoid'; a svd run's is 'identity'"):
        read_run_files(folder)


def test_content_hash_names_the_same_files_the_same(tiny_run_dir, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_run_dir, tmp_path / "copy")
    assert content_hash(copy) == content_hash(tiny_run_dir)
    (copy / "history.csv").write_text((copy / "history.csv").read_text() + "\n")
    assert content_hash(copy) != content_hash(tiny_run_dir)


def test_a_run_whose_rated_sets_point_nowhere_is_refused(svdpp_run, tmp_path):
    from cfcore.runs.errors import RunError
    from cfcore.runs.folder import read_run_files

    folder = save_run(svdpp_run, tmp_path / "svdpp")

    def point_nowhere(arrays) -> None:
        arrays["user_movies"][0] = 10**6  # a rated movie that does not exist

    _rewrite_embeddings(folder, point_nowhere)
    with pytest.raises(RunError, match="rated sets do not fit"):
        read_run_files(folder)


def test_a_run_whose_rated_sets_are_not_its_training_ratings_is_refused(svdpp_run, tmp_path):
    from cfcore.runs.errors import RunError
    from cfcore.runs.folder import read_run_files

    folder = save_run(svdpp_run, tmp_path / "svdpp")
    held_out = svdpp_run.split.x_val[0]

    def smuggle(arrays) -> None:  # a user's first rated movie swapped for one they rated in validation
        start = int(arrays["user_splits"][int(held_out[0])])
        arrays["user_movies"][start] = int(held_out[1])

    _rewrite_embeddings(folder, smuggle)
    with pytest.raises(RunError, match="not the run's training ratings"):
        read_run_files(folder)
