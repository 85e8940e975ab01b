"""Hostile inputs under the upload limit: the worst time and RSS increase per attack class.

Each attack runs in a fresh Python process that first does the legitimate work once (imports, one valid run
zip or upload loaded, a page drawn), resets its peak-RSS counter (Linux ``/proc/self/clear_refs``), then takes
the hostile input. Printed per class: inputs, refused, worst seconds, worst peak-RSS increase in MB, the largest
child process it started (0: none) and the disk a run zip's load left behind (in a folder of its own). Targets:
no input under the upload limit raises RSS by more than 300 MB or takes more than 10 s to refuse, and no child
passes 1 GB.

The server's classes: the Embeddings page at ``minr=0`` on a run of an upload of 1,000,000 ratings over 200,000
movies; t-SNE and the one-hot measurement asked for past their caps (refused) and at them (computed).

    python bench/hostile.py [--json] [--only server|files]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

_WORKER = r"""
import io, json, sys, time
sys.path.insert(0, {repo!r})
kind, path, warm = sys.argv[1], sys.argv[2], sys.argv[3]
from cfcore.data.dataset import dataset_from_files
from cfcore.data.errors import DataError
from cfcore.runs.zip import RunZipError, load_run_from_zip
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
if kind == "csv":
    good = json.loads(open(warm).read())
    dataset_from_files(open(good[0], "rb").read(), open(good[1], "rb").read())
    ratings, movies = path.split("|")
    load = lambda: dataset_from_files(open(ratings, "rb").read(), open(movies, "rb").read())
else:
    import tempfile
    from pathlib import Path
    from cfcore.workspaces.disk import folder_bytes
    load_run_from_zip(open(warm, "rb").read())
    kept = Path(tempfile.mkdtemp(prefix="cfcore-hostile-kept-")) / "run"
    load = lambda: load_run_from_zip(open(path, "rb").read(), kept)
open("/proc/self/clear_refs", "w").write("5")
base = peak_mb()
start = time.perf_counter()
try:
    load()
    outcome = "accepted"
except (DataError, RunZipError) as err:
    outcome = "refused"
