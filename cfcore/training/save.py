"""Writing a run folder from a trained run (the trainer's side: it needs the live Keras model), and giving an
older run folder the ``embeddings.npz`` the web server reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore.data.read import upload_limits
from cfcore.runs.embeddings import EMBEDDINGS_FILE, write_embeddings_file
from cfcore.runs.errors import RunError
from cfcore.runs.folder import read_run_files
from cfcore.runs.run import Run
from cfcore.training.build import embedding_arrays, load_model
from cfcore.training.weights import UnsafeWeightsError


def save_run(run: Run, directory: str | Path) -> Path:
    """Save model, learned arrays, config, history, id maps, data fingerprint and ratings to a folder (the
    trainer's side: it needs the run's live Keras model; :func:`cfcore.runs.run.load_run` reads the folder back
    without Keras, its arrays from ``embeddings.npz``).

    The ratings and split are saved too, so a run opens with no network and no
    dataset (a class demo); ``result.json`` holds the dataset fingerprint.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    run.model.save(out / "model.keras")
    write_embeddings_file(embedding_arrays(run.model), out)
    (out / "config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
    summary = run.result.summary()
    summary.update(
        {
            "history": run.result.history,
            "dataset": {**run.dataset.summary(), "fingerprint": run.dataset.fingerprint},
            "name": run.name,
        }
    )
    (out / "result.json").write_text(json.dumps(summary, indent=2))
    pd.DataFrame(run.result.history).to_csv(out / "history.csv", index=False)
    pd.DataFrame({"index": np.arange(run.dataset.n_users), "userId": run.dataset.index_to_user}).to_csv(
        out / "users.csv", index=False
    )
    movies = run.dataset.movies.copy()
    movies.insert(0, "index", np.arange(run.dataset.n_movies))
    movies.to_csv(out / "movies.csv", index=False)
    ratings = run.dataset.ratings
    np.savez_compressed(
        out / "ratings.npz",
        user=ratings["user"].to_numpy(),
        movie=ratings["movie"].to_numpy(),
        rating=ratings["rating"].to_numpy(),
        val_rows=run.split.val_rows,
    )
    return out


def upgrade_run(directory: str | Path) -> Path:
    """Give a run folder of an older version, whose learned arrays lie only in ``model.keras``, the
    ``embeddings.npz`` the web server reads. Every other file is checked first (the model's declared sizes
    included), the weights file is refused if it reaches outside itself
    (:func:`cfcore.training.weights.check_weights_file`), Keras opens the model in safe mode, and the folder is
    checked whole afterwards.

    Raises:
        RunError: for a run that is broken, unsafe or not a cfcore run; the folder then has no embeddings.npz.
    """
    folder = Path(directory)
    read_run_files(folder, upload_limits(), with_embeddings=False)
    try:
        model = load_model(folder / "model.keras")
        write_embeddings_file(embedding_arrays(model), folder)
        read_run_files(folder, upload_limits())
    except UnsafeWeightsError as err:
        raise RunError(f"model.keras: {err}") from None
    except RunError:
        (folder / EMBEDDINGS_FILE).unlink(missing_ok=True)
        raise
    except Exception as err:  # noqa: BLE001 - Keras can raise nearly anything on a hostile file
        (folder / EMBEDDINGS_FILE).unlink(missing_ok=True)
        raise RunError(f"model.keras: Keras could not open it ({type(err).__name__}: {str(err)[:120]})") from None
    return folder
