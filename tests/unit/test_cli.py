"""The explore, recommend and export commands, on a run trained in the test session."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from cfcore.cli import main
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
    assert list(payload) == ["variance_explained", *RANKING_KEYS]
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
        "import sys; from cfcore.cli import main; "
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
