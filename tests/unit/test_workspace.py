"""Workspaces on disk: ids, atomic saves, caps, least-recently-used and TTL sweeps, shared runs, job records."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from cfcore.workspaces.disk import WorkspaceError, folder_bytes
from cfcore.workspaces.ids import ID_PATTERN, new_run_id
from cfcore.workspaces.store import PROTECTED_S, WorkspaceStore
from cfcore.workspaces.workspace import STALE_S
from tests.support.paths import REPO
from tests.support.waiting import wait_for
from tests.support.workspaces import dead_pid


@pytest.fixture
def store(tmp_path):
    return WorkspaceStore(tmp_path / "state", max_bytes=50 * 2**20, ttl_seconds=3600)


def test_ids_are_long_random_and_anything_else_opens_nothing(store):
    space = store.create()
    assert ID_PATTERN.fullmatch(space.id) and len(space.id) == 32  # 192 bits, URL-safe
    assert store.open(space.id).folder == space.folder
    for value in (None, "", "abc", space.id[:-1], space.id + "x", "../" + space.id[3:], "a" * 32, 42,
                  [space.id], space.id.upper() if space.id.upper() != space.id else "Z" * 32):
        assert store.open(value) is None, value
    assert len({store.create().id for _ in range(20)}) == 20


def test_workspace_json_is_written_atomically_and_merged(store):
    space = store.create()
    space.update(active_run=None, widgets={"rec_user": 5})
    space.update(dataset={"kind": "path", "path": ""})
    state = space.state()
    assert state["widgets"] == {"rec_user": 5} and state["dataset"]["kind"] == "path"
    assert [p.name for p in space.folder.iterdir() if p.name.endswith(".tmp")] == []
    (space.folder / "workspace.json").write_text("{not json")
    assert space.state()["runs"] == {}  # a damaged file reads as empty, never a traceback


def test_runs_are_listed_oldest_first_and_half_saved_folders_are_not_runs(store, tiny_run_dir):
    space = store.create()
    ids = [new_run_id() for _ in range(3)]
    assert ids == sorted(ids)
    for run_id in ids:
        shutil.copytree(tiny_run_dir, space.run_dir(run_id))
    shutil.copytree(tiny_run_dir, space.runs_dir / f"{ids[0]}.tmp-abc")  # a save under way
    space.register_run(ids[1], "named")
    assert space.run_ids() == ids
    # An unrecorded folder (a crash between save and record) gets its model's name.
    assert space.run_names()[ids[1]] == "named" and space.run_names()[ids[0]] == "dot_with_bias #1"
    with pytest.raises(WorkspaceError):
        space.run_dir("../../etc")


def test_delete_hide_and_content_hash(store, tiny_run_dir):
    space = store.create()
    run_id = new_run_id()
    shutil.copytree(tiny_run_dir, space.run_dir(run_id))
    space.register_run(run_id, "r", "abc123")
    space.update(active_run=run_id)
    space.set_hidden(run_id, True)
    assert space.hidden_runs() == {run_id} and space.run_with_hash("abc123") == run_id
    space.delete_run(run_id)
    assert space.run_ids() == [] and not space.run_dir(run_id).exists()
    assert space.state()["active_run"] is None and space.run_with_hash("abc123") is None


def test_caps_on_runs_and_bytes(store, tiny_run_dir, monkeypatch):
    space = store.create()
    monkeypatch.setattr(store, "max_runs", 2)
    for _ in range(2):
        shutil.copytree(tiny_run_dir, space.run_dir(new_run_id()))
    with pytest.raises(WorkspaceError, match="has 2 runs, the most it can keep is 2"):
        space.check_room()
    monkeypatch.setattr(store, "max_runs", 50)
    space.check_room()
    monkeypatch.setattr(store, "max_workspace_bytes", 1000)
    with pytest.raises(WorkspaceError, match="MB, over its"):
        space.check_room()


def test_ttl_and_least_recently_used_sweeps(tmp_path, tiny_run_dir):
    store = WorkspaceStore(tmp_path / "state", max_bytes=10**9, ttl_seconds=100)
    old, fresh, busy = store.create(), store.create(), store.create()
    now = time.time()
    for space, seen in ((old, now - 500), (fresh, now), (busy, now - 500)):
        state = space.state()
        state["last_seen"] = seen
        (space.folder / "workspace.json").write_text(json.dumps(state))
    assert sorted(store.sweep(busy={busy.id}, now=now)) == [old.id]
    assert store.open(old.id) is None and store.open(fresh.id) and store.open(busy.id)

    # Over the size cap: the least recently seen goes first, until the rest fit (among those not opened for a day).
    store = WorkspaceStore(tmp_path / "state2", max_bytes=1, ttl_seconds=10**6)
    first, second = store.create(), store.create()
    for index, space in enumerate((first, second)):
        shutil.copytree(tiny_run_dir, space.run_dir(new_run_id()))
        state = space.state()
        state["last_seen"] = now - PROTECTED_S - 10 + index
        (space.folder / "workspace.json").write_text(json.dumps(state))
    store.max_bytes = folder_bytes(second.folder) + 10
    assert store.sweep(now=now) == [first.id]
    assert store.open(second.id) is not None


def test_a_shared_run_is_a_copy_behind_a_token_that_reveals_no_workspace(store, tiny_run_dir):
    space = store.create()
    run_id = new_run_id()
    shutil.copytree(tiny_run_dir, space.run_dir(run_id))
    token = store.share_run(space, run_id, "my run")
    assert token != space.id and space.id not in token
    folder, name = store.shared_run(token)
    assert name == "my run" and (folder / "model.keras").is_file()
    space.delete_run(run_id)
    assert store.shared_run(token)[0].is_dir()  # the copy outlives the original
    for value in (None, "x", space.id, "../" + token):
        assert store.shared_run(value) is None


def _rewrite(space, job_id: str, **changes) -> None:
    path = space.folder / "jobs" / f"{job_id}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_job_records_know_whether_their_server_is_gone(store):
    space = store.create()
    job = "a" * 32
    space.record_job(job, "dot_with_bias #1", {"epochs": 10}, [{"epoch": 1, "val_rmse": 1.0}])
    [record] = space.job_records()
    assert not record.interrupted and record.history[0]["epoch"] == 1  # this very server runs it
    # A restart: the record is from a process on this machine that is gone.
    _rewrite(space, job, server="an-earlier-server", pid=dead_pid())
    assert space.job_records()[0].interrupted and space.job_records(live_only=True) == []
    # Another replica on another machine: running while its record is fresh, gone once it is stale.
    _rewrite(space, job, server="a-replica", host="elsewhere", updated=time.time())
    assert not space.job_records()[0].interrupted
    _rewrite(space, job, updated=time.time() - STALE_S - 1)
    assert space.job_records()[0].interrupted
    space.drop_job(job)
    assert space.job_records() == []
    (space.folder / "jobs" / "junk.json").write_text("[1, 2")
    assert space.job_records() == []


def _seen(space, when: float) -> None:
    state = space.state()
    state["last_seen"] = when
    (space.folder / "workspace.json").write_text(json.dumps(state))


def test_a_full_store_refuses_the_newcomer_and_never_evicts_a_workspace_opened_today(tmp_path, tiny_run_dir):
    store = WorkspaceStore(tmp_path / "state", max_bytes=10**9, ttl_seconds=10**6)
    victim, newcomer = store.create(), store.create()
    shutil.copytree(tiny_run_dir, victim.run_dir(new_run_id()))
    _seen(victim, time.time() - 3600)  # an hour ago: a learner still in today's class
    store.max_bytes = store.used_bytes() + 1000
    assert store.sweep() == [] and store.open(victim.id) is not None
    with pytest.raises(WorkspaceError, match="the server's storage is full"):
        newcomer.check_room(more_bytes=10_000)
    newcomer.check_room(more_bytes=100)  # what still fits is fine


def test_every_folder_under_the_state_dir_counts(tmp_path):
    store = WorkspaceStore(tmp_path / "state", max_bytes=10**9)
    before = store.used_bytes()
    for folder in ("datasets", "scratch-runs/job1"):
        (store.root / folder).mkdir(parents=True)
        (store.root / folder / "blob").write_bytes(bytes(5000))
    assert store.used_bytes() == before + 10_000


def test_sharing_the_same_run_twice_gives_one_link_counted_against_the_workspace(store, tiny_run_dir):
    space = store.create()
    run_id = new_run_id()
    shutil.copytree(tiny_run_dir, space.run_dir(run_id))
    used = space.used_bytes()
    token = store.share_run(space, run_id, "my run")
    assert store.share_run(space, run_id, "my run") == token
    assert space.used_bytes() == used  # hard-linked while the run is here: no second copy on disk
    space.delete_run(run_id)
    assert space.used_bytes() >= folder_bytes(tiny_run_dir)  # the share still counts once the run is gone
    store.max_shares = 1
    other = new_run_id()
    shutil.copytree(tiny_run_dir, space.run_dir(other))
    with pytest.raises(WorkspaceError, match="has shared 1 runs, the most it can"):
        store.share_run(space, other, "another")
    store.delete(space.id)
    assert store.shared_run(token) is None  # a deleted workspace takes its links with it


def test_a_failed_save_leaves_no_temporary_file_and_says_so(store, monkeypatch):
    space = store.create()

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(WorkspaceError, match="could not save .No space left on device.*disk may be full"):
        space.update(active_run="x")
    space.touch()  # marking a visit is not worth an error page
    assert [path.name for path in space.folder.iterdir() if path.name.endswith(".tmp")] == []


def test_runs_registered_at_once_from_threads_and_processes_get_distinct_names(store, tmp_path):
    """30 simultaneous loads into one workspace once gave two runs one name (and two tabs an exception); server
    processes sharing the state folder (replicas) lost each other's records."""
    import subprocess
    import sys

    space = store.create()
    go = tmp_path / "go"
    script = ("import sys, time\nfrom pathlib import Path\nsys.path.insert(0, sys.argv[1])\n"
              "from cfcore.workspaces.ids import new_run_id\nfrom cfcore.workspaces.store import WorkspaceStore\n"
              "space = WorkspaceStore(sys.argv[2]).open(sys.argv[3])\n"
              "Path(sys.argv[4] + sys.argv[5]).touch()\n"
              "while not Path(sys.argv[4]).exists():\n    time.sleep(0.005)\n"
              "for _ in range(15):\n    space.register_run(new_run_id(), 'dot_with_bias #1')\n")
    repo = str(REPO)
    writers = [subprocess.Popen([sys.executable, "-c", script, repo, str(store.root), space.id, str(go), f"-{n}"])
               for n in range(3)]
    assert wait_for(lambda: all((tmp_path / f"go-{n}").exists() for n in range(3)), timeout=60)
    go.touch()  # all three start writing at once
    assert all(writer.wait(timeout=60) == 0 for writer in writers)
    names = [info["name"] for info in space.state()["runs"].values()]
    assert len(names) == 45 and set(names) == {f"dot_with_bias #{n}" for n in range(1, 46)}


