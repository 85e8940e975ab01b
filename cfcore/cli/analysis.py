"""The CLI's commands that look inside a saved run, without TensorFlow: ``explore``, ``similarity``, ``recommend``
and ``export``."""

from __future__ import annotations

import argparse
import json

from cfcore.cli.args import CliError


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


def explore(args: argparse.Namespace) -> int:
    run = _open_run(args.run_dir)
    from cfcore.analysis.pca import RANKING_KEYS, movie_pca_frame, pc_rankings

    result, frame = movie_pca_frame(run, centered=args.centered)
    tables = pc_rankings(run, min_ratings=args.min_ratings, top=args.top, centered=args.centered, frame=frame)
    placed = None
    if args.seed < 0:
        raise CliError(f"--seed must be 0 or more, got {args.seed}")
    if args.projection:
        from cfcore.analysis.projection import movie_map

        placed = movie_map(run, args.projection, args.min_ratings, args.seed, args.perplexity, args.centered)
    biases = None
    if run.embeddings.has_bias:
        from cfcore.analysis.biases import RANKED_KEYS, bias_rankings

        biases = {end: frame[RANKED_KEYS] for end, frame in
                  bias_rankings(run, min_ratings=args.min_ratings, top=args.top).items()}
    if args.json:
        payload = {"variance_explained": [float(x) for x in result.explained]}
        payload.update({key: _records(tables[key]) for key in RANKING_KEYS})
        if biases is not None:  # a model with biases: what they learned
            payload["bias_rankings"] = {end: _records(frame) for end, frame in biases.items()}
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
    for end, frame in (biases or {}).items():
        print(f"\n{end} movie bias (movies with more than {args.min_ratings} ratings):")
        print(_table_text(frame.drop(columns="movieId"), {"bias": ".3f", "mean_rating": ".2f"}))
    if placed is not None:
        print(f"\n{args.projection} map of {len(placed):,} movies (more than {args.min_ratings} ratings); "
              "use --json for every movie's x and y. First rows:")
        print(_table_text(placed[["title", "x", "y"]].head(args.top), {"x": ".3f", "y": ".3f"}))
    return 0


def similarity(args: argparse.Namespace) -> int:
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


def recommend(args: argparse.Namespace) -> int:
    run = _open_run(args.run_dir)
    from cfcore.analysis.predict import recommend, user_ratings, user_rmse

    rated = user_ratings(run, args.user)
    rmse = user_rmse(rated)
    top = recommend(run, args.user, top=args.top, min_ratings=args.min_ratings)
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
    print(f"top {len(top)} unseen movies with more than {args.min_ratings} ratings, by predicted rating:")
    table = top[["predicted", "title", "genres", "num_ratings"]]
    table.index = range(1, len(table) + 1)
    print(_table_text(table, {"predicted": ".2f"}))
    return 0


def export(args: argparse.Namespace) -> int:
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
