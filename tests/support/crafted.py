"""Hostile files made in the real formats: Keras weights whose movie table lives outside the file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import h5py
import numpy as np

from cfcore.runs.embeddings import EMBEDDINGS_FILE
from cfcore.runs.zip import RUN_ZIP_FILES

# Where Keras keeps the bias model's movie table in model.weights.h5.
MOVIE_TABLE = "layers/embedding_1/vars/0"
KINDS = ("external storage", "external link", "virtual dataset")
# What a server file holds, for a test to look for in what a crafted file gave back.
SECRET = b"SECRET-server-file-" * 100


def weights_reaching_outside(weights: bytes, kind: str, target: str, name: str = "table") -> bytes:
    """``weights`` (a ``model.weights.h5``) with the movie table's bytes in ``target``, one HDF5 way or another:
    the file's raw bytes (external storage), or dataset ``name`` of an HDF5 file (an external link, a virtual
    dataset)."""
    buffer = io.BytesIO(weights)
    with h5py.File(buffer, "r+") as h5:
        shape, dtype = h5[MOVIE_TABLE].shape, h5[MOVIE_TABLE].dtype
        del h5[MOVIE_TABLE]
        if kind == "external storage":
            h5.create_dataset(MOVIE_TABLE, shape, dtype, external=[(target, 0, int(np.prod(shape)) * dtype.itemsize)])
        elif kind == "external link":
            h5[MOVIE_TABLE] = h5py.ExternalLink(target, f"/{name}")
        elif kind == "virtual dataset":
            layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
            layout[:] = h5py.VirtualSource(target, name, shape=shape)
            h5.create_virtual_dataset(MOVIE_TABLE, layout)
        else:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}. Received: kind={kind!r}")
    return buffer.getvalue()


def crafted_model(run_dir: Path, target: Path, kind: str = "external storage") -> bytes:
    """The model.keras of ``run_dir`` with its weights file reaching ``target``, the HDF5 way ``kind`` names."""
    with zipfile.ZipFile(run_dir / "model.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.weights.h5"] = weights_reaching_outside(members["model.weights.h5"], kind, str(target))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def crafted_run_zip(run_dir: Path, model: bytes, *, with_embeddings: bool) -> bytes:
    """A run zip of ``run_dir`` with ``model`` as its model.keras, with or without its embeddings.npz."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in RUN_ZIP_FILES:
            if name == EMBEDDINGS_FILE and not with_embeddings:
                continue
            archive.writestr(f"crafted/{name}", model if name == "model.keras" else (run_dir / name).read_bytes())
    return buffer.getvalue()
