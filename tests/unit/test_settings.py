"""cfcore.settings: every environment variable is checked at start with a clear message (issue 19.11)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cfcore.settings import SettingsError, check_environment


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


def test_the_cli_says_one_line_for_a_cache_that_is_a_file(tmp_path):
    """It said `error: unexpected FileExistsError`."""
    (tmp_path / "a-file").write_text("x")
    env = {"CFCORE_CACHE": str(tmp_path / "a-file"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "cfcore", "explore", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: CFCORE_CACHE={tmp_path / 'a-file'}: {tmp_path / 'a-file'} is a file, not a folder; point "
        "CFCORE_CACHE at a folder (it is created if missing)"]


def test_the_app_shows_the_problem_instead_of_a_traceback(monkeypatch, tmp_path, routed):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.support.paths import APP

    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("CFCORE_CACHE", str(tmp_path / "a-file"))
    monkeypatch.delenv("CFCORE_DATA", raising=False)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and "CFCORE_CACHE" in at.error[0].value and "is a file" in at.error[0].value
    st.cache_resource.clear()
