"""cfcore.analysis.export: the embeddings table and the TensorBoard projector files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.export import embeddings_frame, write_projector_files
from tests.support.runs import make_run


def test_embeddings_frame_and_projector_files(tmp_path):
    rng = np.random.default_rng(16)
    movie = rng.normal(size=(4, 3))
    titles = ["Plain (1999)", "Tab\tinside (2000)", "Comma, The (2001)", 'Quote "Q" (2002)']
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings

    ratings = pd.DataFrame({"userId": [1, 1, 2, 2], "movieId": [1, 2, 3, 4], "rating": [1.0, 2.0, 3.0, 5.0]})
    movies = pd.DataFrame({"movieId": [1, 2, 3, 4], "title": titles, "genres": ["A", "B", "C", "D|E"]})
    run = make_run("simple_dot", movie, n_users=6)
    run.dataset = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)))
    frame = embeddings_frame(run)
    assert list(frame.columns) == ["movieId", "title", "dim_1", "dim_2", "dim_3"]
    paths = write_projector_files(run, tmp_path / "out")
    assert [p.name for p in paths] == ["movie_embeddings.csv", "vectors.tsv", "metadata.tsv"]
    back = pd.read_csv(paths[0])
    assert back["title"].tolist() == titles
    np.testing.assert_allclose(back[["dim_1", "dim_2", "dim_3"]], movie, rtol=1e-6)
    vectors = np.loadtxt(paths[1], delimiter="\t")
    np.testing.assert_allclose(vectors, movie, rtol=1e-6)
    lines = paths[2].read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:3] == ["title", "genres", "movieId"]
    assert len(lines) == 1 + len(movie)
    assert all(len(line.split("\t")) == 5 for line in lines)
    assert lines[2].startswith("Tab inside (2000)\tB\t2\t")
    (tmp_path / "file").write_text("x")
    with pytest.raises(AnalysisError):
        write_projector_files(run, tmp_path / "file")
