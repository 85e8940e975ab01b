"""The environment variables cfcore reads, in one place, each checked with a message that says what to do.

The app and the CLI call :func:`check_environment` at start: a mistake such as
``CFCORE_CACHE`` pointing at a file is one readable line, never a traceback
from deep inside a loader.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cfcore import constants as C

MAX_TRAININGS_ENV_VAR = "CFCORE_MAX_TRAININGS"
MAX_TRAIN_SECONDS_ENV_VAR = "CFCORE_MAX_TRAIN_SECONDS"
RUNS_DIR_ENV_VAR = "CFCORE_RUNS_DIR"
TRAINER_IDLE_ENV_VAR = "CFCORE_TRAINER_IDLE_SECONDS"
STATE_DIR_ENV_VAR = "CFCORE_STATE_DIR"
STATE_MAX_MB_ENV_VAR = "CFCORE_STATE_MAX_MB"
WORKSPACE_TTL_ENV_VAR = "CFCORE_WORKSPACE_TTL_DAYS"
RAY_ADDRESS_ENV_VAR = "CFCORE_RAY_ADDRESS"

DEFAULT_MAX_TRAININGS = 2
DEFAULT_MAX_TRAIN_SECONDS = 900.0
DEFAULT_TRAINER_IDLE_SECONDS = 300.0
DEFAULT_STATE_MAX_MB = 2048
DEFAULT_WORKSPACE_TTL_DAYS = 14.0
# Most trainings one server may run at once, and the longest time limit one may set (a day).
MAX_TRAININGS_LIMIT = 64
MAX_TRAIN_SECONDS_LIMIT = 86_400


class SettingsError(ValueError):
    """An environment variable holds a value cfcore cannot use; the message names it and says why."""


@dataclass(frozen=True)
class Settings:
    """The checked configuration."""

    data: Path | None
    cache: Path
    runs_dir: Path | None
    max_trainings: int
    max_train_seconds: float
    trainer_idle_seconds: float
    state_dir: Path
    state_max_mb: int
    workspace_ttl_days: float
    ray_address: str


def check_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check every cfcore environment variable.

    Args:
        environ: The variables (default ``os.environ``).

    Returns:
        The :class:`Settings`.

    Raises:
        SettingsError: for the first variable that cannot be used.
    """
    env = os.environ if environ is None else environ
    return Settings(
        data=_data_path(env),
        cache=_cache_folder(env),
        runs_dir=runs_folder(env),
        max_trainings=max_trainings(env),
        max_train_seconds=max_train_seconds(env),
        trainer_idle_seconds=trainer_idle_seconds(env),
        state_dir=state_folder(env),
        state_max_mb=state_max_mb(env),
        workspace_ttl_days=workspace_ttl_days(env),
        ray_address=ray_address(env),
    )


def _value(env: Mapping[str, str], name: str) -> str:
    return str(env.get(name, "")).strip()


def _data_path(env: Mapping[str, str]) -> Path | None:
    raw = _value(env, C.DATA_ENV_VAR)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.exists():
        raise SettingsError(f"{C.DATA_ENV_VAR}={raw}: no such folder or file; point it at a MovieLens folder or "
                            f".zip, or unset it to use the built-in download")
    if not path.is_dir() and not path.is_file():
        raise SettingsError(f"{C.DATA_ENV_VAR}={raw}: not a folder or a file")
    return path


def _cache_folder(env: Mapping[str, str]) -> Path:
    raw = _value(env, C.CACHE_ENV_VAR)
    path = C.cache_dir(env)
    shown = f"{C.CACHE_ENV_VAR}={raw}" if raw else f"the download cache {path}"
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise SettingsError(f"{shown}: {existing} is a file, not a folder; point {C.CACHE_ENV_VAR} at a folder "
                            "(it is created if missing)")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"{shown}: {existing} is not writable; point {C.CACHE_ENV_VAR} at a folder you can "
                            "write to")
    return path


