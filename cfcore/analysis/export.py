"""A run's embeddings written out: a frame of every vector, and the TensorFlow Embedding Projector's TSV files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cfcore.analysis.errors import AnalysisError
from cfcore.analysis.movies import movie_table
from cfcore.runs.run import Run
from cfcore.text import spreadsheet_cell, spreadsheet_safe


def embeddings_frame(run: Run) -> pd.DataFrame:
    """Movie embeddings as a table: movieId, title, then dim_1 .. dim_d (movie-index order)."""
    movie = run.embeddings.movie
    table = movie_table(run)[["movieId", "title"]]
    dims = pd.DataFrame(movie, columns=[f"dim_{i + 1}" for i in range(movie.shape[1])])
    return pd.concat([table, dims], axis=1)


def _tsv_field(text: str) -> str:
    # The Embedding Projector splits on tabs and lines; a title must stay one field, and a spreadsheet
    # opening the file must not run it as a formula.
    return spreadsheet_cell(" ".join(str(text).replace("\t", " ").splitlines()))


def write_projector_files(run: Run, out_dir: str | Path) -> list[Path]:
    """Write ``movie_embeddings.csv`` and the Embedding Projector's ``vectors.tsv`` and ``metadata.tsv``.

    ``vectors.tsv`` has no header, one movie per line; ``metadata.tsv`` has the
    header ``title, genres, movieId, num_ratings, rating`` and the same line order
    (load both at https://projector.tensorflow.org).

    Returns:
        The three paths written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise AnalysisError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    frame = embeddings_frame(run)
    csv_path = out / "movie_embeddings.csv"
    spreadsheet_safe(frame).to_csv(csv_path, index=False, float_format="%.7g")
    vectors_path = out / "vectors.tsv"
    dims = frame.drop(columns=["movieId", "title"]).to_numpy(dtype=np.float64)
    np.savetxt(vectors_path, dims, fmt="%.7g", delimiter="\t")
    metadata_path = out / "metadata.tsv"
    table = movie_table(run)
    lines = ["title\tgenres\tmovieId\tnum_ratings\trating"]
    lines += [
        f"{_tsv_field(r.title)}\t{_tsv_field(r.genres)}\t{r.movieId}\t{r.num_ratings}\t{r.rating:.3f}"
        for r in table.itertuples(index=False)
    ]
    metadata_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [csv_path, vectors_path, metadata_path]
