"""cfcore.runs.run: a run as data, read from its folder without Keras, and folders that are not runs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cfcore.analysis.predict import predict
from cfcore.config import TrainConfig
from cfcore.runs.errors import RunError
from cfcore.runs.run import load_run


@pytest.mark.parametrize(("model", "global_bias"), [("simple_dot", False), ("dot_with_bias", False),
                                                   ("dot_with_bias", True), ("simple_embedding", False),
                                                   ("svdpp", False), ("svdpp", True)])
def test_arrays_read_from_the_folder_are_the_models(model, global_bias, synthetic_dataset, tmp_path):
    from cfcore.training.build import embeddings_of
    from cfcore.training.fit import train
    from cfcore.training.save import save_run

    config = TrainConfig(model=model, embedding_dim=4, epochs=1, batch_size=256, seed=3, global_bias=global_bias)
    trained = train(synthetic_dataset, config)
    loaded = load_run(save_run(trained, tmp_path / "run"))
    live = embeddings_of(trained.model)
    for key in ("user", "movie", "user_bias", "movie_bias", "user_implicit", "rated"):
        np.testing.assert_array_equal(getattr(loaded.embeddings, key), getattr(live, key))
    assert loaded.embeddings.global_offset == pytest.approx(live.global_offset)
    x = trained.split.x_val[:500]
    np.testing.assert_allclose(predict(loaded, x[:, 0], x[:, 1]),
                               trained.model.predict(x, verbose=0)[:, 0], rtol=0, atol=1e-5)


def test_load_run_missing_folder(tmp_path):
    with pytest.raises(RunError, match="run directory not found"):
        load_run(tmp_path / "nothing")


@pytest.mark.parametrize("missing", ["model.keras", "ratings.npz", "users.csv"])
def test_load_run_incomplete_folder(tiny_run_dir, tmp_path, missing):
    copy = shutil.copytree(tiny_run_dir, tmp_path / "copy")
    (copy / missing).unlink()
    with pytest.raises(RunError) as info:
        load_run(copy)
    assert "not a cfcore run directory" in str(info.value) and missing in str(info.value)


@pytest.mark.parametrize(
    "name, content",
    [("model.keras", b"not a zip"), ("config.json", b"{broken"), ("users.csv", b"index,userId\n0,1\n")],
)
def test_load_run_corrupt_files(tiny_run_dir, tmp_path, name, content):
    copy = shutil.copytree(tiny_run_dir, tmp_path / "copy")
    (copy / name).write_bytes(content)
    with pytest.raises(RunError) as info:
        load_run(copy)
    assert str(copy) in str(info.value)
