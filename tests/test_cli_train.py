"""``python -m cfcore train``: the JSON contract, the saved run, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cfcore.cli import main
from tests.support.paths import REPO

SUMMARY_KEYS = {"model", "epochs_run", "best_epoch", "best_val_rmse", "val_rmse", "train_rmse", "train_seconds",
                "n_users", "n_movies", "n_train", "n_val"}
SMALL = ["--dim", "8", "--epochs", "2", "--batch-size", "64"]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cfcore", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def assert_one_error_line(stderr: str, *fragments: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.slow
def test_train_json_in_a_real_process(synthetic_folder, tmp_path):
    from cfcore.runs.run import load_run

    out = tmp_path / "run"
    proc = run_cli("train", "--data", str(synthetic_folder), "--model", "dot_with_bias", *SMALL,
                   "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert proc.stdout.strip().count("\n") == 0
    assert SUMMARY_KEYS <= set(summary)
    assert summary["model"] == "dot_with_bias" and summary["epochs_run"] == 2
    assert len(summary["val_rmse"]) == len(summary["train_rmse"]) == 2
    assert summary["best_val_rmse"] == min(summary["val_rmse"]) and 1 <= summary["best_epoch"] <= 2
    assert (summary["n_users"], summary["n_movies"]) == (60, 40)
    assert summary["n_train"] + summary["n_val"] == len((synthetic_folder / "ratings.csv").read_text().splitlines()) - 1
    assert summary["train_seconds"] > 0
    run = load_run(out)
    assert run.result.summary()["val_rmse"] == summary["val_rmse"] and run.config.embedding_dim == 8


def test_bad_csv_in_a_real_process(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating\n1,1,4\n2,1,lots\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n1,A,Drama\n")
    proc = run_cli("train", "--data", str(folder), "--out", str(tmp_path / "run"), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_error_line(proc.stderr, "ratings.csv", "column 'rating'", "line 3", "'lots'")


@pytest.mark.parametrize("model", ["simple_dot", "simple_embedding"])
def test_train_in_process_each_model(synthetic_folder, tmp_path, capsys, model):
    from cfcore.runs.run import load_run

    code = main(["train", "--data", str(synthetic_folder), "--model", model, *SMALL, "--patience", "0",
                 "--out", str(tmp_path / model), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["model"] == model and summary["epochs_run"] == 2
    assert load_run(tmp_path / model).config.model == model


def test_plain_output_and_data_from_the_environment(synthetic_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CFCORE_DATA", str(synthetic_folder))
    code = main(["train", "--preset", "fast", "--epochs", "1", "--dim", "4", "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("data: 60 users, 40 movies") and str(synthetic_folder) in out
    assert "epoch   1/1" in out and "best val_rmse" in out and f"saved to {tmp_path / 'r'}" in out


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["train", "--data", "{tmp}/nowhere", "--out", "{tmp}/r"], ["data path not found", "nowhere"]),
        (["train", "--data", "{bad_csv}", "--out", "{tmp}/r"], ["ratings.csv", "line 2", "'x'"]),
        (["train", "--data", "{data}", "--epochs", "many", "--out", "{tmp}/r"], ["--epochs", "'many'"]),
        (["train", "--data", "{data}", "--lr", "fast", "--out", "{tmp}/r"], ["--lr", "'fast'"]),
        (["train", "--data", "{data}", "--model", "svd", "--out", "{tmp}/r"], ["--model", "'svd'"]),
        (["train", "--data", "{data}", "--frobnicate", "--out", "{tmp}/r"], ["--frobnicate"]),
        (["train", "--data", "{data}"], ["--out"]),
        (["train", "--data", "{data}", "--dim", "0", "--out", "{tmp}/r"], ["embedding_dim=0"]),
        (["train", "--data", "{data}", "--epochs", "1000", "--out", "{tmp}/r"], ["epochs", "1000"]),
        (["train", "--data", "{data}", "--batch-size", "-5", "--out", "{tmp}/r"], ["batch_size=-5"]),
        (["train", "--data", "{data}", "--val-fraction", "0.9", "--out", "{tmp}/r"], ["val_fraction=0.9"]),
        (["train", "--data", "{data}", "--lr", "5", "--out", "{tmp}/r"], ["learning_rate=5.0"]),
        (["train", "--data", "{data}", "--out", "{file}"], ["--out", "is a file"]),
        (["fly"], ["invalid choice", "'fly'"]),
        ([], ["command"]),
    ],
)
def test_errors_are_one_line_and_exit_2(args, fragments, synthetic_folder, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ratings.csv").write_text("userId,movieId,rating\nx,1,4\n")
    (bad / "movies.csv").write_text("movieId,title,genres\n1,A,Drama\n")
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    values = {"tmp": tmp_path, "data": synthetic_folder, "bad_csv": bad, "file": a_file}
    code = main([arg.format(**values) for arg in args])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert_one_error_line(captured.err, *fragments)
    assert not (tmp_path / "r").exists()  # nothing half-written on failure


def test_help_exits_zero(capsys):
    assert main(["train", "--help"]) == 0
    assert "--batch-size" in capsys.readouterr().out
