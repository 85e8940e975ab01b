"""Peak memory (RSS) and time of loading and training at several sizes, projected to 25M ratings.

Each measurement runs in its own process, since peak RSS is per process. It loads a
MovieLens-format folder with ``cfcore.data.sources.load_dataset``, splits it 80/20 and
trains the article preset (``cfcore.training.fit.train``, the compiled loop) for
``--epochs`` epochs, and reports the peak RSS after the imports, after loading and
after training, and the seconds per epoch. With ``--naive-steps`` it also times
that many batches of a plain ``model.fit`` of the same model.

Sizes: the shared ml-latest-small, synthetic folders of N ratings whose users
and movies grow in ml-25m's proportions (162,541 users and 59,047 rated movies
for 25,000,095 ratings), and ``tables25m``: few ratings but ml-25m's full table
sizes, which is what the per-step cost of a dense optimiser depends on.
The last lines fit RSS = a + b * ratings over the synthetic sizes and project
memory and epoch time to ml-25m.

With ``--server-session`` it measures the web server instead (``bench/long_session.py``): one person's long
mixed session in headless Chromium (five workspaces, an upload, trainings, t-SNE maps, the Beyond page), then
every tab closed, and the server's RSS before, at its peak and after everyone has left, against its target.

    python bench/memory.py                              # ml-latest-small, 1M, 2M, tables25m
    python bench/memory.py --sizes 500000 --epochs 1 --naive-steps 0
    python bench/memory.py --server-session             # about 6 minutes
    python bench/memory.py --server-session --quick     # two workspaces, about 3 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
ML25M = {"ratings": 25_000_095, "users": 162_541, "movies": 59_047}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_synthetic(folder: Path, n_ratings: int, n_users: int, n_movies: int, seed: int = 0) -> None:
    """A MovieLens-format folder: ``n_ratings`` distinct (user, movie) pairs, popular movies rated more."""
    import numpy as np

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    popularity /= popularity.sum()
    pairs = np.empty(0, dtype=np.int64)
    while len(pairs) < n_ratings:
        extra = int((n_ratings - len(pairs)) * 1.3) + 1000
        draw = rng.integers(0, n_users, extra) * n_movies + rng.choice(n_movies, extra, p=popularity)
        pairs = np.unique(np.concatenate([pairs, draw]))
    pairs = rng.permutation(pairs)[:n_ratings]
    users, movies = pairs // n_movies + 1, pairs % n_movies + 1
    stars = rng.integers(1, 11, n_ratings) / 2
    stamps = rng.integers(800_000_000, 1_600_000_000, n_ratings)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "ratings.csv", "w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        for start in range(0, n_ratings, 1_000_000):
            end = start + 1_000_000
            out.writelines(f"{u},{m},{r},{t}\n" for u, m, r, t in zip(
                users[start:end].tolist(), movies[start:end].tolist(), stars[start:end].tolist(),
                stamps[start:end].tolist(), strict=True))
    with open(folder / "movies.csv", "w") as out:
        out.write("movieId,title,genres\n")
        out.writelines(f"{m},Movie {m} ({1950 + m % 70}),Drama|Comedy\n" for m in range(1, n_movies + 1))


def child(folder: Path, epochs: int, naive_steps: int) -> dict:
    """Measure one folder in this process; return a JSON-able dict."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    from dataclasses import replace

    import tensorflow as tf  # noqa: F401 - imported here so its memory counts as "imports"

    from cfcore.config import PRESETS
    from cfcore.data.sources import load_dataset
    from cfcore.training.fit import train

    out = {"peak_imports_mb": _peak_mb()}
    started = time.perf_counter()
    dataset = load_dataset(folder, download=False)
    out.update(ratings=dataset.n_ratings, users=dataset.n_users, movies=dataset.n_movies,
               load_seconds=time.perf_counter() - started, peak_load_mb=_peak_mb())
    config = replace(PRESETS["article"], epochs=epochs, patience=0, seed=0)
    run = train(dataset, config)
    seconds = [row["seconds"] for row in run.result.history]
    out.update(peak_train_mb=_peak_mb(), train_seconds=run.result.train_seconds,
               epoch_seconds=seconds[-1], n_train=run.split.n_train, val_rmse=run.result.best_val_rmse)
    if naive_steps:
        import keras

        from cfcore.training.build import build_model

        model = build_model(config.model, dataset.n_users, dataset.n_movies, config.embedding_dim, seed=0,
                            min_rating=dataset.min_rating, max_rating=dataset.max_rating)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
        rows = slice(0, (naive_steps + 50) * config.batch_size)
        x, y = run.split.x_train[rows], run.split.y_train[rows]
        model.fit(x[:50 * config.batch_size], y[:50 * config.batch_size], batch_size=config.batch_size, verbose=0)
        started = time.perf_counter()  # after a warm-up call, so tracing is not counted
        model.fit(x[50 * config.batch_size:], y[50 * config.batch_size:], batch_size=config.batch_size, verbose=0)
        out["naive_step_seconds"] = (time.perf_counter() - started) / naive_steps
    out["step_seconds"] = out["epoch_seconds"] / -(-run.split.n_train // config.batch_size)
    return out


def measure(folder: Path, label: str, epochs: int, naive_steps: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(folder), "--epochs", str(epochs), "--naive-steps", str(naive_steps)],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if done.returncode != 0:
        raise SystemExit(f"error: measuring {label} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["label"] = label
    return result


def server_session(workspaces: int, minutes: float) -> int:
    """The web server's RSS through one person's long session (``bench/long_session.py``); prints a summary line
    and the report as JSON."""
    import long_session

    report = long_session.run(workspaces, minutes)
    print(long_session.summary(report))
    print(json.dumps(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[1_000_000, 2_000_000],
                        help="synthetic sizes in ratings (users and movies scale like ml-25m)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--naive-steps", type=int, default=300, help="batches of plain model.fit to time (0: skip)")
    parser.add_argument("--no-tables25m", action="store_true", help="skip the ml-25m-sized tables measurement")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    server = parser.add_argument_group("the web server's memory after a long session (--server-session)")
    server.add_argument("--server-session", action="store_true",
                        help="measure the server's RSS through one person's long mixed session instead")
    server.add_argument("--workspaces", type=int, default=5, help="workspaces opened one after another")
    server.add_argument("--minutes", type=float, default=0.0,
                        help="keep switching pages in the open tabs until this long after the first visit")
    server.add_argument("--quick", action="store_true", help="two workspaces: a quick check")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.epochs, args.naive_steps)))
        return 0
    if args.server_session:
        return server_session(2 if args.quick else args.workspaces, args.minutes)

    results = []
    small = SHARED / "ml-latest-small"
    if small.exists():
        results.append(measure(small, "ml-latest-small", args.epochs, args.naive_steps))
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            users = max(100, round(n * ML25M["users"] / ML25M["ratings"]))
            movies = max(100, round(n * ML25M["movies"] / ML25M["ratings"]))
            folder = Path(tmp) / f"synthetic-{n}"
            write_synthetic(folder, n, users, movies)
            results.append(measure(folder, f"synthetic {n:,}", args.epochs, args.naive_steps))
        if not args.no_tables25m:
            folder = Path(tmp) / "tables25m"
            write_synthetic(folder, 400_000, ML25M["users"], ML25M["movies"])
            results.append(measure(folder, "tables25m (400k ratings)", args.epochs, args.naive_steps))

    print("| data | ratings | users | movies | peak RSS after imports / load / train (MB) | load s | "
          "s/epoch (compiled) | ms/step compiled | ms/step naive fit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        naive = f"{1000 * r['naive_step_seconds']:.2f}" if "naive_step_seconds" in r else "-"
        print(f"| {r['label']} | {r['ratings']:,} | {r['users']:,} | {r['movies']:,} | "
              f"{r['peak_imports_mb']:.0f} / {r['peak_load_mb']:.0f} / {r['peak_train_mb']:.0f} | "
              f"{r['load_seconds']:.1f} | {r['epoch_seconds']:.1f} | {1000 * r['step_seconds']:.2f} | {naive} |")

    synthetic = [r for r in results if r["label"].startswith("synthetic")]
    if len(synthetic) >= 2:
        import numpy as np

        n = np.array([r["ratings"] for r in synthetic], dtype=float)
        per_rating = {key: np.polyfit(n, [r[key] for r in synthetic], 1) for key in ("peak_load_mb", "peak_train_mb")}
        step = max(results, key=lambda r: r["users"])  # the biggest tables: the per-step cost at scale
        steps_25m = 0.8 * ML25M["ratings"] / 32
        print()
        for key, (slope, base) in per_rating.items():
            print(f"{key}: {base:.0f} MB + {1e6 * slope:.0f} MB per million ratings "
                  f"-> ml-25m: {(base + slope * ML25M['ratings']) / 1024:.1f} GB")
        print(f"article preset on ml-25m (80% = {steps_25m:,.0f} batches of 32 per epoch): "
              f"~{steps_25m * step['step_seconds'] / 60:.0f} min/epoch with the compiled loop "
              f"({1000 * step['step_seconds']:.2f} ms/step at ml-25m table sizes)")
        if "naive_step_seconds" in step:
            print(f"plain model.fit: ~{steps_25m * step['naive_step_seconds'] / 3600:.1f} h/epoch "
                  f"({1000 * step['naive_step_seconds']:.2f} ms/step: Keras' Adam updates all "
                  f"{step['users'] + step['movies']:,} rows every step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
