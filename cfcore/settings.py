"""The environment variables cfcore reads, in one place, each checked with a message that says what to do.

The app and the CLI call :func:`check_environment` at start: a mistake such as
``CFCORE_CACHE`` pointing at a file is one readable line, never a traceback
from deep inside a loader.

``CFCORE_PROFILE`` picks the defaults of the limits below: ``local`` (a laptop, a
classroom server) or ``public`` (a server strangers reach). :data:`PROFILE_DEFAULTS`
is the one table of both; each value is still overridden by its own variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cfcore import constants as C

DATA_ENV_VAR = "CFCORE_DATA"
CACHE_ENV_VAR = "CFCORE_CACHE"
# Set by cfcore.child for the processes it starts: "1" means stdin is a pipe from the parent, and EOF on it means
# the parent is gone.
CHILD_PARENT_PIPE_ENV_VAR = "CFCORE_CHILD_PARENT_PIPE"
MAX_TRAININGS_ENV_VAR = "CFCORE_MAX_TRAININGS"
MAX_TRAIN_SECONDS_ENV_VAR = "CFCORE_MAX_TRAIN_SECONDS"
RUNS_DIR_ENV_VAR = "CFCORE_RUNS_DIR"
TRAINER_IDLE_ENV_VAR = "CFCORE_TRAINER_IDLE_SECONDS"
STATE_DIR_ENV_VAR = "CFCORE_STATE_DIR"
STATE_MAX_MB_ENV_VAR = "CFCORE_STATE_MAX_MB"
WORKSPACE_TTL_ENV_VAR = "CFCORE_WORKSPACE_TTL_DAYS"
RAY_ADDRESS_ENV_VAR = "CFCORE_RAY_ADDRESS"
PROFILE_ENV_VAR = "CFCORE_PROFILE"
WORKSPACE_MAX_RUNS_ENV_VAR = "CFCORE_WORKSPACE_MAX_RUNS"
WORKSPACE_MAX_MB_ENV_VAR = "CFCORE_WORKSPACE_MAX_MB"
UPLOAD_MAX_MB_ENV_VAR = "CFCORE_UPLOAD_MAX_MB"
UPLOAD_MAX_ROWS_ENV_VAR = "CFCORE_UPLOAD_MAX_ROWS"
SHOW_PATHS_ENV_VAR = "CFCORE_SHOW_PATHS"
CLIENT_MAX_JOBS_ENV_VAR = "CFCORE_CLIENT_MAX_JOBS"
CLIENT_NEW_WORKSPACES_ENV_VAR = "CFCORE_CLIENT_NEW_WORKSPACES_PER_HOUR"

PROFILES = ("local", "public")


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Folder where downloaded datasets are kept (``CFCORE_CACHE`` or ``~/.cache/cfcore``)."""
    configured = str((os.environ if environ is None else environ).get(CACHE_ENV_VAR, "")).strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "cfcore"


# What each profile sets, by the variable that overrides it: (local, public). A public server's CPU and memory are
# shared by strangers: one training at a time (identical ones still join), a shorter time limit (the article's
# trainings take 6-17 s, the best preset about 4 s), smaller workspaces, memory back sooner, uploads up to
# ml-1m's size (24 MB, 1,000,209 ratings), and no server folder names on the pages.
PROFILE_DEFAULTS: dict[str, tuple] = {
    MAX_TRAININGS_ENV_VAR: (2, 1),
    MAX_TRAIN_SECONDS_ENV_VAR: (900.0, 300.0),
    TRAINER_IDLE_ENV_VAR: (300.0, 120.0),
    STATE_MAX_MB_ENV_VAR: (2048, 1024),
    WORKSPACE_TTL_ENV_VAR: (14.0, 7.0),
    WORKSPACE_MAX_RUNS_ENV_VAR: (50, 20),
    WORKSPACE_MAX_MB_ENV_VAR: (200, 50),
    UPLOAD_MAX_MB_ENV_VAR: (C.UPLOAD_MAX_FILE_BYTES // 2**20, 25),
    UPLOAD_MAX_ROWS_ENV_VAR: (C.UPLOAD_MAX_RATING_ROWS, 1_100_000),
    SHOW_PATHS_ENV_VAR: (True, False),
    # Per client address (0: no limit): background jobs at once, of every workspace it opened, and workspaces it
    # may start saving in an hour. A class behind one NAT address on a public server needs them raised.
    CLIENT_MAX_JOBS_ENV_VAR: (0, 6),
    CLIENT_NEW_WORKSPACES_ENV_VAR: (0, 30),
}
DEFAULT_MAX_TRAININGS = PROFILE_DEFAULTS[MAX_TRAININGS_ENV_VAR][0]
DEFAULT_MAX_TRAIN_SECONDS = PROFILE_DEFAULTS[MAX_TRAIN_SECONDS_ENV_VAR][0]
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
    profile: str
    workspace_max_runs: int
    workspace_max_mb: int
    upload_max_mb: int
    upload_max_rows: int
    show_paths: bool
    client_max_jobs: int
    client_new_workspaces_per_hour: int


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
        profile=profile(env),
        workspace_max_runs=workspace_max_runs(env),
        workspace_max_mb=workspace_max_mb(env),
        upload_max_mb=upload_max_mb(env),
        upload_max_rows=upload_max_rows(env),
        show_paths=show_paths(env),
        client_max_jobs=client_max_jobs(env),
        client_new_workspaces_per_hour=client_new_workspaces_per_hour(env),
    )