def test_a_run_folder_the_workspace_never_named_gets_its_models_name(store, tiny_run_dir):
    """A kill -9 between a zip's move into the workspace and its record once left "run a8c52358"."""
    space = store.create()
    space.register_run(new_run_id(), "dot_with_bias #1")
    orphan = new_run_id()
    shutil.copytree(tiny_run_dir, space.run_dir(orphan))
    assert space.run_names()[orphan] == "dot_with_bias #2"
    assert space.state()["runs"][orphan]["name"] == "dot_with_bias #2"  # recorded, so it stays


def test_a_sweep_leaves_a_workspace_whose_first_save_is_under_way(tmp_path):
    """A sweep running while a new workspace's folder existed without its workspace.json yet deleted it, and the
    save failed ("No such file or directory")."""
    store = WorkspaceStore(tmp_path / "state", ttl_seconds=100)
    space = store.begin()
    space.runs_dir.mkdir(parents=True)  # the first save's folder, before its workspace.json
    assert store.sweep() == []
    space.update(active_run=None)
    assert store.open(space.id) is not None


def test_the_room_left_is_what_both_caps_allow(tmp_path, tiny_run_dir):
    store = WorkspaceStore(tmp_path / "state", max_bytes=10**9, max_workspace_bytes=10**6)
    space = store.create()
    assert space.room_bytes() == 10**6 - space.used_bytes()
    store.max_bytes = store.used_bytes() + 500
    assert space.room_bytes() == 500
    store.max_bytes = 1
    assert space.room_bytes() == 0


def test_new_workspaces_per_client_address_are_limited():
    import tempfile

    store = WorkspaceStore(tempfile.mkdtemp(prefix="cfcore-test-state-"), max_new_per_hour=2)
    for _ in range(2):
        store.begin(client="203.0.113.9").ensure()
    with pytest.raises(WorkspaceError, match="started 2 workspaces in the last hour"):
        store.begin(client="203.0.113.9").ensure()
    store.begin(client="198.51.100.4").ensure()  # another address is not held back
    looking = store.begin(client="203.0.113.9")  # looking around costs nothing and is never refused
    assert not looking.exists and len(store.ids()) == 3