seconds, rss = time.perf_counter() - start, peak_mb() - base
disk = 0 if kind == "csv" else folder_bytes(kept)
print(json.dumps({{"outcome": outcome, "seconds": seconds, "rss_mb": rss, "disk_mb": disk / 2**20}}))
"""

# The web server's side: a page drawn on a big run, t-SNE and the one-hot measurement past and at their caps.
_SERVER_WORKER = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
kind, arg = sys.argv[1], sys.argv[2]
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
def wait(job):
    while not job.finished:
        time.sleep(0.2)
    if job.state != "done":
        raise RuntimeError(job.error)
note = ""
if kind == "map":
    from streamlit.testing.v1 import AppTest
    warm_ws, ws = arg.split("|")
    def page(ws):
        at = AppTest.from_file({page!r}, default_timeout=900)
        at.query_params.update({{"ws": ws, "minr": "0"}})
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].value)
        return at
    page(warm_ws)
    def attack():
        global note
        at = page(ws)
        specs = [chart.proto.spec for chart in at.get("plotly_chart")]
        drawn = max(sum(len(trace.get("customdata", [])) for trace in json.loads(spec)["data"]) for spec in specs)
        said = next((c.value for c in at.caption if c.value.startswith("Showing")), "no caption says so")
        note = f"{{drawn:,}} movies drawn, largest chart message {{max(map(len, specs)) / 1e6:.1f}} MB; {{said[:80]}}"
        return "accepted"
elif kind == "tsne":
    import numpy as np
    from cfcore.analysis.projection import ProjectionError, ProjectionJobs
    jobs = ProjectionJobs()
    n, perplexity = (int(x) for x in arg.split(","))
    vectors = np.random.default_rng(0).normal(size=(n, 64))  # the run's, already in the server
    def attack():
        try:
            wait(jobs.request(vectors, 0, perplexity))
        except ProjectionError:
            return "refused"
        return "accepted"
else:
    from cfcore.analysis.onehot import CostJobs, MeasureError
    jobs = CostJobs(timeout_s=600)
    sizes = [int(x) for x in arg.split(",")]
    def attack():
        try:
            wait(jobs.request(*sizes))
        except MeasureError:
            return "refused"
        return "accepted"
open("/proc/self/clear_refs", "w").write("5")
base = peak_mb()
start = time.perf_counter()
outcome = attack()
print(json.dumps({{"outcome": outcome, "seconds": time.perf_counter() - start, "rss_mb": peak_mb() - base,
                  "child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "note": note}}))
"""


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _npz(n: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, dtype in (("user", np.int64), ("movie", np.int64), ("rating", np.float64), ("val_rows", np.int64)):
            with archive.open(f"{key}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.zeros(n if key != "val_rows" else 10, dtype=dtype))
    return buffer.getvalue()


def build_corpus(folder: Path, run_dir: Path) -> tuple[dict[str, list[Path | str]], Path, Path]:
    """Attack files by class, plus the legitimate warm-up inputs."""
    good = {name: (run_dir / name).read_bytes() for name in
            ("model.keras", "embeddings.npz", "config.json", "result.json", "history.csv", "users.csv", "movies.csv",
             "ratings.npz")}
    warm_zip = folder / "good.zip"
    warm_zip.write_bytes(_zip(good))
    movies = folder / "movies.csv"
    movies.write_text("movieId,title,genres\n" + "".join(f"{m},Movie {m},Drama\n" for m in range(1, 2001)))
    ratings = folder / "ratings.csv"
    pairs = ((u, m) for u in range(1, 11) for m in range(1, 2001))
    ratings.write_text("userId,movieId,rating\n" + "".join(f"{u},{m},4\n" for u, m in pairs))
    warm_csv = folder / "warm.json"
    warm_csv.write_text(json.dumps([str(ratings), str(movies)]))
    corpus: dict[str, list] = {"csv: wide header": [], "csv: long line": [], "csv: many rows (careful path)": [],
                               "run zip: inflating ratings.npz": [], "run zip: model declares millions": [],
                               "run zip: over the rating limit": [], "run zip: padded members": [],
                               "run zip: HDF5 reaching outside": []}
    for columns in (10_000, 1_000_000):
        path = folder / f"wide{columns}.csv"
        path.write_text(",".join(f"c{i}" for i in range(columns)) + "\n1,2,3\n")
        corpus["csv: wide header"].append(f"{path}|{movies}")
    path = folder / "long.csv"
    path.write_text("userId,movieId,rating\n1,1," + "4" * 40_000_000 + "\n")
    corpus["csv: long line"].append(f"{path}|{movies}")
    path = folder / "careful.csv"  # a stray space in the header: the slow, careful path, up to the size limit
    with open(path, "w") as out:
        out.write("userId ,movieId,rating\n")
        rows = 1_900_000
        users = np.arange(rows) // 2000 + 1
        items = np.arange(rows) % 2000 + 1
        out.write("".join(f"{u},{m},4.5\n" for u, m in zip(users, items, strict=True)))
    corpus["csv: many rows (careful path)"].append(f"{path}|{movies}")
    for n in (5_000_000, 60_000_000):
        path = folder / f"npz{n}.zip"
        path.write_bytes(_zip({**good, "ratings.npz": _npz(n)}))
        corpus["run zip: inflating ratings.npz" if n > 10**7 else "run zip: over the rating limit"].append(path)
    with zipfile.ZipFile(io.BytesIO(good["model.keras"])) as archive:
        inner = {name: archive.read(name) for name in archive.namelist()}
    for users in (10_000_000, 40_000_000):
        config = json.loads(inner["config.json"])
        config["config"]["n_users"] = users
        model = _zip({**inner, "config.json": json.dumps(config).encode()})
        path = folder / f"model{users}.zip"
        path.write_bytes(_zip({**good, "model.keras": model}))
        corpus["run zip: model declares millions"].append(path)
    # Padding that once landed a 343 KB zip as 328 MB: after an array in ratings.npz, inside metadata.json.
    with zipfile.ZipFile(io.BytesIO(good["ratings.npz"])) as archive:
        arrays = {name: archive.read(name) for name in archive.namelist()}
    padded = {
        "npy": {**good, "ratings.npz": _zip({**arrays, "rating.npy": arrays["rating.npy"] + bytes(300 * 2**20)})},
        "metadata": {**good, "model.keras": _zip({**inner, "metadata.json": b'{"p": "' + b" " * 300 * 2**20 + b'"}'})},
    }
    for label, files in padded.items():
        path = folder / f"padded-{label}.zip"
        path.write_bytes(_zip(files))
        corpus["run zip: padded members"].append(path)
    # The movie table kept in a server file (HDF5 external storage): without embeddings.npz (an older version:
    # refused) and beside the real arrays (loaded; the weights are never opened).
    from tests.support.crafted import weights_reaching_outside

    crafted = _zip({**inner, "model.weights.h5": weights_reaching_outside(inner["model.weights.h5"],
                                                                          "external storage", "/etc/passwd")})
    for label, files in (("old", {k: v for k, v in good.items() if k != "embeddings.npz"}), ("new", good)):
        path = folder / f"hdf5-{label}.zip"
        path.write_bytes(_zip({**files, "model.keras": crafted}))
        corpus["run zip: HDF5 reaching outside"].append(path)
    return corpus, warm_csv, warm_zip


def _tiny_run(folder: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import make_synthetic_frames

    from cfcore.config import TrainConfig
    from cfcore.data.dataset import build_dataset
    from cfcore.data.validate import validate_movies, validate_ratings
    from cfcore.training.fit import train
    from cfcore.training.save import save_run

    ratings, movies = make_synthetic_frames()
    dataset = build_dataset(validate_ratings(ratings.astype(str)), validate_movies(movies.astype(str)), "s")
    run = train(dataset, TrainConfig(embedding_dim=8, epochs=1, batch_size=64))
    return save_run(run, folder / "tiny")


def _big_run(folder: Path) -> Path:
    """A run of an upload inside the public limits: 1,000,000 ratings (5 a movie) over 200,000 movies."""
    from cfcore.config import TrainConfig
    from cfcore.data.dataset import dataset_from_files
    from cfcore.training.fit import train
    from cfcore.training.save import save_run

    movies, per_movie, users = 200_000, 5, 6_000
    movie = np.repeat(np.arange(1, movies + 1), per_movie)
    user = (np.arange(len(movie)) * 7_919) % users + 1  # 5 different users for each movie
    stars = np.random.default_rng(0).integers(1, 11, len(movie)) / 2
    ratings = "userId,movieId,rating\n" + "".join(f"{u},{m},{r}\n" for u, m, r in zip(user, movie, stars, strict=True))
    titles = "movieId,title,genres\n" + "".join(f"{m},Movie {m} (1999),Drama|Comedy\n" for m in range(1, movies + 1))
    dataset = dataset_from_files(ratings.encode(), titles.encode())
    run = train(dataset, TrainConfig(epochs=1, batch_size=4096, patience=0))
    return save_run(run, folder / "big")


def server_corpus(folder: Path, tiny: Path) -> dict[str, list[str]]:
    """The server's attack classes, each input the worker's ``kind`` and its argument."""
    from cfcore.analysis.onehot import measure_bytes
    from cfcore.constants import MAP_MAX_MOVIES, ONEHOT_MEASURE_MAX_BYTES

    sys.path.insert(0, str(REPO))
    os.environ["CFCORE_STATE_DIR"] = str(folder / "state")
    from tests.conftest import seed_workspace

    warm, big = seed_workspace({"tiny": tiny}), seed_workspace({"big": _big_run(folder)})
    # The largest sizes the budget accepts: as many users as movies, and few users with many movies (the
    # measurement's worst ratio of peak to estimate).
    even = max(n for n in range(1_000, 200_000, 500) if measure_bytes(n, n) <= ONEHOT_MEASURE_MAX_BYTES)
    lopsided = max(n for n in range(1_000, 200_000, 500) if measure_bytes(1_000, n) <= ONEHOT_MEASURE_MAX_BYTES)
    return {
        "page: map of 200,000 movies, minr=0": [f"map|{warm}|{big}"],
        "t-SNE past the cap (refused)": [f"tsne|{MAP_MAX_MOVIES + 1},30", "tsne|200000,30"],
        "t-SNE at the cap, perplexity 50": [f"tsne|{MAP_MAX_MOVIES},50"],
        "one-hot measure past the budget": ["onehot|200000,200000,1000000", "onehot|1000000,100000,1000000"],
        "one-hot measure at the budget": [f"onehot|{even},{even},1000000", f"onehot|1000,{lopsided},1000000"],
    }


def _row(kind: str, results: list[dict]) -> dict:
    return {"class": kind, "inputs": len(results), "refused": sum(r["outcome"] == "refused" for r in results),
            "worst_seconds": max(r["seconds"] for r in results), "worst_rss_mb": max(r["rss_mb"] for r in results),
            "worst_child_mb": max(r.get("child_mb", 0.0) for r in results),
            "worst_disk_mb": max(r.get("disk_mb", 0.0) for r in results),
            "notes": [r["note"] for r in results if r.get("note")]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["server", "files"], help="run only the server's or the files' classes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cfcore-hostile-") as tmp:
        folder = Path(tmp)
        tiny = _tiny_run(folder)
        corpus, warm_csv, warm_zip = build_corpus(folder, tiny) if args.only != "server" else ({}, None, None)
        worker = folder / "worker.py"
        worker.write_text(_WORKER.format(repo=str(REPO)))
        server_worker = folder / "server_worker.py"
        server_worker.write_text(_SERVER_WORKER.format(repo=str(REPO), page=str(REPO / "pages" / "embeddings.py")))
        rows = []
        for kind, inputs in (server_corpus(folder, tiny) if args.only != "files" else {}).items():
            results = []
            for item in inputs:
                name, arg = item.split("|", 1)
                done = subprocess.run([sys.executable, str(server_worker), name, arg], capture_output=True, text=True,
                                      timeout=1200, env=os.environ)
                if done.returncode != 0:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            rows.append(_row(kind, results))
        for kind, inputs in corpus.items():
            results = []
            for item in inputs:
                csv = kind.startswith("csv")
                done = subprocess.run([sys.executable, str(worker), "csv" if csv else "zip", str(item),
                                       str(warm_csv if csv else warm_zip)], capture_output=True, text=True,
                                      timeout=600)
                if done.returncode != 0:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            rows.append(_row(kind, results))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'attack class':36} {'inputs':>6} {'refused':>7} {'worst s':>8} {'worst +RSS MB':>13} "
              f"{'child MB':>8} {'disk KB':>8}")
        for row in rows:
            print(f"{row['class']:36} {row['inputs']:>6} {row['refused']:>7} {row['worst_seconds']:>8.2f} "
                  f"{row['worst_rss_mb']:>13.0f} {row['worst_child_mb']:>8.0f} {row['worst_disk_mb'] * 1024:>8.0f}")
        for row in rows:
            for note in row["notes"]:
                print(f"{row['class']}: {note}")
    worst = max(rows, key=lambda row: row["worst_rss_mb"])
    child = max(rows, key=lambda row: row["worst_child_mb"])
    print(f"worst RSS increase {worst['worst_rss_mb']:.0f} MB ({worst['class']}), largest child "
          f"{child['worst_child_mb']:.0f} MB ({child['class']}); target <= 300 MB, <= 10 s to refuse, children "
          "<= 1 GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