def _value(env: Mapping[str, str], name: str) -> str:
    return str(env.get(name, "")).strip()


def _data_path(env: Mapping[str, str]) -> Path | None:
    raw = _value(env, DATA_ENV_VAR)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.exists():
        raise SettingsError(f"{DATA_ENV_VAR}={raw}: no such folder or file; point it at a MovieLens folder or "
                            f".zip, or unset it to use the built-in download")
    if not path.is_dir() and not path.is_file():
        raise SettingsError(f"{DATA_ENV_VAR}={raw}: not a folder or a file")
    return path


def _cache_folder(env: Mapping[str, str]) -> Path:
    raw = _value(env, CACHE_ENV_VAR)
    path = cache_dir(env)
    shown = f"{CACHE_ENV_VAR}={raw}" if raw else f"the download cache {path}"
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise SettingsError(f"{shown}: {existing} is a file, not a folder; point {CACHE_ENV_VAR} at a folder "
                            "(it is created if missing)")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"{shown}: {existing} is not writable; point {CACHE_ENV_VAR} at a folder you can "
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


def profile(env: Mapping[str, str] | None = None) -> str:
    """``CFCORE_PROFILE``: ``local`` (default) or ``public``, the defaults of the limits in :data:`PROFILE_DEFAULTS`."""
    env = os.environ if env is None else env
    raw = _value(env, PROFILE_ENV_VAR).lower()
    if raw and raw not in PROFILES:
        raise SettingsError(f"{PROFILE_ENV_VAR}={raw[:40]}: must be one of {', '.join(PROFILES)}")
    return raw or PROFILES[0]


def profile_default(name: str, env: Mapping[str, str] | None = None):
    """The value the current profile gives variable ``name`` when it is unset."""
    return PROFILE_DEFAULTS[name][PROFILES.index(profile(env))]


