"""Command line: ``python -m cfcore {train,factors,explore,recommend,similarity,upgrade-run,export} ...``.

Every user error ends as one line ``error: ...`` on stderr and exit code 2.
Heavy modules (TensorFlow) are imported inside the commands, so ``--help``
and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing failure; its message becomes ``error: <message>``."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in the project's one-line format."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        raise CliError(message)


# Longest piece of a value the user typed that an error line quotes.
_SHOWN_CHARS = 40
# How many movies a listing may ask for, and the largest seed NumPy and the config take.
MAX_TOP = 1000
MAX_SEED = 2**31 - 1
MAX_COUNT = 2**31 - 1


def _shown(value: str, limit: int = _SHOWN_CHARS) -> str:
    """A value the user typed, cut for an error line."""
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value):,} characters)"


def _whole(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number, from ``low`` to ``high`` where given (a config's own bounds check the
    rest, with their own messages)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {_shown(text)!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected a whole number from {low:,} to {high:,}, got {_shown(text)}")
        return value

    return parse


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)!r}") from None


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(func):
        COMMANDS[name] = func
        return func

    return register


def build_parser() -> argparse.ArgumentParser:
    from cfcore import constants as C
    from cfcore.config import FACTOR_METHODS, MODEL_NAMES

    parser = _Parser(prog="python -m cfcore", description="Collaborative filtering with embeddings.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a model and save the run to a folder")
    p.add_argument("--data", help="MovieLens folder or .zip (default: $CFCORE_DATA, cache, download)")
    p.add_argument("--preset", choices=["article", "fast", "best"], default="article",
                   help="starting settings; explicit flags override them (default: article)")
    p.add_argument("--model", choices=list(MODEL_NAMES))
    p.add_argument("--dim", type=_whole(), dest="embedding_dim")
    p.add_argument("--epochs", type=_whole())
    p.add_argument("--batch-size", type=_whole(), dest="batch_size")
    p.add_argument("--lr", type=_number, dest="learning_rate")
    p.add_argument("--patience", type=_whole(), help="early-stopping patience (0: off)")
    p.add_argument("--seed", type=_whole())
    p.add_argument("--val-fraction", type=_number, dest="val_fraction")
    p.add_argument("--out", required=True, help="folder to save the run in")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")

    p = sub.add_parser("factors", help="movie factors another way (an SVD, an autoencoder, another task), saved "
                                       "as a run folder")
    p.add_argument("--data", help="MovieLens folder or .zip (default: $CFCORE_DATA, cache, download)")
    p.add_argument("--method", choices=list(FACTOR_METHODS), required=True,
                   help="svd: truncated SVD of the bias-free ratings; autorec: an item-based autoencoder; "
                        "implicit: embeddings trained on whether a movie was rated at all")
    p.add_argument("--dim", type=_whole(), default=64, dest="embedding_dim", help="number of factors (default 64)")
    p.add_argument("--seed", type=_whole(), default=C.DEFAULT_SEED,
                   help=f"seed of the split and of the method (default {C.DEFAULT_SEED})")
    p.add_argument("--out", required=True, help="folder to save the run in")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")

    p = sub.add_parser("explore", help="PCA of a run's movie embeddings and PC rankings")
    p.add_argument("run_dir")
    p.add_argument("--min-ratings", type=_whole(0, MAX_COUNT), default=20)
    p.add_argument("--top", type=_whole(1, MAX_TOP), default=10)
    p.add_argument("--centered", action="store_true", help="centre the embeddings before PCA")
    p.add_argument("--projection", choices=["pca", "tsne"],
                   help="also give each movie's place on a 2-D map (movies above --min-ratings)")
    p.add_argument("--seed", type=_whole(0, MAX_SEED), default=0, help="t-SNE's seed (default 0)")
    p.add_argument("--perplexity", type=_number, default=30, help="t-SNE's perplexity, 5 to 50 (default 30)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("recommend", help="a user's top unseen movies")
    p.add_argument("run_dir")
    p.add_argument("--user", type=_whole(0, MAX_COUNT), required=True, help="userId")
    p.add_argument("--top", type=_whole(1, MAX_TOP), default=10)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("similarity", help="how alike two runs' movie factors are: linear CKA, neighbour overlap")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--min-ratings", type=_whole(), default=20,
                   help="only movies with more than this many ratings in both runs' data (0: every shared movie)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("upgrade-run", help="convert a run zip saved by an older version (no embeddings.npz) into "
                                           "one the app loads")
    p.add_argument("run_zip")
    p.add_argument("--out", required=True, help="the new run zip to write")

    p = sub.add_parser("export", help="movie embeddings as CSV and Embedding Projector TSVs")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True)
    return parser


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


@command("train")
def _train(args: argparse.Namespace) -> int:
    from cfcore.config import preset

    overrides = {
        key: getattr(args, key)
        for key in ("model", "embedding_dim", "epochs", "batch_size", "learning_rate", "patience", "seed",
                    "val_fraction")
        if getattr(args, key) is not None
    }
    config = preset(args.preset, **overrides)
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


@command("factors")
def _factors(args: argparse.Namespace) -> int:
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


def _open_run(run_dir: str):
    """Load a run directory as arrays (no TensorFlow), failing fast when it is plainly not one."""
    from pathlib import Path

    folder = Path(run_dir)
    if not folder.is_dir():
        raise CliError(f"run directory not found: {run_dir}")
    if not (folder / "model.keras").is_file():
        raise CliError(f"{run_dir} is not a cfcore run directory (no model.keras); create one with 'train --out'")
    from cfcore.runs.run import load_run

    return load_run(folder)


def _records(frame) -> list[dict]:
    """A frame's rows as JSON-ready dicts (NumPy scalars become plain numbers)."""
    return [{key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
            for row in frame.to_dict(orient="records")]


def _table_text(frame, formats: dict[str, str]) -> str:
    if frame.empty:
        return "  (no movies)"
    shown = frame.copy()
    for column, spec in formats.items():
        shown[column] = shown[column].map(lambda value, spec=spec: format(value, spec))
    # Left-align text columns (titles read better that way); numbers stay right-aligned.
    text = {
        column: (lambda width: lambda value: f"{value:<{width}}")(int(shown[column].astype(str).str.len().max()))
        for column in ("title", "genres") if column in shown
    }
    return shown.to_string(formatters=text)


@command("explore")
def _explore(args: argparse.Namespace) -> int:
    run = _open_run(args.run_dir)
    from cfcore.analysis.pca import RANKING_KEYS, movie_pca_frame, pc_rankings

    result, _ = movie_pca_frame(run, centered=args.centered)
    tables = pc_rankings(run, min_ratings=args.min_ratings, top=args.top, centered=args.centered)
    placed = None
    if args.seed < 0:
        raise CliError(f"--seed must be 0 or more, got {args.seed}")
    if args.projection:
        from cfcore.analysis.projection import movie_map

        placed = movie_map(run, args.projection, args.min_ratings, args.seed, args.perplexity, args.centered)
    if args.json:
        payload = {"variance_explained": [float(x) for x in result.explained]}
        payload.update({key: _records(tables[key]) for key in RANKING_KEYS})
        if placed is not None:
            payload["projection"] = [{"movieId": int(m), "x": float(x), "y": float(y)}
                                     for m, x, y in zip(placed["movieId"], placed["x"], placed["y"], strict=True)]
            payload["projection_settings"] = {"method": args.projection, "seed": args.seed,
                                              "perplexity": args.perplexity, "min_ratings": args.min_ratings}
        print(json.dumps(payload))
        return 0
    kind = "centred" if args.centered else "uncentred, as in the article"
    print(f"run {run.name} ({run.config.model}, {run.dataset.n_movies:,} movies, "
          f"{result.components.shape[0]} dimensions): PCA of the movie embeddings ({kind})")
    print("variance explained per component:")
    cells = [f"{f'PC{i + 1}':<5}{fraction:6.1%}" for i, fraction in enumerate(result.explained)]
    for start in range(0, len(cells), 6):
        print("  " + "   ".join(cells[start : start + 6]))
    formats = {"PC1": ".3f", "PC2": ".3f", "rating": ".2f"}
    for key in RANKING_KEYS:
        pc, end = key.split("_")
        print(f"\n{pc.upper()} {end} (movies with more than {args.min_ratings} ratings):")
        print(_table_text(tables[key], formats))
    if placed is not None:
        print(f"\n{args.projection} map of {len(placed):,} movies (more than {args.min_ratings} ratings); "
              "use --json for every movie's x and y. First rows:")
        print(_table_text(placed[["title", "x", "y"]].head(args.top), {"x": ".3f", "y": ".3f"}))
    return 0


@command("similarity")
def _similarity(args: argparse.Namespace) -> int:
    if args.min_ratings < 0:
        raise CliError(f"--min-ratings must be 0 or more, got {args.min_ratings}")
    from cfcore.analysis.similarity import compare_runs

    compared = compare_runs(_open_run(args.run_a), _open_run(args.run_b), args.min_ratings)
    if args.json:
        print(json.dumps(compared.to_json()))
        return 0
    print(f"{len(compared.movie_ids):,} shared movies with more than {args.min_ratings} ratings in both runs")
    print(f"linear CKA              {compared.linear_cka:.4f}  (1: the same up to rotation and scale)")
    print(f"neighbour overlap@10    {compared.neighbour_overlap_at_10:.4f}  (share of each movie's 10 nearest "
          "neighbours, cosine, that both agree on)")
    return 0


@command("recommend")
def _recommend(args: argparse.Namespace) -> int:
    run = _open_run(args.run_dir)
    from cfcore.analysis.predict import recommend, user_ratings, user_rmse

    rated = user_ratings(run, args.user)
    rmse = user_rmse(rated)
    top = recommend(run, args.user, top=args.top)
    if args.json:
        payload = {
            "user": int(args.user),
            "n_rated": len(rated),
            "rmse": rmse,
            "recommendations": _records(top[["title", "movieId", "predicted"]]),
        }
        print(json.dumps(payload))
        return 0
    print(f"user {args.user}: rated {len(rated)} movies; the model's RMSE on them is {rmse:.3f}")
    print(f"top {len(top)} unseen movies by predicted rating:")
    table = top[["predicted", "title", "genres", "num_ratings"]]
    table.index = range(1, len(table) + 1)
    print(_table_text(table, {"predicted": ".2f"}))
    return 0


@command("export")
def _export(args: argparse.Namespace) -> int:
    run = _open_run(args.run_dir)
    from cfcore.analysis.export import write_projector_files

    try:
        paths = write_projector_files(run, args.out)
    except OSError as err:
        raise CliError(f"cannot write to {args.out}: {err.strerror or err}") from None
    print(f"wrote {run.dataset.n_movies:,} movie embeddings:")
    for path in paths:
        print(f"  {path}")
    print("load vectors.tsv and metadata.tsv at https://projector.tensorflow.org")
    return 0


@command("upgrade-run")
def _upgrade_run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from cfcore.runs.zip import export_run_zip, extract_older_run_zip

    source, out = Path(args.run_zip), Path(args.out)
    if not source.is_file():
        raise CliError(f"run zip not found: {_shown(args.run_zip)}")
    if out.is_dir():
        raise CliError(f"--out {_shown(args.out)} is a folder; give the new zip's file name")
    _train, save = _import_training()
    with tempfile.TemporaryDirectory(prefix="cfcore-upgrade-") as scratch, open(source, "rb") as fh:
        folder = extract_older_run_zip(fh, scratch)
        save.upgrade_run(folder)
        data = export_run_zip(folder, source.stem)
    try:
        out.write_bytes(data)
    except OSError as err:
        raise CliError(f"cannot write {_shown(args.out)}: {err.strerror or err}") from None
    print(f"wrote {out} ({len(data):,} bytes): the run with its embeddings.npz; load it in the app")
    return 0


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean 'the user asked for something wrong'."""
    from cfcore.config import ConfigError
    from cfcore.data.errors import DataError
    from cfcore.runs.errors import RunError
    from cfcore.settings import SettingsError

    errors: list[type[BaseException]] = [CliError, DataError, ConfigError, RunError, SettingsError]
    if "cfcore.runs.zip" in sys.modules:
        from cfcore.runs.zip import RunZipError

        errors.append(RunZipError)
    if "cfcore.analysis.similarity" in sys.modules:
        from cfcore.analysis.similarity import SimilarityError

        errors.append(SimilarityError)
    if "cfcore.analysis.projection" in sys.modules:
        from cfcore.analysis.projection import ProjectionError

        errors.append(ProjectionError)
    if "cfcore.analysis.errors" in sys.modules:
        from cfcore.analysis.errors import AnalysisError

        errors.append(AnalysisError)
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    try:
        args = build_parser().parse_args(argv)
        from cfcore.settings import check_environment

        check_environment()  # a bad CFCORE_* variable is one line here, not a traceback later
        return COMMANDS[args.command](args)
    except SystemExit as exc:  # --help exits 0 through argparse
        return int(exc.code or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the CLI contract: never a traceback
        if isinstance(exc, _user_errors()):
            message = str(exc)
        else:
            message = f"unexpected {type(exc).__name__}: {exc}"
        line = message.splitlines()[0] if message.strip() else type(exc).__name__
        print(f"error: {_shown(line, 300)}", file=sys.stderr)
        return EXIT_USAGE
