"""Sharing: settings as URL query parameters, and a run's files as bytes for downloads.

An instructor sends a link such as ``?model=dot_with_bias&embedding_dim=32&user=15``
and the app opens with the same setup. Query strings are untrusted input, so
decoding never raises: unknown keys are ignored, numbers out of range are
clamped into :data:`cfcore.config.BOUNDS`, and values that cannot be read are dropped.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cfcore import settings
from cfcore.config import (
    BATCH_SIZE_STOPS,
    BOUNDS,
    CONTROL_RANGES,
    DROPOUT_STEP,
    LEARNING_RATE_STOPS,
    MODEL_NAMES,
    TrainConfig,
)
from cfcore.text import spreadsheet_safe

if TYPE_CHECKING:
    from cfcore.runs.run import Run

USER_KEY = "user"
MOVIE_KEY = "movie"
# Session-state keys where the app keeps the ids of the link a session was opened with: page
# switches clear the URL, and the link usually lands on a page before any model exists.
SESSION_USER_KEY = "share_user"
SESSION_MOVIE_KEY = "share_movie"
LR_SCHEDULES = ("constant", "cosine")
# Longest query value we even try to parse; anything longer is noise or an attack.
MAX_VALUE_CHARS = 64
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Field types are strings here (config.py uses postponed annotations); accept real types too.
_FIELD_TYPES = {f.name: f.type if isinstance(f.type, str) else f.type.__name__ for f in fields(TrainConfig)}
CONFIG_KEYS = tuple(_FIELD_TYPES)


def _format_number(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    # repr gives the shortest string that reads back as the same float.
    return repr(float(value))


def config_to_params(config: TrainConfig) -> dict[str, str]:
    """Every training setting as a query-string value (booleans as "1"/"0").

    Args:
        config: The settings to share.

    Returns:
        ``{field name: text}``; :func:`params_to_config_overrides` reads it back.
    """
    params: dict[str, str] = {}
    for name in CONFIG_KEYS:
        value = getattr(config, name)
        params[name] = value if isinstance(value, str) else _format_number(value)
    return params


def _last(value: object) -> str | None:
    # st.query_params gives str; AppTest and parse_qs can give lists (last one wins).
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
        return None
    return value.strip()


def _parse_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _decode_field(name: str, text: str) -> object | None:
    kind = _FIELD_TYPES[name]
    if name == "model":
        return text if text in MODEL_NAMES else None
    if name == "lr_schedule":
        return text if text in LR_SCHEDULES else None
    if kind == "bool":
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    number = _parse_number(text)
    if number is None:
        return None
    if kind == "int":
        if number != int(number):
            return None
        number = int(number)
        if name == "steps_per_execution" and number == 0:
            return 0  # 0 means "choose automatically", outside BOUNDS on purpose.
    low, high = BOUNDS[name]
    clamped = min(max(number, low), high)
    return int(clamped) if kind == "int" else float(clamped)


def params_to_config_overrides(params: Mapping[str, object]) -> dict[str, object]:
    """Read training settings out of query parameters, safely.

    Args:
        params: A query-parameter mapping (``st.query_params`` or a dict of
            str or list-of-str values).

    Returns:
        ``{field name: value}`` for every key that names a :class:`TrainConfig`
        field and holds a readable value; numbers are clamped into bounds.
        ``TrainConfig(**overrides)`` then always validates.
    """
    overrides: dict[str, object] = {}
    for name in CONFIG_KEYS:
        if name not in params:
            continue
        text = _last(params[name])
        if text is None:
            continue
        value = _decode_field(name, text)
        if value is not None:
            overrides[name] = value
    return overrides


def config_link_notes(params: Mapping[str, object]) -> list[str]:
    """What a shared link's training settings lose on the way to the Train page's controls, one note per
    setting: unreadable values (the preset's stays) and numbers out of reach (the nearest one is used)."""
    overrides = params_to_config_overrides(params)
    fitted = {**overrides, **fit_to_controls(overrides)}
    notes: list[str] = []
    for name in CONFIG_KEYS:
        if name not in params:
            continue
        text = _last(params[name])
        if text is None:
            notes.append(f"{name} is too long to read: the preset's value is used")
            continue
        shown = text[:24]
        if name not in overrides:
            choices = {"model": MODEL_NAMES, "lr_schedule": LR_SCHEDULES}.get(name)
            notes.append(f"{name}={shown!r} is not " + (f"one of {', '.join(choices)}" if choices else "a valid value")
                         + ": the preset's value is used")
            continue
        value, number = fitted[name], _parse_number(text)
        if isinstance(value, bool) or not isinstance(value, int | float) or number is None:
            continue
        if not math.isclose(float(value), number, rel_tol=1e-9):
            notes.append(f"{name}={shown} is not on the page's controls: the nearest, {value:g}, is used")
    return notes


def read_id(params: Mapping[str, object], key: str) -> int | None:
    """A positive whole-number id (``user`` or ``movie``) from query parameters, or None."""
    if key not in params:
        return None
    text = _last(params[key])
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


def nearest_option(value: float, options: Sequence[float]) -> float:
    """The option closest to ``value`` (on a log scale when all are positive), for discrete sliders."""
    if not options:
        raise ValueError("nearest_option needs at least one option")
    if value > 0 and all(option > 0 for option in options):
        return min(options, key=lambda option: abs(math.log(option) - math.log(value)))
    return min(options, key=lambda option: abs(option - value))


def fit_to_controls(values: Mapping[str, object]) -> dict[str, object]:
    """Settings (from a shared link) moved onto the Train page's controls.

    Batch size and learning rate go to the nearest slider stop (on a log scale),
    other numbers are clamped into ``CONTROL_RANGES`` (dropouts rounded to the
    slider's step); keys without a control are left out.
    """
    per_unit = round(1 / DROPOUT_STEP)  # 0.3, not 0.30000000000000004: slider values must match exactly
    fitted: dict[str, object] = {}
    for name, value in values.items():
        if name == "batch_size":
            fitted[name] = int(nearest_option(float(value), BATCH_SIZE_STOPS))
        elif name == "learning_rate":
            fitted[name] = nearest_option(float(value), LEARNING_RATE_STOPS)
        elif name in CONTROL_RANGES:
            low, high = CONTROL_RANGES[name]
            clamped = min(max(value, low), high)
            if isinstance(low, float):
                fitted[name] = round(clamped * per_unit) / per_unit
            else:
                fitted[name] = int(clamped)
    return fitted


def drop_param(params: MutableMapping[str, object], key: str) -> None:
    """Remove ``key`` from a query-parameter mapping if present (``st.query_params`` included)."""
    if key in params:
        del params[key]


# The Embeddings page's map view in a link (parameter -> the page's widget key), with what each may hold.
VIEW_PARAMS = {"proj": "emb_projection", "perp": "emb_perplexity", "tseed": "emb_tsne_seed", "colour": "emb_colour",
               "minr": "emb_min_ratings"}
MIN_RATINGS_RANGE = (0, 1000)


def params_to_view(params: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """The map view a link asks for, as widget values, and a note for each parameter that had to be changed or
    dropped (an unknown projection, a perplexity out of range...). ``colour`` is checked by the page, which
    knows the run's genres."""
    from cfcore.analysis.projection import PERPLEXITY_RANGE, PROJECTIONS

    view: dict[str, object] = {}
    notes: list[str] = []
    ranges = {"perp": PERPLEXITY_RANGE, "tseed": (0, 2**31 - 1), "minr": MIN_RATINGS_RANGE}
    for name, key in VIEW_PARAMS.items():
        raw = params.get(name)
        if raw is None:
            continue
        text = str(raw).strip()[:MAX_VALUE_CHARS]
        if name == "proj":
            if text in PROJECTIONS:
                view[key] = text
            else:
                notes.append(f"{name}={text!r} is not a projection ({', '.join(PROJECTIONS)}): PCA is shown")
        elif name == "colour":
            view[key] = text
        else:
            low, high = ranges[name]
            try:
                value = int(float(text))
            except (ValueError, OverflowError):  # "abc", or "1e400" / "inf"
                notes.append(f"{name}={text!r} is not a number: left at its default")
                continue
            fitted = min(max(value, low), high)
            if fitted != value:
                notes.append(f"{name}={value} is outside {low} to {high}: {fitted} is used")
            view[key] = fitted
    return view, notes


def view_to_params(values: Mapping[str, object]) -> dict[str, str]:
    """The link parameters of a map view given as widget values (keys of :data:`VIEW_PARAMS`' values)."""
    return {name: str(values[key]) for name, key in VIEW_PARAMS.items() if values.get(key) is not None}


def selection_to_params(user_id: int | None = None, movie_id: int | None = None) -> dict[str, str]:
    """The ``user``/``movie`` query parameters for a selection (None values left out)."""
    params: dict[str, str] = {}
    if user_id is not None:
        params[USER_KEY] = str(int(user_id))
    if movie_id is not None:
        params[MOVIE_KEY] = str(int(movie_id))
    return params


# ---------------------------------------------------------------------------
# Downloads: a run's files as bytes, for the app's download buttons
# ---------------------------------------------------------------------------


def embeddings_csv_bytes(run: Run) -> bytes:
    """The movie embeddings table (movieId, title, dim_1..dim_d) as CSV; titles a spreadsheet would run as
    formulas start with a single quote."""
    from cfcore.analysis.export import embeddings_frame

    return spreadsheet_safe(embeddings_frame(run)).to_csv(index=False, float_format="%.7g").encode("utf-8")


def map_csv_bytes(placed: pd.DataFrame) -> bytes:
    """A movie map as CSV: movieId, title, genres, mean_rating, num_ratings, x, y (``placed`` as
    ``cfcore.analysis.projection.movie_map`` gives it); text a spreadsheet would run as a formula starts with a
    quote."""
    table = placed[["movieId", "title", "genres", "rating", "num_ratings", "x", "y"]]
    return table_csv_bytes(table.rename(columns={"rating": "mean_rating"}))


def table_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Any table the page shows (neighbours, a map) as CSV, formula cells neutralised."""
    return spreadsheet_safe(frame).to_csv(index=False).encode("utf-8")


def projector_bytes(run: Run) -> tuple[bytes, bytes]:
    """The Embedding Projector's pair: ``(vectors.tsv, metadata.tsv)`` contents."""
    from cfcore.analysis.export import write_projector_files

    with tempfile.TemporaryDirectory(prefix="cfcore-projector-") as folder:
        write_projector_files(run, folder)
        return (Path(folder) / "vectors.tsv").read_bytes(), (Path(folder) / "metadata.tsv").read_bytes()


def model_bytes(run: Run) -> bytes:
    """The trained model as a ``.keras`` file (load it with ``cfcore.training.build.load_model``): the one the
    trainer saved in the run folder."""
    if run.path is None:
        raise ValueError(f"run {run.name or run.config.model!r} has no run folder to take the model from")
    return (Path(run.path) / "model.keras").read_bytes()


def history_csv_bytes(run: Run) -> bytes:
    """The run's per-epoch history (epoch, loss, val_loss, train_rmse, val_rmse, seconds, complete) as CSV."""
    return pd.DataFrame(run.result.history).to_csv(index=False).encode("utf-8")


def run_zip_bytes(run: Run) -> bytes:
    """The whole run (its run folder) as one zip, which the Compare page can load again; the zip's top folder
    is named after the run."""
    from cfcore.runs.zip import export_run_zip

    if run.path is None:
        raise ValueError(f"run {run.name or run.config.model!r} has no run folder to zip")
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in (run.name or run.config.model)) or "run"
    return export_run_zip(run.path, top=safe)


# ---------------------------------------------------------------------------
# Loading saved runs from the configured runs folder
# ---------------------------------------------------------------------------

RUNS_DIR_ENV_VAR = settings.RUNS_DIR_ENV_VAR


class RunsFolderError(ValueError):
    """A requested run folder is missing or outside the configured runs folder."""


def runs_root() -> Path | None:
    """The folder named by ``CFCORE_RUNS_DIR`` (resolved), or None when unset or not a folder."""
    try:
        return settings.runs_folder()
    except settings.SettingsError:
        return None


def list_run_dirs(root: Path, limit: int = 200) -> list[str]:
    """Names of ``root``'s subfolders that look like saved runs (they hold ``config.json``), sorted."""
    try:
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file())
    except OSError:
        return []
    return names[:limit]


def resolve_run_dir(root: Path, requested: str) -> Path:
    """The run folder ``requested`` (a name or path) if it lies inside ``root``.

    Relative paths are taken from ``root``; links are resolved before the check,
    so ``..`` or a symlink cannot reach outside it.

    Raises:
        RunsFolderError: for an empty request, a folder outside ``root``, or one that does not exist.
    """
    text = (requested or "").strip()
    if not text or "\x00" in text:
        raise RunsFolderError("enter the name of a run folder")
    base = root.resolve()
    target = (base / Path(text).expanduser()).resolve()
    if not target.is_relative_to(base):
        raise RunsFolderError(f"{text!r} is outside the runs folder {base}; only runs inside it can be loaded")
    if not target.is_dir():
        raise RunsFolderError(f"no run folder {text!r} in {base}")
    return target
