"""CFCORE_PROFILE=public: a stranger-facing server's defaults, in one place, each still overridable (issue 21)."""

from __future__ import annotations

import pytest

from cfcore import settings
from cfcore.data.dataset import dataset_from_files
from cfcore.data.errors import DataError
from cfcore.data.read import upload_limits
from cfcore.settings import SettingsError, check_environment
from cfcore.text import hide_paths, server_text
from tests.support.app import open_app
from tests.support.text import shown

PUBLIC = {"CFCORE_PROFILE": "public"}


def _checked(tmp_path, **env):
    return check_environment({"CFCORE_CACHE": str(tmp_path / "cache"), **env})


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


def test_the_public_upload_limit_refuses_a_file_the_local_one_takes(monkeypatch):
    ratings = b"userId,movieId,rating\n" + b"".join(b"%d,%d,4.0\n" % (u, m) for u in range(1, 40) for m in range(1, 40))
    movies = b"movieId,title,genres\n" + b"".join(b"%d,Movie %d,Drama\n" % (m, m) for m in range(1, 40))
    assert dataset_from_files(ratings, movies).n_ratings == 39 * 39
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    monkeypatch.setenv("CFCORE_UPLOAD_MAX_ROWS", "1000")
    assert upload_limits().max_rating_rows == 1000 and upload_limits().max_file_bytes == 25 * 2**20
    with pytest.raises(DataError, match="over the limit of 1,000"):
        dataset_from_files(ratings, movies)


def test_paths_are_hidden_but_addresses_and_ratios_are_not(monkeypatch):
    text = "CFCORE_DATA=/srv/cf/data: no such folder; see https://files.grouplens.org/x.zip, 3/5 stars"
    assert hide_paths(text) == "CFCORE_DATA=[folder]: no such folder; see https://files.grouplens.org/x.zip, 3/5 stars"
    assert server_text(text) == text
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    assert "/srv" not in server_text(text)
    monkeypatch.setenv("CFCORE_SHOW_PATHS", "nonsense")  # unreadable: hidden, not shown
    assert "/srv" not in server_text(text)


def test_a_public_server_shows_no_folder_of_its_own(data_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    runs = tmp_path / "saved-runs"
    runs.mkdir()
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(runs))
    for page in ("pages/data.py", "pages/compare.py"):
        at = open_app(page=page)
        text = " ".join(shown(str(element.value)) for kind in ("markdown", "caption", "error", "info", "radio",
                                                                "selectbox") for element in at.get(kind))
        labels = " ".join(str(getattr(element, "label", "")) for element in at.get("selectbox"))
        labels += " ".join(str(option) for radio in at.radio for option in radio.options)
        assert str(data_env) not in text + labels and str(runs) not in text + labels, page
    assert "Configured folder (CFCORE_DATA)" in labels or any(
        "Configured folder (CFCORE_DATA)" in option for radio in open_app().radio for option in radio.options)
    uploader = open_app(page="pages/compare.py").get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == 25
    monkeypatch.delenv("CFCORE_PROFILE")
    at = open_app()
    assert any(str(data_env) in option for radio in at.radio for option in radio.options)  # local: shown


def test_a_missing_data_folder_on_a_public_server_is_a_message_without_its_path(monkeypatch, tmp_path, routed):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.support.paths import APP

    monkeypatch.setenv("CFCORE_PROFILE", "public")
    monkeypatch.setenv("CFCORE_DATA", str(tmp_path / "nowhere"))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and len(at.error) == 1
    assert "CFCORE_DATA" in at.error[0].value and str(tmp_path) not in at.error[0].value
    st.cache_resource.clear()


def test_the_public_profile_reaches_the_trainings_and_the_workspaces(data_env, monkeypatch):
    from ui import services

    monkeypatch.setenv("CFCORE_PROFILE", "public")
    manager = services.training_manager()
    assert manager.max_concurrent == 1 and manager.max_seconds == 300.0
    store = services.store()
    assert (store.max_runs, store.max_workspace_bytes) == (20, 50 * 2**20)
