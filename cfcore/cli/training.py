"""The CLI's commands that train (``train``, ``factors``) or open a model's weights (``upgrade-run``): TensorFlow
is imported inside them, with its start-up chatter kept off stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys

from cfcore.cli.args import CliError, shown


def _import_training():
    """Import the TensorFlow-backed training module with its start-up chatter silenced.

    TensorFlow's C++ logging writes to file descriptor 2 at import time, before
    any setting can stop it; the CLI's stderr is reserved for its own messages.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "cfcore.training.fit" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            import tensorflow as tf

            tf.constant(0)  # triggers the remaining one-time CPU feature messages
            import cfcore.training.fit  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    from cfcore.training import fit, save

    return fit.train, save


def _prepare_out_dir(out: str) -> None:
    """Create the run folder up front, so a bad --out fails before minutes of training."""
    from pathlib import Path

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise CliError(f"--out {out} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"cannot create the run folder {out}: {err.strerror or err}") from None


def _train_and_save(args: argparse.Namespace, config):
    """Load ``--data``, train (or compute) ``config`` with one line per epoch, save the run in ``--out``."""
    from cfcore import settings
    from cfcore.config import check_work, predicts_ratings
    from cfcore.data.download import DownloadError
    from cfcore.data.sources import load_dataset

    try:
        dataset = load_dataset(args.data)
    except DownloadError as err:
        raise CliError(f"{err}. Give the data another way: --data PATH (a MovieLens folder or .zip) or "
                       f"the {settings.DATA_ENV_VAR} variable") from None
    check_work(config, dataset.n_users, dataset.n_movies)
    _prepare_out_dir(args.out)
    log = sys.stderr if args.json else sys.stdout
    print(
        f"data: {dataset.n_users:,} users, {dataset.n_movies:,} movies, {dataset.n_ratings:,} ratings "
        f"({dataset.source})", file=log,
    )

    rated = predicts_ratings(config.model)

    def report(progress) -> None:
        if progress.stage == "epoch" and progress.history:
            row = progress.history[-1]
            measures = [f"{key} {row[key]:.4f}" for key in
                        (("loss", "train_rmse", "val_rmse") if rated else ("loss", "val_loss"))]
            print(f"epoch {row['epoch']:>3}/{progress.epochs}  {'  '.join(measures)}  ({row['seconds']:.1f}s)",
                  file=log, flush=True)

    train, save = _import_training()
    run = train(dataset, config, listeners=[report])
    save.save_run(run, args.out)
    return run


def train(args: argparse.Namespace) -> int:
    from cfcore.config import DROPOUT_MODELS, preset

    overrides = {
        key: getattr(args, key)
        for key in ("model", "embedding_dim", "epochs", "batch_size", "learning_rate", "patience", "seed",
                    "user_dropout", "movie_dropout", "own_init", "val_fraction")
        if getattr(args, key) is not None
    }
    config = preset(args.preset, **overrides)
    if config.model not in DROPOUT_MODELS and {"user_dropout", "movie_dropout"} & set(overrides):
        raise CliError(f"--user-dropout and --movie-dropout apply to {' and '.join(DROPOUT_MODELS)} only, "
                       f"not {config.model}")
    run = _train_and_save(args, config)
    summary = run.result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"best val_rmse {summary['best_val_rmse']:.4f} at epoch {summary['best_epoch']} "
            f"({summary['epochs_run']} epochs, {summary['train_seconds']:.1f}s); saved to {args.out}"
        )
    return 0


def factors(args: argparse.Namespace) -> int:
    from cfcore.config import factor_config, predicts_ratings

    run = _train_and_save(args, factor_config(args.method, args.embedding_dim, args.seed))
    last = run.result.history[-1]
    payload = {"method": args.method, "dim": args.embedding_dim, "seed": args.seed,
               "n_movies": run.dataset.n_movies, "epochs_run": run.result.epochs_run,
               "seconds": run.result.train_seconds, "out": args.out}
    if predicts_ratings(args.method):
        payload["val_rmse"] = run.result.best_val_rmse
    else:
        payload["val_loss"] = last["val_loss"]
    if args.json:
        print(json.dumps(payload))
        return 0
    scored = (f"val_rmse {payload['val_rmse']:.4f}" if "val_rmse" in payload
              else f"validation loss {payload['val_loss']:.4f} (rated or not; it predicts no ratings)")
    print(f"{args.method}: {args.embedding_dim} factors for {run.dataset.n_movies:,} movies, {scored} "
          f"({run.result.train_seconds:.1f}s); saved to {args.out}")
    return 0


def upgrade_run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from cfcore.runs.zip import export_run_zip, extract_older_run_zip

    source, out = Path(args.run_zip), Path(args.out)
    if not source.is_file():
        raise CliError(f"run zip not found: {shown(args.run_zip)}")
    if out.is_dir():
        raise CliError(f"--out {shown(args.out)} is a folder; give the new zip's file name")
    _train, save = _import_training()
    with tempfile.TemporaryDirectory(prefix="cfcore-upgrade-") as scratch, open(source, "rb") as fh:
        folder = extract_older_run_zip(fh, scratch)
        save.upgrade_run(folder)
        data = export_run_zip(folder, source.stem)
    try:
        out.write_bytes(data)
    except OSError as err:
        raise CliError(f"cannot write {shown(args.out)}: {err.strerror or err}") from None
    print(f"wrote {out} ({len(data):,} bytes): the run with its embeddings.npz; load it in the app")
    return 0
