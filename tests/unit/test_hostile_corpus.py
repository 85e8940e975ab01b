"""At least 500 hostile inputs through the CLI and the app: every one ends in a clear message or a valid
result, never a traceback.

The inputs are made in tests/support/hostile.py; the app's part of the corpus goes through AppTest in
tests/app/test_app_hostile_corpus.py.
"""

from __future__ import annotations

import contextlib
import io
import shutil

import pytest

from cfcore.cli.main import main as cli_main
from tests.support.hostile import URL_KEYS, URL_VALUES, ZIP_EVERY, cli_argument_cases, csv_pairs, run_folder_mutations


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(argv)
    return code, err.getvalue()


def _assert_clean_cli(code: int, stderr: str, what: str) -> str:
    if code == 0:
        return "accepted"
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (what, code, stderr[-2000:])
    assert not lines[0].startswith("error: unexpected") and "Traceback" not in stderr, (what, stderr[-2000:])
    return "refused"


@pytest.fixture(scope="module")
def mutations(tiny_run_dir):
    return run_folder_mutations(tiny_run_dir)


def test_damaged_run_folders_through_the_cli(mutations, tmp_path):
    outcomes = []
    for number, (label, files) in enumerate(mutations):
        folder = tmp_path / f"run{number}"
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        for argv in (["explore", str(folder), "--json"], ["recommend", str(folder), "--user", "1"]):
            outcome = _assert_clean_cli(*_cli(argv), f"{label}: {argv[0]}")
            outcomes.append(outcome)
            # A damaged file is refused; only summary keys of result.json that nothing reads may hold junk, and
            # weights that reach outside their file are never opened here (the arrays come from embeddings.npz).
            if not label.startswith(("result.json model=", "result.json epochs_run=", "result.json val_rmse=",
                                     "result.json train_rmse=", "result.json n_users=", "result.json train_seconds=",
                                     "model.keras weights with")):
                assert outcome == "refused", label
        shutil.rmtree(folder)


def test_bad_values_and_data_through_the_cli(tiny_run_dir, tmp_path):
    outcomes = [_assert_clean_cli(*_cli(argv), " ".join(argv)) for argv in cli_argument_cases(tiny_run_dir, tmp_path)]
    for number, (label, ratings, movies) in enumerate(csv_pairs()):
        folder = tmp_path / f"data{number}"
        folder.mkdir()
        (folder / "ratings.csv").write_bytes(ratings)
        (folder / "movies.csv").write_bytes(movies)
        argv = ["train", "--data", str(folder), "--preset", "fast", "--epochs", "1", "--out", str(folder / "run")]
        outcomes.append(_assert_clean_cli(*_cli(argv), label))
    assert "refused" in outcomes


def test_the_corpus_has_at_least_500_inputs(mutations, tiny_run_dir, tmp_path):
    """The tests above, counted: each damaged run through two CLI commands (and every third as a zip through
    Compare), the argument cases and CSV pairs through the CLI, the CSV pairs as uploads, the URL values."""
    counts = {
        "cli run folders": 2 * len(mutations),
        "cli values and data": len(cli_argument_cases(tiny_run_dir, tmp_path)) + len(csv_pairs()),
        "app uploads": len(csv_pairs()),
        "app run zips": len(mutations[::ZIP_EVERY]),
        "app url values": len(URL_KEYS) * len(URL_VALUES),
    }
    assert sum(counts.values()) >= 500, counts
