"""A run's ``model.keras`` checked without Keras: its members, its declared class and sizes against the run's own,
and a weights file no bigger than those weights need. The server only size-checks it; it is a download.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from cfcore import constants as C
from cfcore.config import FACTOR_LINKS, FACTOR_METHODS, TrainConfig, model_parameters
from cfcore.runs.errors import RunError
from cfcore.safezip import ZIP_READ_ERRORS, UnsafeZipError, check_nested_zip

KERAS_MEMBERS = {"metadata.json", "config.json", "model.weights.h5"}


MODEL_CLASSES = {"simple_dot": "SimpleDot", "dot_with_bias": "DotWithBias", "simple_embedding": "SimpleEmbedding",
                 "svdpp": "SVDpp", **dict.fromkeys(FACTOR_METHODS, "FactorModel")}


# Room for the HDF5 file's own structure next to the weights themselves.
_H5_OVERHEAD_BYTES = 1024 * 1024


_NESTED_MAX_MEMBERS = 8


# A model's config.json and metadata.json are well under 1 KB; padding them is how a small zip filled a disk.
_KERAS_JSON_MAX_BYTES = 64 * 1024


def check_model_file(path: Path, config: TrainConfig, n_users: int, n_movies: int, n_train: int = 0) -> dict:
    """Check ``model.keras`` before Keras opens it: its members, its class, and sizes that fit the run.

    The model's declared users, movies and embedding size must be the run's own (users.csv, movies.csv,
    config.json), and its weights file no bigger than those weights need: an 18 KB zip declaring 40 million
    users took gigabytes before Keras refused it.

    Returns:
        The model's declared settings (its ``config`` object: sizes, rating range, ...).
    """
    where = "model.keras"
    limit = C.RUN_ZIP_MAX_FILE_BYTES["model.keras"]
    try:
        check_nested_zip(path, where, KERAS_MEMBERS, _NESTED_MAX_MEMBERS, limit)
        with zipfile.ZipFile(path) as archive:
            for small in ("config.json", "metadata.json"):
                size = archive.getinfo(small).file_size if small in archive.namelist() else 0
                if size > _KERAS_JSON_MAX_BYTES:
                    raise RunError(f"{where}: its {small} is {size:,} bytes; a model's is under 1 KB")
            info = archive.getinfo("config.json")
            declared = json.loads(archive.read(info).decode("utf-8"))
            weights = archive.getinfo("model.weights.h5").file_size
    except RunError:
        raise
    except UnsafeZipError as err:
        raise RunError(str(err)) from None
    except KeyError:
        raise RunError(f"{where}: missing config.json or model.weights.h5") from None
    except (*ZIP_READ_ERRORS, json.JSONDecodeError) as err:
        raise RunError(f"{where}: unreadable ({type(err).__name__})") from None
    expected = f"cfcore>{MODEL_CLASSES[config.model]}"
    sizes = declared.get("config") if isinstance(declared, dict) else None
    registered = declared.get("registered_name") if isinstance(declared, dict) else None
    if not isinstance(sizes, dict) or registered != expected:
        raise RunError(f"{where}: declares {str(registered)[:60]!r}, not the cfcore {config.model} model that "
                       "config.json names; it was refused unopened")
    wanted = {"n_users": n_users, "n_movies": n_movies, "embedding_dim": config.embedding_dim}
    if config.model == "svdpp":  # its rated sets hold each training rating once from each side
        wanted.update(n_user_links=n_train, n_movie_links=n_train)
    for key, value in wanted.items():
        if sizes.get(key) != value or isinstance(sizes.get(key), bool):
            raise RunError(f"{where}: declares {key}={str(sizes.get(key))[:20]}, but the run has {value:,}")
    if config.model in FACTOR_METHODS and (sizes.get("method") != config.model
                                           or sizes.get("link") != FACTOR_LINKS[config.model]):
        raise RunError(f"{where}: declares the method {str(sizes.get('method'))[:20]!r} with the link "
                       f"{str(sizes.get('link'))[:20]!r}; a {config.model} run's is {FACTOR_LINKS[config.model]!r}")
    parameters = model_parameters(n_users, n_movies, config.embedding_dim, config.model)
    if parameters > C.MAX_MODEL_PARAMETERS:
        raise RunError(f"{where}: {parameters:,} weights, over the limit of {C.MAX_MODEL_PARAMETERS:,}")
    # SVD++'s rated sets: int32 arrays of the training pairs and the row starts, once from each side.
    sets = 4 * (2 * n_train + n_users + n_movies + 2) if config.model == "svdpp" else 0
    # Float32 weights, and room for an optimizer's two slots per weight should a file carry them.
    if weights > 3 * parameters * 4 + sets + _H5_OVERHEAD_BYTES:
        raise RunError(f"{where}: its weights file is {weights:,} bytes, more than {parameters:,} weights need")
    return sizes
