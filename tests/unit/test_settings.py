"""cfcore.settings: every environment variable is checked at start with a clear message, and
CFCORE_PROFILE=public sets a stranger-facing server's defaults in one place, each still overridable."""

from __future__ import annotations

import pytest

from cfcore import settings
from cfcore.settings import SettingsError, check_environment

PUBLIC = {"CFCORE_PROFILE": "public"}


def _checked(tmp_path, **env):
    return check_environment({"CFCORE_CACHE": str(tmp_path / "cache"), **env})


def test_the_defaults_need_no_variables(tmp_path):
    found = check_environment({"CFCORE_CACHE": str(tmp_path / "new" / "cache")})
    assert found.data is None and found.runs_dir is None
    assert (found.max_trainings, found.max_train_seconds) == (2, 900.0)


@pytest.mark.parametrize("name, value, match", [
    ("CFCORE_CACHE", "{file}", "is a file, not a folder"),
    ("CFCORE_CACHE", "{file}/below", "is a file, not a folder"),
    ("CFCORE_DATA", "{tmp}/missing", "no such folder or file"),
    ("CFCORE_RUNS_DIR", "{file}", "not a folder"),
    ("CFCORE_MAX_TRAININGS", "0", "must be a whole number from 1 to 64"),
    ("CFCORE_MAX_TRAININGS", "many", "must be a whole number from 1 to 64"),
    ("CFCORE_MAX_TRAIN_SECONDS", "nan", "must be a number of seconds from 1 to 86,400"),
    ("CFCORE_MAX_TRAIN_SECONDS", "-5", "must be a number of seconds"),
])
def test_a_bad_variable_is_one_clear_message(tmp_path, name, value, match):
    (tmp_path / "a-file").write_text("x")
    value = value.format(file=tmp_path / "a-file", tmp=tmp_path)
    with pytest.raises(SettingsError, match=match) as info:
        check_environment({"CFCORE_CACHE": str(tmp_path / "cache"), name: value})
    assert str(info.value).startswith(name) or "cache" in str(info.value)


def test_each_profile_sets_every_value_of_its_table(tmp_path):
    local, public = _checked(tmp_path), _checked(tmp_path, **PUBLIC)
    assert (local.profile, public.profile) == ("local", "public")
    fields = {
        "CFCORE_MAX_TRAININGS": "max_trainings", "CFCORE_MAX_TRAIN_SECONDS": "max_train_seconds",
        "CFCORE_TRAINER_IDLE_SECONDS": "trainer_idle_seconds", "CFCORE_STATE_MAX_MB": "state_max_mb",
        "CFCORE_WORKSPACE_TTL_DAYS": "workspace_ttl_days", "CFCORE_WORKSPACE_MAX_RUNS": "workspace_max_runs",
        "CFCORE_WORKSPACE_MAX_MB": "workspace_max_mb", "CFCORE_UPLOAD_MAX_MB": "upload_max_mb",
        "CFCORE_UPLOAD_MAX_ROWS": "upload_max_rows", "CFCORE_SHOW_PATHS": "show_paths",
        "CFCORE_CLIENT_MAX_JOBS": "client_max_jobs",
        "CFCORE_CLIENT_NEW_WORKSPACES_PER_HOUR": "client_new_workspaces_per_hour",
    }
    assert set(fields) == set(settings.PROFILE_DEFAULTS)
    for name, field in fields.items():
        assert (getattr(local, field), getattr(public, field)) == settings.PROFILE_DEFAULTS[name], name
    assert public.max_train_seconds < local.max_train_seconds and not public.show_paths and local.show_paths


@pytest.mark.parametrize("name, value, field, expected", [
    ("CFCORE_MAX_TRAININGS", "3", "max_trainings", 3),
    ("CFCORE_MAX_TRAIN_SECONDS", "600", "max_train_seconds", 600.0),
    ("CFCORE_WORKSPACE_MAX_RUNS", "5", "workspace_max_runs", 5),
    ("CFCORE_UPLOAD_MAX_MB", "10", "upload_max_mb", 10),
    ("CFCORE_SHOW_PATHS", "1", "show_paths", True),
    ("CFCORE_CLIENT_MAX_JOBS", "40", "client_max_jobs", 40),
])
def test_a_variable_of_its_own_overrides_the_profile(tmp_path, name, value, field, expected):
    assert getattr(_checked(tmp_path, **PUBLIC, **{name: value}), field) == expected


@pytest.mark.parametrize("name, value, match", [
    ("CFCORE_PROFILE", "strangers", "must be one of local, public"),
    ("CFCORE_SHOW_PATHS", "maybe", "must be 1 or 0"),
    ("CFCORE_UPLOAD_MAX_MB", "51", "from 1 to 50"),
    ("CFCORE_WORKSPACE_MAX_MB", "0", "from 1 to"),
])
def test_a_bad_profile_variable_is_one_clear_message(tmp_path, name, value, match):
    with pytest.raises(SettingsError, match=match):
        _checked(tmp_path, **{name: value})