def _bounded(env: Mapping[str, str] | None, name: str, kind, low, high, what: str):
    env = os.environ if env is None else env
    raw = _value(env, name)
    if not raw:
        return profile_default(name, env)
    try:
        value = kind(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise SettingsError(f"{name}={raw}: must be {what} from {low:,} to {high:,}")
    return value


def max_trainings(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_MAX_TRAININGS``: trainings one server runs at once (default 2; public 1)."""
    return _bounded(env, MAX_TRAININGS_ENV_VAR, int, 1, MAX_TRAININGS_LIMIT,
                    "a whole number")


def max_train_seconds(env: Mapping[str, str] | None = None) -> float:
    """``CFCORE_MAX_TRAIN_SECONDS``: the longest one training may run before it is stopped (default 900; public 300)."""
    return _bounded(env, MAX_TRAIN_SECONDS_ENV_VAR, float, 1, MAX_TRAIN_SECONDS_LIMIT,
                    "a number of seconds")


def trainer_idle_seconds(env: Mapping[str, str] | None = None) -> float:
    """``CFCORE_TRAINER_IDLE_SECONDS``: how long the trainer process waits with nothing to do before it exits and
    hands its memory back (default 300; public 120)."""
    return _bounded(env, TRAINER_IDLE_ENV_VAR, float, 1, MAX_TRAIN_SECONDS_LIMIT,
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
    """``CFCORE_STATE_MAX_MB``: the most disk all workspaces together may use (default 2048; public 1024); the least
    recently used go first."""
    return _bounded(env, STATE_MAX_MB_ENV_VAR, int, 10, 10_000_000, "a whole number of MB")


def workspace_ttl_days(env: Mapping[str, str] | None = None) -> float:
    """``CFCORE_WORKSPACE_TTL_DAYS``: workspaces untouched this long are deleted (default 14; public 7)."""
    return _bounded(env, WORKSPACE_TTL_ENV_VAR, float, 0.001, 3650, "a number of days")


def workspace_max_runs(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_WORKSPACE_MAX_RUNS``: the most runs one workspace keeps (default 50; public 20)."""
    return _bounded(env, WORKSPACE_MAX_RUNS_ENV_VAR, int, 1, 10_000, "a whole number")


def workspace_max_mb(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_WORKSPACE_MAX_MB``: the most disk one workspace may use (default 200; public 50)."""
    return _bounded(env, WORKSPACE_MAX_MB_ENV_VAR, int, 1, 1_000_000, "a whole number of MB")


def upload_max_mb(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_UPLOAD_MAX_MB``: the largest file a visitor may upload (default 50; public 25). Streamlit's own
    ``server.maxUploadSize`` (50 in ``.streamlit/config.toml``) stays the ceiling."""
    return _bounded(env, UPLOAD_MAX_MB_ENV_VAR, int, 1, C.UPLOAD_MAX_FILE_BYTES // 2**20, "a whole number of MB")


def upload_max_rows(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_UPLOAD_MAX_ROWS``: the most ratings an uploaded file or run zip may hold (default 2,000,000; public
    1,100,000)."""
    return _bounded(env, UPLOAD_MAX_ROWS_ENV_VAR, int, 1, C.UPLOAD_MAX_RATING_ROWS, "a whole number")


def client_max_jobs(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_CLIENT_MAX_JOBS``: the most background jobs (trainings, maps, measurements) the workspaces of one
    client address may have at once (default 0, no limit; public 6)."""
    return _bounded(env, CLIENT_MAX_JOBS_ENV_VAR, int, 0, 10_000, "a whole number (0: no limit)")


def client_new_workspaces_per_hour(env: Mapping[str, str] | None = None) -> int:
    """``CFCORE_CLIENT_NEW_WORKSPACES_PER_HOUR``: how many new workspaces one client address may start saving in an
    hour (default 0, no limit; public 30)."""
    return _bounded(env, CLIENT_NEW_WORKSPACES_ENV_VAR, int, 0, 1_000_000, "a whole number (0: no limit)")


def show_paths(env: Mapping[str, str] | None = None) -> bool:
    """``CFCORE_SHOW_PATHS``: whether pages may show the server's folder names (``1``, default) or hide them
    (``0``, the public profile's default)."""
    env = os.environ if env is None else env
    raw = _value(env, SHOW_PATHS_ENV_VAR).lower()
    if not raw:
        return bool(profile_default(SHOW_PATHS_ENV_VAR, env))
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"{SHOW_PATHS_ENV_VAR}={raw[:40]}: must be 1 or 0")
    return raw in ("1", "true", "yes")


def ray_address(env: Mapping[str, str] | None = None) -> str:
    """``CFCORE_RAY_ADDRESS``: the Ray cluster that runs trainings (``auto``, ``ray://host:10001`` or
    ``host:port``); "" (unset) keeps them in the local trainer process."""
    import re

    env = os.environ if env is None else env
    raw = _value(env, RAY_ADDRESS_ENV_VAR)
    if raw and not re.fullmatch(r"auto|(ray://)?[A-Za-z0-9._-]+:\d{1,5}", raw):
        raise SettingsError(f"{RAY_ADDRESS_ENV_VAR}={raw[:80]}: must be 'auto', 'ray://host:port' or 'host:port'")
    return raw
