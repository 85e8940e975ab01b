"""Checking a Keras weights file (HDF5) from outside before anything reads it: the trainer's side only.

The web server never opens HDF5 (it reads a run's ``embeddings.npz``); this is for
:func:`cfcore.training.build.load_model` and the CLI's ``upgrade-run``, where Keras does.
"""

from __future__ import annotations

import io


class UnsafeWeightsError(ValueError):
    """A weights file (HDF5) reaches outside itself or holds more than plain tables; the message says what."""


# Filters HDF5 itself carries; any other would load a plugin named by the file.
_BUILTIN_FILTERS = {1, 2, 3}  # deflate, shuffle, fletcher32
_MAX_H5_OBJECTS = 10_000


def check_weights_file(data: bytes) -> None:
    """Refuse an HDF5 weights file that could make a reader open anything but its own bytes.

    HDF5 lets a dataset keep its data in an *external file* named inside it, a link point into another file, and
    a *virtual dataset* map other files' datasets; h5py (and so Keras) follows each. A weights file from outside
    must hold every dataset's bytes within itself: no external storage, external or soft links, virtual
    datasets, plugin filters or non-numeric types, and every contiguous block and chunk inside the file's size.

    Raises:
        UnsafeWeightsError: naming the object and what is wrong with it.
    """
    import h5py

    size = len(data)
    problems: list[str] = []
    links = 0

    def visit_link(name: str, link) -> None:
        nonlocal links
        links += 1
        if links > _MAX_H5_OBJECTS:
            raise UnsafeWeightsError(f"the weights file holds over {_MAX_H5_OBJECTS:,} objects")
        if isinstance(link, h5py.ExternalLink):
            problems.append(f"{name[:80]!r} is a link to another file")
        elif isinstance(link, h5py.SoftLink):
            problems.append(f"{name[:80]!r} is a soft link")

    def visit(name: str, item) -> None:
        if not isinstance(item, h5py.Dataset):
            return
        where = repr(name[:80])
        plist = item.id.get_create_plist()
        layout = plist.get_layout()
        if item.is_virtual or layout == h5py.h5d.VIRTUAL:
            problems.append(f"{where} is a virtual dataset")
            return
        if item.external:
            problems.append(f"{where} keeps its data in another file")
            return
        if item.dtype.kind not in "biuf":
            problems.append(f"{where} holds {item.dtype}, not numbers")
        filters = {plist.get_filter(k)[0] for k in range(plist.get_nfilters())}
        if filters - _BUILTIN_FILTERS:
            problems.append(f"{where} needs a filter plugin")
        if layout == h5py.h5d.CONTIGUOUS:
            offset = item.id.get_offset()
            if offset is not None and offset + item.id.get_storage_size() > size:
                problems.append(f"{where} keeps its data past the end of the file")
        elif layout == h5py.h5d.CHUNKED:
            for k in range(min(item.id.get_num_chunks(), _MAX_H5_OBJECTS)):
                chunk = item.id.get_chunk_info(k)
                if chunk.byte_offset is None or chunk.byte_offset + chunk.size > size:
                    problems.append(f"{where} keeps a chunk past the end of the file")
                    break

    try:
        with h5py.File(io.BytesIO(data), "r") as h5:
            h5.visititems_links(visit_link)
            if not problems:  # visititems would follow the links
                h5.visititems(visit)
    except UnsafeWeightsError:
        raise
    except Exception as err:  # noqa: BLE001 - a hostile file can make HDF5 raise nearly anything
        raise UnsafeWeightsError(f"the weights file is not readable HDF5 ({type(err).__name__})") from None
    if problems:
        raise UnsafeWeightsError(f"the weights file reaches outside itself or is not plain tables: {problems[0]}; "
                                 "it was refused unread")
