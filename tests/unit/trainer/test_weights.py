"""A run zip whose HDF5 weights reach outside the file: the server reads none of it, Keras-side readers refuse it.

HDF5 lets a dataset keep its bytes in an external file named inside the ``.h5``; h5py (and so Keras) follows the
name. Such a ``model.weights.h5`` once carried any file the server could read back to the visitor.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cfcore.runs.embeddings import EMBEDDINGS_FILE
from cfcore.runs.run import load_run
from cfcore.runs.zip import RUN_ZIP_FILES, RunZipError, export_run_zip, load_run_from_zip
from cfcore.trainer.weights import UnsafeWeightsError, check_weights_file
from cfcore.training.models import load_model
from tests.support.crafted import MOVIE_TABLE, weights_reaching_outside
from tests.support.paths import REPO

SECRET = b"SECRET-server-file-" * 100


@pytest.fixture
def secret_file(tmp_path) -> Path:
    path = tmp_path / "server-secret.txt"
    path.write_bytes(SECRET)
    return path


def _crafted_model(run_dir: Path, target: Path, kind: str = "external storage") -> bytes:
    with zipfile.ZipFile(run_dir / "model.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.weights.h5"] = weights_reaching_outside(members["model.weights.h5"], kind, str(target))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _run_zip(run_dir: Path, model: bytes, *, with_embeddings: bool) -> bytes:
    """A run zip of ``run_dir`` with ``model`` as its model.keras, with or without its embeddings.npz."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in RUN_ZIP_FILES:
            if name == EMBEDDINGS_FILE and not with_embeddings:
                continue
            archive.writestr(f"crafted/{name}", model if name == "model.keras" else (run_dir / name).read_bytes())
    return buffer.getvalue()


def test_the_crafted_file_really_reads_the_secret_through_h5py(tiny_run_dir, secret_file):
    """The attack works on a plain reader: what the checks below refuse is real."""
    model = _crafted_model(tiny_run_dir, secret_file)
    with zipfile.ZipFile(io.BytesIO(model)) as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        assert h5[MOVIE_TABLE][()].tobytes() == SECRET[: 40 * 8 * 4]


@pytest.mark.parametrize("kind", ["external storage", "external link", "virtual dataset"])
def test_weights_that_reach_outside_the_file_are_refused_before_reading(tiny_run_dir, tmp_path, secret_file, kind):
    target = secret_file
    if kind != "external storage":
        target = tmp_path / "other.h5"
        with h5py.File(target, "w") as other:
            other["table"] = np.frombuffer(SECRET[: 40 * 8 * 4], dtype=np.float32).reshape(40, 8)
    (tmp_path / "crafted.keras").write_bytes(_crafted_model(tiny_run_dir, target, kind))
    with pytest.raises(UnsafeWeightsError, match="reaches outside itself") as info:
        load_model(tmp_path / "crafted.keras")
    assert "SECRET" not in str(info.value)


def test_a_genuine_weights_file_passes_the_check(tiny_run_dir):
    with zipfile.ZipFile(tiny_run_dir / "model.keras") as archive:
        check_weights_file(archive.read("model.weights.h5"))
    assert load_model(tiny_run_dir / "model.keras").count_params() > 0


def test_a_crafted_zip_of_an_older_version_is_refused_by_the_library(tiny_run_dir, tmp_path, secret_file):
    data = _run_zip(tiny_run_dir, _crafted_model(tiny_run_dir, secret_file), with_embeddings=False)
    with pytest.raises(RunZipError, match="older version.*upgrade-run") as info:
        load_run_from_zip(data, tmp_path / "kept")
    assert "SECRET" not in str(info.value) and not (tmp_path / "kept").exists()


def test_a_crafted_model_beside_real_arrays_is_never_opened(tiny_run_dir, tmp_path, secret_file):
    """The server reads embeddings.npz; the model file is only a download, its weights never opened."""
    data = _run_zip(tiny_run_dir, _crafted_model(tiny_run_dir, secret_file), with_embeddings=True)
    run = load_run_from_zip(data, tmp_path / "kept")
    original = load_run(tiny_run_dir)
    np.testing.assert_array_equal(run.embeddings.movie, original.embeddings.movie)
    assert SECRET[:16] not in run.embeddings.movie.tobytes()
    from cfcore.analysis.export import write_projector_files

    for path in write_projector_files(run, tmp_path / "export"):
        assert b"SECRET" not in Path(path).read_bytes()
    with pytest.raises(UnsafeWeightsError):
        load_model(tmp_path / "kept" / "model.keras")


def test_opening_a_run_zip_imports_no_hdf5_reader(tiny_run_dir):
    script = (
        "import sys\n"
        "from cfcore.runs.zip import load_run_from_zip, export_run_zip\n"
        f"run = load_run_from_zip(export_run_zip({str(tiny_run_dir)!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('h5py', 'keras', 'tensorflow')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "cfcore", *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.mark.slow
def test_the_cli_refuses_to_upgrade_a_crafted_zip_and_upgrades_a_real_one(tiny_run_dir, tmp_path, secret_file):
    crafted = tmp_path / "crafted.zip"
    crafted.write_bytes(_run_zip(tiny_run_dir, _crafted_model(tiny_run_dir, secret_file), with_embeddings=False))
    out = _cli("upgrade-run", str(crafted), "--out", str(tmp_path / "new.zip"), cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
    assert "keeps its data in another file" in out.stderr and "SECRET" not in out.stdout + out.stderr
    assert not (tmp_path / "new.zip").exists()

    older = tmp_path / "older.zip"
    model = (tiny_run_dir / "model.keras").read_bytes()
    older.write_bytes(_run_zip(tiny_run_dir, model, with_embeddings=False))
    out = _cli("upgrade-run", str(older), "--out", str(tmp_path / "new.zip"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    upgraded = load_run_from_zip((tmp_path / "new.zip").read_bytes())
    original = load_run(tiny_run_dir)
    for field in ("user", "movie", "user_bias", "movie_bias"):
        np.testing.assert_array_equal(getattr(upgraded.embeddings, field), getattr(original.embeddings, field))


def test_the_compare_page_refuses_the_crafted_zip_and_keeps_working(tiny_run_dir, secret_file):
    at = AppTest.from_file(str(REPO / "pages" / "compare.py"), default_timeout=60).run()
    crafted = _run_zip(tiny_run_dir, _crafted_model(tiny_run_dir, secret_file), with_embeddings=False)
    at.file_uploader(key="cmp_upload").set_value(("crafted.zip", crafted, "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert not at.exception
    assert at.error and "could not be loaded" in at.error[0].value and "older version" in at.error[0].value
    shown = " ".join(str(element.value) for element in (*at.markdown, *at.error, *at.caption, *at.info))
    assert "SECRET" not in shown
    at.file_uploader(key="cmp_upload").set_value(("tiny.zip", export_run_zip(tiny_run_dir), "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert not at.exception and not at.error
