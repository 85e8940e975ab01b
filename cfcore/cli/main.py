"""Command line: ``python -m cfcore {train,factors,explore,recommend,similarity,upgrade-run,export} ...``.

Every user error ends as one line ``error: ...`` on stderr and exit code 2.
Heavy modules (TensorFlow) are imported inside the commands, so ``--help``
and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cfcore.cli import analysis, training
from cfcore.cli.args import EXIT_USAGE, MAX_COUNT, MAX_SEED, MAX_TOP, CliError, Parser, number, shown, whole


def build_parser() -> argparse.ArgumentParser:
    from cfcore import constants as C
    from cfcore.config import FACTOR_METHODS, MODEL_NAMES

    parser = Parser(prog="python -m cfcore", description="Collaborative filtering with embeddings.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train a model and save the run to a folder")
    p.add_argument("--data", help="MovieLens folder or .zip (default: $CFCORE_DATA, cache, download)")
    p.add_argument("--preset", choices=["article", "fast", "best"], default="article",
                   help="starting settings; explicit flags override them (default: article)")
    p.add_argument("--model", choices=list(MODEL_NAMES))
    p.add_argument("--dim", type=whole(), dest="embedding_dim")
    p.add_argument("--epochs", type=whole())
    p.add_argument("--batch-size", type=whole(), dest="batch_size")
    p.add_argument("--lr", type=number, dest="learning_rate")
    p.add_argument("--patience", type=whole(), help="early-stopping patience (0: off)")
    p.add_argument("--seed", type=whole())
    p.add_argument("--user-dropout", type=number, dest="user_dropout",
                   help="dropout on user vectors (bias model, SVD++)")
    p.add_argument("--movie-dropout", type=number, dest="movie_dropout",
                   help="dropout on movie vectors (bias model, SVD++)")
    p.add_argument("--own-init", action="store_true", default=None, dest="own_init",
                   help="simple_embedding only: start from the hand-made layer's own initialiser, as the article did "
                        "(its 1.13)")
    p.add_argument("--val-fraction", type=number, dest="val_fraction")
    p.add_argument("--out", required=True, help="folder to save the run in")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")

    p = sub.add_parser("factors", help="movie factors another way (an SVD, an autoencoder, another task), saved "
                                       "as a run folder")
    p.add_argument("--data", help="MovieLens folder or .zip (default: $CFCORE_DATA, cache, download)")
    p.add_argument("--method", choices=list(FACTOR_METHODS), required=True,
                   help="svd: truncated SVD of the bias-free ratings; autorec: an item-based autoencoder; "
                        "implicit: embeddings trained on whether a movie was rated at all")
    p.add_argument("--dim", type=whole(), default=64, dest="embedding_dim", help="number of factors (default 64)")
    p.add_argument("--seed", type=whole(), default=C.DEFAULT_SEED,
                   help=f"seed of the split and of the method (default {C.DEFAULT_SEED})")
    p.add_argument("--out", required=True, help="folder to save the run in")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")

    p = sub.add_parser("explore", help="PCA of a run's movie embeddings and PC rankings")
    p.add_argument("run_dir")
    p.add_argument("--min-ratings", type=whole(0, MAX_COUNT), default=20)
    p.add_argument("--top", type=whole(1, MAX_TOP), default=10)
    p.add_argument("--centered", action="store_true", help="centre the embeddings before PCA")
    p.add_argument("--projection", choices=["pca", "tsne"],
                   help="also give each movie's place on a 2-D map (movies above --min-ratings)")
    p.add_argument("--seed", type=whole(0, MAX_SEED), default=0, help="t-SNE's seed (default 0)")
    p.add_argument("--perplexity", type=number, default=30, help="t-SNE's perplexity, 5 to 50 (default 30)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("recommend", help="a user's top unseen movies")
    p.add_argument("run_dir")
    p.add_argument("--user", type=whole(0, MAX_COUNT), required=True, help="userId")
    p.add_argument("--top", type=whole(1, MAX_TOP), default=10)
    p.add_argument("--min-ratings", type=whole(0, MAX_COUNT), default=20,
                   help="only recommend movies with more ratings than this (default 20, as the Recommend page)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("similarity", help="how alike two runs' movie factors are: linear CKA, neighbour overlap")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--min-ratings", type=whole(), default=20,
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


# Each command's function, by the name the parser gives it.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": training.train, "factors": training.factors, "upgrade-run": training.upgrade_run,
    "explore": analysis.explore, "similarity": analysis.similarity, "recommend": analysis.recommend,
    "export": analysis.export,
}


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
        print(f"error: {shown(line, 300)}", file=sys.stderr)
        return EXIT_USAGE
