"""``python -m cfcore``: each command's contract (one JSON document on stdout with ``--json``, one-line errors and
exit code 2): train, factors, explore (with ``--projection``), recommend, export, similarity and upgrade-run, on runs
trained in the test session."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cfcore.cli.main import main
from cfcore.config import PRESETS
from cfcore.runs.run import load_run
from cfcore.runs.zip import load_run_from_zip
from tests.support.crafted import crafted_model, crafted_run_zip
from tests.support.data import make_synthetic_frames
from tests.support.paths import REPO

RANKING_KEYS = ["pc1_lowest", "pc1_highest", "pc2_lowest", "pc2_highest"]
ROW_KEYS = {"title", "PC1", "PC2", "rating", "genres", "num_ratings"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def loaded(tiny_run_dir):
    from cfcore.runs.run import load_run

    return load_run(tiny_run_dir)


def test_explore_json_is_one_object_matching_the_analysis(capsys, tiny_run_dir, loaded):
    from cfcore.analysis.pca import pc_rankings

    code, out, err = run_cli(capsys, "explore", tiny_run_dir, "--json", "--min-ratings", "25", "--top", "4")
    assert code == 0, err
    payload = json.loads(out)  # exactly one JSON document on stdout
    assert list(payload) == ["variance_explained", *RANKING_KEYS, "bias_rankings"]  # a bias model: its biases
    fractions = payload["variance_explained"]
    assert len(fractions) == loaded.config.embedding_dim
    assert sum(fractions) == pytest.approx(1.0)
    assert fractions == sorted(fractions, reverse=True)
    expected = pc_rankings(loaded, min_ratings=25, top=4)
    for key in RANKING_KEYS:
        rows = payload[key]
        assert 0 < len(rows) <= 4
        assert all(set(row) == ROW_KEYS and row["num_ratings"] > 25 for row in rows)
        assert [row["title"] for row in rows] == expected[key]["title"].tolist()
        np.testing.assert_allclose([row["PC1"] for row in rows], expected[key]["PC1"])


def test_explore_json_has_the_bias_rankings_of_a_model_with_biases(capsys, tiny_run_dir, loaded, dot_run, tmp_path):
    from cfcore.analysis.biases import bias_rankings
    from cfcore.training.save import save_run

    code, out, err = run_cli(capsys, "explore", tiny_run_dir, "--json", "--min-ratings", "10", "--top", "3")
    assert code == 0, err
    ranked = json.loads(out)["bias_rankings"]
    expected = bias_rankings(loaded, min_ratings=10, top=3)
    for end in ("lowest", "highest"):
        assert [set(row) for row in ranked[end]] == [{"movieId", "title", "bias", "mean_rating", "num_ratings"}] * 3
        assert [row["movieId"] for row in ranked[end]] == expected[end]["movieId"].tolist()
        np.testing.assert_allclose([row["bias"] for row in ranked[end]], expected[end]["bias"])
    code, out, _ = run_cli(capsys, "explore", tiny_run_dir, "--min-ratings", "10", "--top", "3")
    assert "lowest movie bias" in out and "highest movie bias" in out
    code, out, _ = run_cli(capsys, "explore", save_run(dot_run, tmp_path / "dot"), "--json")
    assert "bias_rankings" not in json.loads(out)  # no biases, no rankings


def test_explore_centered_changes_the_answer(capsys, tiny_run_dir):
    _, plain, _ = run_cli(capsys, "explore", tiny_run_dir, "--json")
    _, centered, _ = run_cli(capsys, "explore", tiny_run_dir, "--json", "--centered")
    assert json.loads(plain)["variance_explained"] != json.loads(centered)["variance_explained"]


def test_explore_text(capsys, tiny_run_dir, loaded):
    code, out, err = run_cli(capsys, "explore", tiny_run_dir, "--top", "3")
    assert code == 0 and err == ""
    assert "variance explained per component" in out
    assert "PC1" in out and "%" in out
    for heading in ("PC1 lowest", "PC1 highest", "PC2 lowest", "PC2 highest"):
        assert f"{heading} (movies with more than 20 ratings)" in out
    top_title = loaded.dataset.movies["title"]  # some real title appears in the tables
    assert any(title in out for title in top_title)


def test_recommend_json(capsys, tiny_run_dir, loaded):
    from cfcore.analysis.predict import user_ratings, user_rmse

    user_id = int(loaded.dataset.index_to_user[2])
    code, out, err = run_cli(capsys, "recommend", tiny_run_dir, "--user", user_id, "--top", "5", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"user", "rmse", "n_rated", "recommendations"}
    rated = user_ratings(loaded, user_id)
    assert payload["user"] == user_id and payload["n_rated"] == len(rated)
    assert payload["rmse"] == pytest.approx(user_rmse(rated))
    recs = payload["recommendations"]
    assert len(recs) == 5 and all(set(r) == {"title", "movieId", "predicted"} for r in recs)
    assert not {r["movieId"] for r in recs} & set(rated["movieId"])
    predicted = [r["predicted"] for r in recs]
    assert predicted == sorted(predicted, reverse=True)


def test_recommend_filters_by_ratings_as_the_page_does(capsys, tiny_run_dir, loaded):
    from cfcore.analysis.predict import recommend

    user_id = int(loaded.dataset.index_to_user[2])
    counts = loaded.dataset.movies.set_index("movieId")["num_ratings"]
    threshold = int(counts.median())
    code, out, err = run_cli(capsys, "recommend", tiny_run_dir, "--user", user_id, "--top", "50",
                             "--min-ratings", threshold, "--json")
    assert code == 0, err
    ids = [r["movieId"] for r in json.loads(out)["recommendations"]]
    assert ids and all(counts[i] > threshold for i in ids)
    assert ids == recommend(loaded, user_id, top=50, min_ratings=threshold)["movieId"].tolist()
    code, out, _ = run_cli(capsys, "recommend", tiny_run_dir, "--user", user_id, "--top", "50", "--json")
    default = [r["movieId"] for r in json.loads(out)["recommendations"]]
    assert default == recommend(loaded, user_id, top=50, min_ratings=20)["movieId"].tolist()  # the page's 20


def test_train_takes_the_articles_initialiser_and_dropout(synthetic_folder, tmp_path, capsys):
    from cfcore.runs.run import load_run

    code = main(["train", "--data", str(synthetic_folder), "--model", "simple_embedding", "--own-init", *SMALL,
                 "--out", str(tmp_path / "own")])
    assert code == 0, capsys.readouterr().err
    assert load_run(tmp_path / "own").config.own_init is True
    code = main(["train", "--data", str(synthetic_folder), "--user-dropout", "0.1", "--movie-dropout", "0.2", *SMALL,
                 "--out", str(tmp_path / "drop")])
    assert code == 0, capsys.readouterr().err
    config = load_run(tmp_path / "drop").config
    assert (config.user_dropout, config.movie_dropout) == (0.1, 0.2)
    code = main(["train", "--data", str(synthetic_folder), "--model", "simple_dot", *SMALL,
                 "--out", str(tmp_path / "d")])
    assert code == 0 and load_run(tmp_path / "d").config.user_dropout == 0.0  # no dropout recorded for simple_dot


def test_recommend_text(capsys, tiny_run_dir, loaded):
    user_id = int(loaded.dataset.index_to_user[0])
    code, out, _ = run_cli(capsys, "recommend", tiny_run_dir, "--user", user_id, "--top", "3")
    assert code == 0
    assert f"user {user_id}: rated" in out and "RMSE" in out
    assert "top 3 unseen movies" in out


def test_export_writes_csv_and_projector_files(capsys, tiny_run_dir, loaded, tmp_path):
    code, out, err = run_cli(capsys, "export", tiny_run_dir, "--out", tmp_path / "export")
    assert code == 0, err
    folder = tmp_path / "export"
    assert {p.name for p in folder.iterdir()} == {"movie_embeddings.csv", "vectors.tsv", "metadata.tsv"}
    vectors = np.loadtxt(folder / "vectors.tsv", delimiter="\t")
    assert vectors.shape == (loaded.dataset.n_movies, loaded.config.embedding_dim)
    metadata = (folder / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert metadata[0].startswith("title\tgenres\tmovieId")
    assert len(metadata) == loaded.dataset.n_movies + 1
    assert "vectors.tsv" in out


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "unexpected" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_user_is_a_one_line_error(capsys, tiny_run_dir):
    code, out, err = run_cli(capsys, "recommend", tiny_run_dir, "--user", "2")
    assert_one_line_error(code, out, err, "unknown userId 2")


def test_bad_run_directories_are_one_line_errors(capsys, tmp_path, tiny_run_dir):
    assert_one_line_error(*run_cli(capsys, "explore", tmp_path / "missing"), "run directory not found")
    assert_one_line_error(*run_cli(capsys, "export", tmp_path, "--out", tmp_path / "x"), "not a cfcore run")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.keras").write_bytes((tiny_run_dir / "model.keras").read_bytes())
    assert_one_line_error(*run_cli(capsys, "recommend", broken, "--user", "1"), "missing")


def test_export_to_a_file_is_a_one_line_error(capsys, tiny_run_dir, tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    assert_one_line_error(*run_cli(capsys, "export", tiny_run_dir, "--out", target), "not a folder")


def test_wrong_run_dir_answers_before_loading_tensorflow(tmp_path):
    code = (
        "import sys; from cfcore.cli.main import main; "
        f"rc = main(['explore', {str(tmp_path / 'nope')!r}]); print(rc, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False"]
    assert done.stderr.startswith("error: run directory not found")


def test_recommend_json_subprocess_keeps_stderr_clean(tiny_run_dir, loaded):
    user_id = int(loaded.dataset.index_to_user[1])
    done = subprocess.run(
        [sys.executable, "-m", "cfcore", "recommend", str(tiny_run_dir), "--user", str(user_id), "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # TensorFlow's start-up chatter is silenced
    assert len(json.loads(done.stdout)["recommendations"]) == 10


@pytest.mark.parametrize("argv, match", [
    (["explore", "RUN", "--seed", str(2**64)], "--seed: expected a whole number from 0 to 2,147,483,647"),
    (["explore", "RUN", "--top", "1000000000"], "--top: expected a whole number from 1 to 1,000"),
    (["explore", "RUN", "--min-ratings", "-5"], "--min-ratings: expected a whole number from 0 to"),
    (["recommend", "RUN", "--user", "1", "--top", "1000000000000"], "--top: expected a whole number from 1"),
    (["recommend", "RUN", "--user", "1", "--top", "0"], "--top: expected a whole number from 1"),
    (["recommend", "RUN", "--user", "1", "--top", "-3"], "--top: expected a whole number from 1"),
    (["explore", "RUN", "--seed", "9" * 100_000], r"--seed: expected a whole number, got '9{40}\.\.\. "
                                                  r"\(100,000 characters\)"),
])
def test_out_of_range_numbers_are_one_short_error_line(capsys, tiny_run_dir, argv, match):
    code, out, err = run_cli(capsys, *[str(tiny_run_dir) if a == "RUN" else a for a in argv])
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert re.search(match, err) and len(err) < 300


def _write_ml1m(folder, n_users=40, n_movies=30, seed=5):
    """A small folder in the ml-1m release's format: '::'-separated .dat files in latin-1."""
    ratings, movies = make_synthetic_frames(n_users=n_users, n_movies=n_movies, seed=seed)
    folder.mkdir()
    lines = [f"{u}::{m}::{int(max(1, round(r)))}::{t}" for u, m, r, t in ratings.itertuples(index=False)]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")
    titles = [f"{title.split(' (')[0]} Caf\xe9 ({title.split(' (')[1]}" for title in movies["title"]]
    text = "".join(f"{m}::{t}::{g}\n" for m, t, g in zip(movies["movieId"], titles, movies["genres"], strict=True))
    (folder / "movies.dat").write_bytes(text.encode("latin-1"))
    return ratings


