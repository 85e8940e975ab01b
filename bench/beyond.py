"""The numbers behind the "Beyond the article" page, printed as markdown tables (docs/reproducing.md's come from here).

On one split (80/20, ``--seed``): the article's bias model and the three factors methods (dimension ``--dim``),
each one's validation RMSE and time; linear CKA and neighbour overlap@10 of each against the bias model (movies
with more than 20 ratings); the linear one-hot model against the biases baseline; and a Dense layer on one-hot
vectors against a lookup (``python -m cfcore.training.onehot_cost``, one thread, as the page measures it).

Usage::

    python bench/beyond.py                    # the shared ml-latest-small copy, seed 42, 64 factors
    python bench/beyond.py --data PATH --seed 7 --dim 32
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cfcore.config import FACTOR_METHODS, factor_config, preset  # noqa: E402
from cfcore.data.sources import load_dataset  # noqa: E402
from cfcore.data.split import split_dataset  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "ml-latest-small"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args(argv)

    from cfcore.analysis.onehot import onehot_linear
    from cfcore.analysis.similarity import compare_runs
    from cfcore.training.fit import train

    dataset = load_dataset(args.data)
    split = split_dataset(dataset, 0.2, args.seed)
    runs = {"dot_with_bias (article preset)": train(dataset, preset("article", seed=args.seed), split=split)}
    for method in FACTOR_METHODS:
        runs[method] = train(dataset, factor_config(method, args.dim, args.seed), split=split)
    reference = runs["dot_with_bias (article preset)"]
    print(f"{dataset.source}: {dataset.n_ratings:,} ratings, split seed {args.seed}, {args.dim} factors\n")
    print("| run | val RMSE | validation loss | epochs | seconds | CKA vs the bias model | overlap@10 |")
    print("|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        compared = compare_runs(run, reference, 20)
        print(f"| {name} | {run.result.best_val_rmse:.4f} | {run.result.history[-1]['val_loss']:.4f} | "
              f"{run.result.epochs_run} | {run.result.train_seconds:.1f} | {compared.linear_cka:.3f} | "
              f"{compared.neighbour_overlap_at_10:.3f} |")
    began = time.perf_counter()
    linear = onehot_linear(split, dataset.n_users, dataset.n_movies)
    print(f"\nlinear model on one-hot vectors: val RMSE {linear.val_rmse:.4f}; user + movie biases baseline "
          f"{linear.bias_val_rmse:.4f}; largest prediction gap {linear.max_difference:.1e} "
          f"({time.perf_counter() - began:.1f} s)\n")
    # In a child process with one thread, as the app measures it (this process's TensorFlow is set up already).
    child = subprocess.run([sys.executable, "-m", "cfcore.training.onehot_cost", "--users", str(dataset.n_users),
                            "--movies", str(dataset.n_movies), "--train", str(split.n_train), "--dim", str(args.dim)],
                           capture_output=True, text=True, check=True, cwd=REPO)
    cost = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"Dense on one-hot vs lookup, same weights: largest prediction difference {cost['max_difference']:g}\n")
    print("| input | ms per step | s per epoch | gradient bytes per step | inputs of an epoch (bytes) |")
    print("|---|---|---|---|---|")
    for side in ("lookup", "one-hot"):
        row = cost[side]
        print(f"| {side} | {row['seconds_per_step'] * 1000:.2f} | {row['seconds_per_epoch']:.1f} | "
              f"{row['gradient_bytes_per_step']:,} | {row['input_bytes_per_epoch']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
