"""A deterministic corpus of hostile inputs: damaged run folders and run zips (every file truncated, emptied, filled
with junk, or holding a well-formed value of the wrong kind), malformed CSV pairs, bad command-line values and bad
URL values."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from cfcore.runs.folder import RUN_FILES
from tests.support.crafted import KINDS, weights_reaching_outside

JUNK = [b"", b"\x00" * 64, b"PK\x05\x06" + bytes(18), "\u202e![c](http://127.0.0.1:9/c.png)".encode(), b"{" * 5000]
JSON_VALUES = [None, True, -1, 10**12, 1e308, "x" * 300, [], {}, [{}], ["a"], {"a": {"b": [1]}}, "NaN"]


def run_folder_mutations(run_dir: Path) -> list[tuple[str, dict[str, bytes]]]:
    """(label, run files) pairs, each one file of a good run spoiled."""
    good = {name: (run_dir / name).read_bytes() for name in RUN_FILES}
    out: list[tuple[str, dict[str, bytes]]] = []
    for name, content in good.items():
        for fraction in (0.0, 0.1, 0.5, 0.9):
            out.append((f"{name} cut at {fraction}", {**good, name: content[: int(len(content) * fraction)]}))
        for number, junk in enumerate(JUNK):
            out.append((f"{name} junk {number}", {**good, name: junk}))
    for name in ("config.json", "result.json"):
        values = json.loads(good[name])
        for key in list(values)[:8]:
            for number, value in enumerate(JSON_VALUES[:6]):
                out.append((f"{name} {key}={number}", {**good, name: json.dumps({**values, key: value}).encode()}))
    out += _array_mutations(good)
    for name in ("users.csv", "movies.csv", "history.csv"):
        lines = good[name].decode().splitlines()
        variants = [
            "\n".join([lines[0].replace(",", ";"), *lines[1:]]),
            "\n".join([lines[0], *lines[1:], lines[1]]),  # a repeated row
            "\n".join([lines[0], *[line + ",extra" for line in lines[1:]]]),
            "\n".join([lines[0], *[line.replace("1", "-1", 1) for line in lines[1:]]]),
            "\n".join([lines[0], "=HYPERLINK(\"http://x\")," * 3]),
            lines[0] + "\n",
        ]
        out += [(f"{name} variant {number}", {**good, name: text.encode()}) for number, text in enumerate(variants)]
    return out


def _npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _array_mutations(good: dict[str, bytes]) -> list[tuple[str, dict[str, bytes]]]:
    """The learned arrays and the model file: padded members, wrong shapes, kinds and values, HDF5 that reaches
    outside itself, a run of an older version (no embeddings.npz)."""
    with np.load(io.BytesIO(good["embeddings.npz"]), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    out = []
    changes = {
        "movie table transposed": {"movie": arrays["movie"].T.copy()},
        "movie table of text": {"movie": arrays["movie"].astype(str)},
        "movie table NaN": {"movie": np.full_like(arrays["movie"], np.nan)},
        "user table inf": {"user": np.full_like(arrays["user"], np.inf)},
        "bias of another length": {"user_bias": arrays["user_bias"][:-1]},
        "link logistic": {"link": np.str_("logistic")},
        "link of 60 characters": {"link": np.str_("x" * 60)},
        "rating range upside down": {"min_rating": np.float64(5.0), "max_rating": np.float64(0.5)},
        "offset as a table": {"global_offset": np.zeros((3, 3))},
        "an extra array": {"extra": np.zeros(3)},
    }
    for label, change in changes.items():
        out.append((f"embeddings.npz {label}", {**good, "embeddings.npz": _npz({**arrays, **change})}))
    for name in ("embeddings.npz", "ratings.npz"):
        members = _members(good[name])
        first = next(iter(members))
        padded = _zipped({**members, first: members[first] + bytes(9000)})
        out.append((f"{name} {first} padded", {**good, name: padded}))
    model = _members(good["model.keras"])
    out.append(("model.keras metadata.json padded",
                {**good, "model.keras": _zipped({**model, "metadata.json": b'{"p": "' + b" " * 90_000 + b'"}'})}))
    for kind in KINDS:
        out.append((f"model.keras weights with {kind}",
                    {**good, "model.keras": _zipped({**model, "model.weights.h5": weights_reaching_outside(
                        model["model.weights.h5"], kind, "/etc/hostname")})}))
    out.append(("no embeddings.npz (an older version)", {k: v for k, v in good.items() if k != "embeddings.npz"}))
    return out


def csv_pairs() -> list[tuple[str, bytes, bytes]]:
    movies = b"movieId,title,genres\n1,A (1990),Drama\n2,B (1991),Comedy\n3,C,\n"
    ratings = [
        b"", b"userId,movieId,rating\n", b"userId,movieId\n1,1\n", b"userId,movieId,rating\n1,1,x\n",
        b"userId,movieId,rating\n1,1,99\n", b"userId,movieId,rating\n1,9,4\n", b"userId,movieId,rating\n1,1,4\n1,1,3\n",
        b"userId,movieId,rating\n-1,1,4\n", b"userId,movieId,rating\n1.5,1,4\n", b"userId,movieId,rating\n1,1,nan\n",
        b"userId,movieId,rating\n1,1,4,5,6\n", b"\xff\xfe" + "userId".encode("utf-16-le"), b"\x00\x01\x02",
        ("u," * 5000).encode() + b"\n1\n", b"userId,movieId,rating\n1,1," + b"4" * 10_000 + b"\n",
        b'userId,movieId,rating\n"1,1,4\n', b"userId,userId,rating\n1,1,4\n", b"userId,movieId,rating\n\n\n\n",
        b"userId,movieId,rating\r1,1,4\r", b"userId,movieId,rating\n99999999999999,1,4\n",
    ]
    bad_movies = [
        b"", b"movieId,title\n1,A\n", b"movieId,title,genres\n1,,Drama\n", b"movieId,title,genres\n1,A,B\n1,A,B\n",
        b"movieId,title,genres\nx,A,B\n", ("t," * 5000).encode(), b"movieId,title,genres\n1," + b"T" * 9000 + b",D\n",
    ]
    good_ratings = b"userId,movieId,rating\n1,1,4\n1,2,3\n2,1,5\n2,3,2\n3,2,4\n3,3,1\n"
    pairs = [(f"ratings {i}", r, movies) for i, r in enumerate(ratings)]
    pairs += [(f"movies {i}", good_ratings, m) for i, m in enumerate(bad_movies)]
    return pairs


def cli_argument_cases(run_dir: Path, tmp: Path) -> list[list[str]]:
    values = ["-1", "0", "1e999", "nan", "abc", "", "9" * 40, "1.5"]
    cases = [["explore", str(run_dir), "--min-ratings", v] for v in values]
    cases += [["explore", str(run_dir), "--top", v] for v in values]
    cases += [["recommend", str(run_dir), "--user", v] for v in [*values, "999999"]]
    cases += [["train", "--data", str(tmp / "missing"), "--out", str(tmp / "o"), "--epochs", v] for v in values]
    cases += [["train", "--data", str(run_dir), "--out", str(tmp / "o"), "--lr", v] for v in values]
    cases += [["explore", str(tmp / "missing")], ["export", str(run_dir / "config.json"), "--out", str(tmp / "x")],
              ["nope"], [], ["explore"], ["recommend", str(run_dir)], ["train", "--preset", "huge", "--out", "x"]]
    return cases


ZIP_EVERY = 3  # every third damaged run also goes through the Compare page as a zip
URL_VALUES = ["9999", "-1", "foo", "", "nan", "inf", "1e999", "x" * 500, "<script>", "![c](http://127.0.0.1:9/c)",
              "%00", "1.5", "0x10"]
URL_KEYS = ("model", "epochs", "batch_size", "learning_rate", "embedding_dim", "user", "movie", "seed")