def _explore(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfcore", "explore", *args], capture_output=True, text=True,
                          timeout=300)


def _similarity(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfcore", "similarity", *args], capture_output=True, text=True,
                          timeout=120)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "cfcore", *args], capture_output=True, text=True, cwd=cwd, env=env)


SUMMARY_KEYS = {"model", "epochs_run", "best_epoch", "best_val_rmse", "val_rmse", "train_rmse", "train_seconds",
                "n_users", "n_movies", "n_train", "n_val"}


SMALL = ["--dim", "8", "--epochs", "2", "--batch-size", "64"]


def run_cli_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
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


def test_cli_factors_contract(synthetic_folder, tmp_path, capsys):
    from cfcore.cli.main import main

    out = tmp_path / "svd_run"
    assert main(["factors", "--data", str(synthetic_folder), "--method", "svd", "--dim", "3", "--seed", "5",
                 "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "svd" and 0 < payload["val_rmse"] < 2
    assert main(["explore", str(out), "--min-ratings", "0", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["variance_explained"]) == 3

    implicit = tmp_path / "implicit_run"
    assert main(["factors", "--data", str(synthetic_folder), "--method", "implicit", "--dim", "3", "--seed", "5",
                 "--out", str(implicit), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "implicit" and "val_rmse" not in payload and payload["val_loss"] > 0
    assert main(["recommend", str(implicit), "--user", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: predicting ratings needs a model that predicts ratings")
    assert main(["similarity", str(out), str(implicit), "--min-ratings", "0", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"linear_cka", "neighbour_overlap_at_10", "movies"}


@pytest.mark.parametrize("argv, message", [
    (["--method", "svd", "--dim", "40"], "error: an SVD of rank 40 needs more users and movies"),
    (["--method", "nmf"], "error: argument --method: invalid choice: 'nmf'"),
    (["--method", "autorec", "--dim", "0"], "error: embedding_dim must be between 1 and 256"),
])
def test_cli_factors_errors_are_one_line(argv, message, synthetic_folder, tmp_path, capsys):
    from cfcore.cli.main import main

    assert main(["factors", "--data", str(synthetic_folder), *argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.slow
def test_cli_trains_on_an_ml1m_format_folder(tmp_path):
    data = tmp_path / "ml-1m"
    ratings = _write_ml1m(data)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "cfcore", "train", "--data", str(data), "--preset", "fast", "--epochs", "2",
         "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["n_users"] == ratings["userId"].nunique() and summary["n_train"] + summary["n_val"] == len(ratings)
    assert summary["epochs_run"] == 2 and math.isfinite(summary["best_val_rmse"])
    assert summary["config"]["batch_size"] == PRESETS["fast"].batch_size
    movies = (out / "movies.csv").read_text(encoding="utf-8")
    assert "Caf\xe9" in movies  # latin-1 titles arrive intact


@pytest.mark.slow
def test_the_cli_gives_every_movies_place_and_the_same_seed_the_same_coordinates(tiny_run_dir, tiny_run):
    runs = [_explore(str(tiny_run_dir), "--projection", "tsne", "--seed", "4", "--perplexity", "5",
                     "--min-ratings", "2", "--json") for _ in range(2)]
    assert all(done.returncode == 0 for done in runs), runs[0].stderr
    first, second = (json.loads(done.stdout) for done in runs)
    assert first["projection"] == second["projection"]
    counts = tiny_run.dataset.movies.set_index("movieId")["num_ratings"]
    assert [row["movieId"] for row in first["projection"]] == [int(m) for m in counts[counts > 2].index]
    assert set(first["projection"][0]) == {"movieId", "x", "y"}
    other = json.loads(_explore(str(tiny_run_dir), "--projection", "tsne", "--seed", "5", "--perplexity", "5",
                                "--min-ratings", "2", "--json").stdout)
    assert other["projection"] != first["projection"]
    pca = json.loads(_explore(str(tiny_run_dir), "--projection", "pca", "--json").stdout)
    assert len(pca["projection"]) == int((counts > 20).sum()) and "variance_explained" in pca


@pytest.mark.parametrize("args, message", [
    (["--projection", "umap"], "invalid choice"),
    (["--projection", "tsne", "--perplexity", "80"], "perplexity must be from 5 to 50"),
    (["--projection", "tsne", "--min-ratings", "100000"], "more movies than its perplexity"),
])
def test_cli_projection_errors_are_one_line(tiny_run_dir, args, message):
    done = _explore(str(tiny_run_dir), *args, "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: ") and message in done.stderr


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


def test_the_cli_contract(tiny_run_dir, tiny_run, tmp_path):
    done = _similarity(str(tiny_run_dir), str(tiny_run_dir), "--min-ratings", "0", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"linear_cka", "neighbour_overlap_at_10", "movies"}
    assert payload["linear_cka"] == pytest.approx(1.0) and payload["neighbour_overlap_at_10"] == 1.0
    assert payload["movies"] == tiny_run.dataset.n_movies
    text = _similarity(str(tiny_run_dir), str(tiny_run_dir), "--min-ratings", "0")
    assert text.returncode == 0 and "linear CKA" in text.stdout
    for args, message in ((["--min-ratings", "100000"], "at least 11 are needed"),
                          (["--min-ratings", "-1"], "must be 0 or more")):
        failed = _similarity(str(tiny_run_dir), str(tiny_run_dir), *args, "--json")
        assert failed.returncode == 2 and failed.stdout == "" and failed.stderr.startswith("error: ")
        assert len(failed.stderr.splitlines()) == 1 and message in failed.stderr
    missing = _similarity(str(tiny_run_dir), str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr == f"error: run directory not found: {tmp_path / 'nowhere'}\n"


@pytest.mark.slow
def test_the_cli_refuses_to_upgrade_a_crafted_zip_and_upgrades_a_real_one(tiny_run_dir, tmp_path, secret_file):
    crafted = tmp_path / "crafted.zip"
    crafted.write_bytes(crafted_run_zip(tiny_run_dir, crafted_model(tiny_run_dir, secret_file), with_embeddings=False))
    out = _cli("upgrade-run", str(crafted), "--out", str(tmp_path / "new.zip"), cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
    assert "keeps its data in another file" in out.stderr and "SECRET" not in out.stdout + out.stderr
    assert not (tmp_path / "new.zip").exists()

    older = tmp_path / "older.zip"
    model = (tiny_run_dir / "model.keras").read_bytes()
    older.write_bytes(crafted_run_zip(tiny_run_dir, model, with_embeddings=False))
    out = _cli("upgrade-run", str(older), "--out", str(tmp_path / "new.zip"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    upgraded = load_run_from_zip((tmp_path / "new.zip").read_bytes())
    original = load_run(tiny_run_dir)
    for field in ("user", "movie", "user_bias", "movie_bias"):
        np.testing.assert_array_equal(getattr(upgraded.embeddings, field), getattr(original.embeddings, field))


@pytest.mark.slow
def test_train_json_in_a_real_process(synthetic_folder, tmp_path):
    from cfcore.runs.run import load_run

    out = tmp_path / "run"
    proc = run_cli_process("train", "--data", str(synthetic_folder), "--model", "dot_with_bias", *SMALL,
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
    proc = run_cli_process("train", "--data", str(folder), "--out", str(tmp_path / "run"), "--json")
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
        (["train", "--data", "{data}", "--own-init", "--out", "{tmp}/r"], ["own_init", "simple_embedding"]),
        (["train", "--data", "{data}", "--model", "simple_dot", "--user-dropout", "0.2", "--out", "{tmp}/r"],
         ["--user-dropout", "simple_dot"]),
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


def test_cli_trains_it_with_every_flag(synthetic_folder, tmp_path, capsys):
    from cfcore.cli.main import main

    out = tmp_path / "run"
    assert main(["train", "--data", str(synthetic_folder), "--model", "svdpp", "--dim", "3", "--epochs", "2",
                 "--batch-size", "128", "--lr", "0.01", "--patience", "0", "--seed", "4", "--val-fraction", "0.25",
                 "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "svdpp" and summary["epochs_run"] == 2 and summary["config"]["val_fraction"] == 0.25
    assert main(["recommend", str(out), "--user", "1", "--top", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == 3
