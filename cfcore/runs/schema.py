"""What a run's JSON files may hold: ``config.json`` (a :class:`~cfcore.config.TrainConfig`), ``result.json``'s
numbers, flags and texts, and the history's rows. Every value a stranger's run zip could carry is checked here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from cfcore.config import RUN_KINDS, ConfigError, TrainConfig
from cfcore.runs.errors import RunError

# Longest text kept from a run's own JSON (a name, a dataset's source).
MAX_TEXT_CHARS = 200

HISTORY_NUMBERS = ("loss", "val_loss", "train_rmse", "val_rmse", "seconds")


def read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise RunError(f"{path.name}: not valid JSON ({type(err).__name__})") from None
    if not isinstance(value, dict):
        raise RunError(f"{path.name}: expected a JSON object, not {type(value).__name__}")
    return value


def read_config(path: Path) -> TrainConfig:
    values = read_json(path)
    if values.get("model") not in RUN_KINDS:
        shown = str(values.get("model"))[:40]
        raise RunError(f"config.json: unknown model {shown!r}; a run holds one of {', '.join(RUN_KINDS)}")
    try:
        return TrainConfig.from_dict(values).validate()
    except (ConfigError, TypeError) as err:
        raise RunError(f"config.json: {err}") from None


def check_history(rows: object, config: TrainConfig) -> list[dict]:
    if not isinstance(rows, list) or not rows:
        raise RunError("result.json: history must be a list with one entry per epoch run (found none)")
    if len(rows) > config.epochs:
        raise RunError(f"result.json: history has {len(rows)} epochs, more than the run's {config.epochs}")
    history = []
    for number, row in enumerate(rows, start=1):
        where = f"result.json: history entry {number}"
        if not isinstance(row, dict):
            raise RunError(f"{where} is not an object")
        if as_integer(row.get("epoch"), f"{where}: epoch", 1, config.epochs) != number:
            raise RunError(f"{where}: epoch must be {number}")
        clean = {"epoch": number}
        for key in HISTORY_NUMBERS:
            clean[key] = as_number(row.get(key, math.nan), f"{where}: {key}", allow_nan=True)
        clean["complete"] = as_boolean(row.get("complete", True), f"{where}: complete")
        history.append(clean)
    return history


def as_number(value: object, where: str, *, allow_nan: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RunError(f"{where} must be a number. Received: {str(value)[:40]!r}")
    number = float(value)
    if math.isinf(number) or (math.isnan(number) and not allow_nan):
        raise RunError(f"{where} must be a finite number. Received: {number}")
    return number


def as_rmse(value: object, where: str) -> float:
    value = as_number(value, where, allow_nan=True)
    if value < 0:
        raise RunError(f"{where} must not be negative. Received: {value}")
    return value


def as_integer(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RunError(f"{where} must be a whole number from {low} to {high}. Received: {str(value)[:40]!r}")
    return int(value)


def as_boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise RunError(f"{where} must be true or false. Received: {str(value)[:40]!r}")
    return value


def as_text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise RunError(f"{where} must be text. Received: {type(value).__name__}")
    return value.strip()[:MAX_TEXT_CHARS] or "run"