def runs_folder(env: Mapping[str, str] | None = None) -> Path | None:
    """``CFCORE_RUNS_DIR`` resolved, or None when unset.

    Raises:
        SettingsError: when it is set but not a folder.
    """
    env = os.environ if env is None else env
    raw = _value(env, RUNS_DIR_ENV_VAR)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise SettingsError(f"{RUNS_DIR_ENV_VAR}={raw}: not a folder; point it at a folder of saved runs or unset it")
    return path.resolve()


def _bounded(env: Mapping[str, str] | None, name: str, default, kind, low, high, what: str):
    env = os.environ if env is None else env
    raw = _value(env, name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise SettingsError(f"{name}={raw}: must be {what} from {low:,} to {high:,}")
    return value


def max_trainings(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_MAX_TRAININGS``: trainings one server runs at once (default 2)."""
    return _bounded(env, MAX_TRAININGS_ENV_VAR, DEFAULT_MAX_TRAININGS, int, 1, MAX_TRAININGS_LIMIT,
                    "a whole number")


def max_train_seconds(env: Mapping[str, str] | None = None) -> float:
    """``CFCORE_MAX_TRAIN_SECONDS``: the longest one training may run before it is stopped (default 900)."""
    return _bounded(env, MAX_TRAIN_SECONDS_ENV_VAR, DEFAULT_MAX_TRAIN_SECONDS, float, 1, MAX_TRAIN_SECONDS_LIMIT,
                    "a number of seconds")


def trainer_idle_seconds(env: Mapping[str, str] | None = None) -> float:
    """``CFCORE_TRAINER_IDLE_SECONDS``: how long the trainer process waits with nothing to do before it exits and
    hands its memory back (default 300)."""
    return _bounded(env, TRAINER_IDLE_ENV_VAR, DEFAULT_TRAINER_IDLE_SECONDS, float, 1, MAX_TRAIN_SECONDS_LIMIT,
                    "a number of seconds")


def state_folder(env: Mapping[str, str] | None = None) -> Path:
    """``CFCORE_STATE_DIR``: where workspaces live (default: the user's data folder, ``~/.local/share/cfcore``,
    or ``$XDG_DATA_HOME/cfcore``)."""
    env = os.environ if env is None else env
    raw = _value(env, STATE_DIR_ENV_VAR)
    if raw:
        path = Path(raw).expanduser()
    else:
        base = _value(env, "XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        path = Path(base) / "cfcore"
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{STATE_DIR_ENV_VAR}={raw or path}: is a file, not a folder")
    return path.resolve()


def state_max_mb(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_STATE_MAX_MB``: the most disk all workspaces together may use (default 2048); the least recently
    used go first."""
    return _bounded(env, STATE_MAX_MB_ENV_VAR, DEFAULT_STATE_MAX_MB, int, 10, 10_000_000, "a whole number of MB")


def workspace_ttl_days(env: Mapping[str, str] | None = None) -> float:
    """``CFCORE_WORKSPACE_TTL_DAYS``: workspaces untouched this long are deleted (default 14)."""
    return _bounded(env, WORKSPACE_TTL_ENV_VAR, DEFAULT_WORKSPACE_TTL_DAYS, float, 0.001, 3650, "a number of days")


def ray_address(env: Mapping[str, str] | None = None) -> str:
    """``CFCORE_RAY_ADDRESS``: the Ray cluster that runs trainings (``auto``, ``ray://host:10001`` or
    ``host:port``); "" (unset) keeps them in the local trainer process."""
    import re

    env = os.environ if env is None else env
    raw = _value(env, RAY_ADDRESS_ENV_VAR)
    if raw and not re.fullmatch(r"auto|(ray://)?[A-Za-z0-9._-]+:\d{1,5}", raw):
        raise SettingsError(f"{RAY_ADDRESS_ENV_VAR}={raw[:80]}: must be 'auto', 'ray://host:port' or 'host:port'")
    return raw
