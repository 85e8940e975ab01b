"""CFCORE_PROFILE=public in the app: the server's folders are never shown."""

from __future__ import annotations

from tests.support.app import open_app
from tests.support.text import shown


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


def test_a_public_server_without_a_runs_folder_offers_the_zip_only(data_env, monkeypatch):
    """A visitor cannot set the server's environment: no advice to, and no empty runs-folder tab."""
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    monkeypatch.delenv("CFCORE_RUNS_DIR", raising=False)
    at = open_app(page="pages/compare.py")
    text = " ".join(shown(str(element.value)) for kind in ("markdown", "caption", "info") for element in at.get(kind))
    assert "CFCORE_RUNS_DIR" not in text and "environment variable" not in text
    assert [tab.label for tab in at.tabs if "From" in tab.label] == []
    assert at.get("file_uploader")  # the zip is still offered
    monkeypatch.setenv("CFCORE_PROFILE", "local")
    assert any("CFCORE_RUNS_DIR" in shown(c.value) for c in open_app(page="pages/compare.py").caption)
