"""A run as data: the arrays read from a run folder without Keras are the live model's, for every model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cfcore.analysis.predict import predict
from cfcore.config import TrainConfig
from cfcore.runs.folder import content_hash
from cfcore.runs.run import load_run


@pytest.mark.parametrize(("model", "global_bias"), [("simple_dot", False), ("dot_with_bias", False),
                                                   ("dot_with_bias", True), ("simple_embedding", False),
                                                   ("svdpp", False), ("svdpp", True)])
def test_arrays_read_from_the_folder_are_the_models(model, global_bias, synthetic_dataset, tmp_path):
    from cfcore.training.fit import train
    from cfcore.training.models import embeddings_of
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


def test_opening_and_analysing_a_run_imports_no_tensorflow(tiny_run_dir):
    script = (
        "import sys\n"
        "from cfcore.runs.run import load_run\n"
        "from cfcore import share\n"
        "from cfcore.analysis.pca import pc_rankings\n"
        "from cfcore.analysis.predict import predict\n"
        f"run = load_run({str(tiny_run_dir)!r})\n"
        "pc_rankings(run, min_ratings=0)\n"
        "predict(run, [0, 1], [2, 3])\n"
        "share.run_zip_bytes(run); share.model_bytes(run)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_content_hash_names_the_same_files_the_same(tiny_run_dir, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_run_dir, tmp_path / "copy")
    assert content_hash(copy) == content_hash(tiny_run_dir)
    (copy / "history.csv").write_text((copy / "history.csv").read_text() + "\n")
    assert content_hash(copy) != content_hash(tiny_run_dir)


def test_a_run_cache_shares_one_dataset_between_a_session_and_its_runs(tiny_run_dir):
    from cfcore.data.dataset_file import read_dataset_file, save_dataset_file
    from cfcore.runs.cache import RunCache

    cache = RunCache(idle_seconds=600)
    chosen = load_run(tiny_run_dir).dataset  # the session's choice, loaded on its own
    assert cache.share(chosen) is chosen
    run = cache.get(tiny_run_dir)
    assert run.dataset is chosen  # the run's own copy of the same data is let go
    # The same data read again, from the workspace's dataset file, is the object the cache has.
    again = read_dataset_file(save_dataset_file(chosen, tiny_run_dir.parent / "dataset.npz"))
    assert again is not chosen and cache.share(again) is chosen
