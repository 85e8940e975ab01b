"""One place for the project's constants: data source, reference numbers, limits."""

from __future__ import annotations

DATASET_NAME = "ml-latest-small"
DATASET_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"

RATINGS_FILE = "ratings.csv"
MOVIES_FILE = "movies.csv"
RATINGS_COLUMNS = ("userId", "movieId", "rating")
MOVIES_COLUMNS = ("movieId", "title", "genres")

# Ratings outside this range are rejected as not being star ratings at all.
SANE_RATING_MIN = 0.0
SANE_RATING_MAX = 10.0

# Default size limits for loaded data; the app tightens them for uploads.
MAX_FILE_BYTES = 1024 * 1024 * 1024
MAX_RATING_ROWS = 30_000_000
UPLOAD_MAX_FILE_BYTES = 50 * 1024 * 1024
UPLOAD_MAX_RATING_ROWS = 2_000_000
# ml-32m lists 87,585 movies; a movies file is text per row, so its rows are capped on their own.
MAX_MOVIE_ROWS = 5_000_000
UPLOAD_MAX_MOVIE_ROWS = 200_000
# CSV shape caps, checked on the bytes before any parser allocates per column or per field.
MAX_CSV_COLUMNS = 32
MAX_CSV_LINE_BYTES = 8 * 1024
# Rows the careful CSV path holds as strings at once (bounds its memory: ~20 MB per 100,000 rows).
CSV_CHUNK_ROWS = 100_000
# Extracting an archive may not produce more than this (zip-bomb guard).
MAX_EXTRACTED_BYTES = 2 * 1024 * 1024 * 1024

# Run zips (a saved run shared as one file) come from strangers: every size is bounded. A run's dataset obeys
# the upload limits above (cfcore.runs.folder), so these only need room for 2,000,000 ratings and their model.
RUN_ZIP_MAX_INPUT_BYTES = 256 * 1024 * 1024
RUN_ZIP_MAX_EXTRACTED_BYTES = 512 * 1024 * 1024
# Eight run files plus an optional folder entry; a little slack for nothing else.
RUN_ZIP_MAX_MEMBERS = 16
# A MovieLens release holds a handful of files (ml-25m: 7); a data zip of far more is not one.
DATA_ZIP_MAX_MEMBERS = 1000
# Per-file limits; the keys are exactly the files a run directory holds.
RUN_ZIP_MAX_FILE_BYTES = {
    "model.keras": 256 * 1024 * 1024,
    # MAX_MODEL_PARAMETERS float32 weights, twice for SVD++ (its rated tables), and its rated sets.
    "embeddings.npz": 192 * 1024 * 1024,
    "config.json": 64 * 1024,
    "result.json": 4 * 1024 * 1024,
    "history.csv": 1024 * 1024,
    "users.csv": 48 * 1024 * 1024,
    "movies.csv": 64 * 1024 * 1024,
    "ratings.npz": 80 * 1024 * 1024,
}
# Most weights a model may have, (users + movies) x (embedding size + 1): 80 MB of float32, about 240 MB
# while training with Adam's two slots. ml-latest-small at size 64 needs 0.7 million.
MAX_MODEL_PARAMETERS = 20_000_000

# Most movies one map draws (and t-SNE places): past it, the most-rated ones. Every movie of ml-latest-small
# (9,742) fits; an upload's 200,000 made a 20 MB chart message per render, and t-SNE of 10,000 movies takes about
# 70 s and 0.3 GB in its child.
MAP_MAX_MOVIES = 10_000
# Most memory the one-hot measurement's arrays may need (cfcore.analysis.onehot.measure_bytes), over the 0.7 GB its
# child takes for TensorFlow alone: the child stays under 1 GB.
ONEHOT_MEASURE_MAX_BYTES = 256 * 1024 * 1024

# The article's reported validation RMSEs (ml-latest-small, 2018 release).
# (users, ratings) of the data the article's numbers are for: ml-latest-small as GroupLens serves it today, and
# the 2016 release the article used. Its RMSEs are compared only for runs on one of them, never for an upload.
ARTICLE_DATASET_SHAPES = {(610, 100_836), (671, 100_004)}
ARTICLE_VAL_RMSE = {
    "simple_dot": 1.08,
    "dot_with_bias": 0.88,
    "simple_embedding": 1.13,
}
# A public benchmark on related data, quoted by the article.
BENCHMARK_VAL_RMSE = 0.91

DEFAULT_SEED = 42
