"""Hostile files made in the real formats: Keras weights whose movie table lives outside the file."""

from __future__ import annotations

import io

import h5py
import numpy as np

# Where Keras keeps the bias model's movie table in model.weights.h5.
MOVIE_TABLE = "layers/embedding_1/vars/0"
KINDS = ("external storage", "external link", "virtual dataset")


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
