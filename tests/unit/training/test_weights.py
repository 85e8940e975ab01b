"""cfcore.training.weights: weights that reach outside their file are refused before they are read.

HDF5 lets a dataset keep its bytes in an external file named inside the ``.h5``; h5py (and so
Keras) follows the name. Such a ``model.weights.h5`` once carried any file the server could read
back to the visitor.
"""

from __future__ import annotations

import io
import zipfile

import h5py
import numpy as np
import pytest

from cfcore.training.build import load_model
from cfcore.training.weights import UnsafeWeightsError, check_weights_file
from tests.support.crafted import MOVIE_TABLE, SECRET, crafted_model


def test_the_crafted_file_really_reads_the_secret_through_h5py(tiny_run_dir, secret_file):
    """The attack works on a plain reader: what the checks below refuse is real."""
    model = crafted_model(tiny_run_dir, secret_file)
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
    (tmp_path / "crafted.keras").write_bytes(crafted_model(tiny_run_dir, target, kind))
    with pytest.raises(UnsafeWeightsError, match="reaches outside itself") as info:
        load_model(tmp_path / "crafted.keras")
    assert "SECRET" not in str(info.value)


def test_a_genuine_weights_file_passes_the_check(tiny_run_dir):
    with zipfile.ZipFile(tiny_run_dir / "model.keras") as archive:
        check_weights_file(archive.read("model.weights.h5"))
    assert load_model(tiny_run_dir / "model.keras").count_params() > 0
