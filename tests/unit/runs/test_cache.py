"""cfcore.runs.cache: the runs a server holds share one dataset with the session."""

from __future__ import annotations

from cfcore.runs.run import load_run


def test_a_run_cache_shares_one_dataset_between_a_session_and_its_runs(tiny_run_dir):
    from cfcore.data.dataset_file import read_dataset_file, save_dataset_file
    from cfcore.runs.cache import RunCache

    cache = RunCache(idle_seconds=600)
    chosen = load_run(tiny_run_dir).dataset  # the session's choice, loaded on its own
    assert cache.share(chosen) is chosen
    run = cache.get(tiny_run_dir)
    assert run.dataset is chosen  # the run's own copy of the same data is let go
    # The same data read again, from the workspace's dataset file, is the object the cache has.
    again = read_dataset_file(save_dataset_file(chosen, tiny_run_dir.parent / "dataset.npz"))
    assert again is not chosen and cache.share(again) is chosen
