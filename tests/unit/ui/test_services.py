"""ui.services: the server's training manager and workspace store follow the profile."""

from __future__ import annotations


def test_the_public_profile_reaches_the_trainings_and_the_workspaces(data_env, monkeypatch):
    from ui import services

    monkeypatch.setenv("CFCORE_PROFILE", "public")
    manager = services.training_manager()
    assert manager.max_concurrent == 1 and manager.max_seconds == 300.0
    store = services.store()
    assert (store.max_runs, store.max_workspace_bytes) == (20, 50 * 2**20)
