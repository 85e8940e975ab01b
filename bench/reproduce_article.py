"""Reproduce the article's three models with its settings and print a markdown table.

Settings (the article's): embedding dim 64, batch 32, Adam with its default
learning rate, at most 10 epochs, early stopping with patience 2, a seeded
80/20 split (seed 42). Each model is trained on each dataset given.

Usage::

    python bench/reproduce_article.py                      # both shared datasets
    python bench/reproduce_article.py --data ../shared/data/ml-latest-small-2016
    python bench/reproduce_article.py --models simple_dot --epochs 3

The article's figures (ml-latest-small, 2018 release; the shared 2016 copy is
the closest we have) are printed in the last column for comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cfcore.config import MODEL_NAMES, PRESETS  # noqa: E402
from cfcore.constants import ARTICLE_VAL_RMSE  # noqa: E402
from cfcore.data.sources import load_dataset  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DEFAULT_DATA = [SHARED / "ml-latest-small-2016", SHARED / "ml-latest-small"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", type=Path, default=DEFAULT_DATA, help="dataset folders or zips")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES))
    parser.add_argument("--epochs", type=int, default=10, help="most epochs per model (article: 10)")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from cfcore.training.fit import train  # TensorFlow only after the arguments are known

    # The article preset: dim 64, batch 32, Adam lr 1e-3, patience 2, 80/20 split.
    base = replace(PRESETS["article"], epochs=args.epochs, seed=args.seed)
    rows = []
    for path in args.data:
        dataset = load_dataset(path, download=False)
        name = Path(path).name
        print(f"# {name}: {dataset.n_users:,} users, {dataset.n_movies:,} movies, "
              f"{dataset.n_ratings:,} ratings", file=sys.stderr, flush=True)
        for model in args.models:
            config = replace(base, model=model).validate()
            started = time.perf_counter()
            run = train(dataset, config)
            seconds = time.perf_counter() - started
            result = run.result
            curve = " ".join(f"{row['val_rmse']:.3f}" for row in result.history)
            print(f"  {model}: best {result.best_val_rmse:.4f} at epoch {result.best_epoch} "
                  f"({result.epochs_run} epochs, {seconds:.0f}s); val_rmse by epoch: {curve}",
                  file=sys.stderr, flush=True)
            rows.append((name, model, result.best_val_rmse, result.best_epoch, result.epochs_run, seconds))

    print("| dataset | model | best val RMSE | best epoch | epochs run | seconds | article |")
    print("|---|---|---|---|---|---|---|")
    for name, model, rmse, best, run_epochs, seconds in rows:
        print(f"| {name} | {model} | {rmse:.3f} | {best} | {run_epochs} | {seconds:.0f} | "
              f"{ARTICLE_VAL_RMSE[model]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
