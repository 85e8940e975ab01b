"""The Under the hood page's worked example: weather tags looked up in an embedding matrix, and multiplied.

An embedding layer's ``call`` takes rows of its weight matrix (``ops.take(W, indices, axis=0)``); multiplying
one-hot vectors by the matrix gives the same rows. :func:`lookup_example` does both with NumPy (the web server
never loads TensorFlow); :func:`layer_source` shows the project's own layer, read from its file.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

WEATHER = ("sunny", "cloudy", "rainy", "snowy", "windy", "foggy", "stormy")
MAX_DAYS = 14  # more rows make the matrices unreadable
MODELS_SOURCE = Path(__file__).resolve().parent.parent / "cfcore" / "training" / "models.py"


@dataclass(frozen=True)
class Days:
    """What a learner typed, read as days' weather: the tags used (at most :data:`MAX_DAYS`, one sunny day when
    none was known), the unknown tags (sorted, once each) and how many known tags there were in all."""

    tags: list[str]
    unknown: list[str]
    known_count: int


@dataclass(frozen=True)
class LookupExample:
    """The weight matrix, the one-hot rows, the rows the lookup returns and the matrix product (read-only), and a
    label per day."""

    weights: np.ndarray
    onehot: np.ndarray
    looked_up: np.ndarray
    product: np.ndarray
    rows: list[str]

    @property
    def dimensions(self) -> list[str]:
        """Column labels: ``d1``, ``d2``, ..."""
        return [f"d{k + 1}" for k in range(self.weights.shape[1])]


def parse_days(text: str) -> Days:
    """Comma-separated weather tags (any case, spaces ignored) as :class:`Days`."""
    tags = [t.strip().lower() for t in text.split(",") if t.strip()]
    known = [t for t in tags if t in WEATHER]
    return Days(known[:MAX_DAYS] or ["sunny"], sorted({t for t in tags if t not in WEATHER}), len(known))


def lookup_example(tags: list[str], dim: int, seed: int = 7) -> LookupExample:
    """A random ``len(WEATHER) x dim`` matrix, then the rows for ``tags`` by lookup and by one-hot product."""
    weights = np.random.default_rng(seed).uniform(-1.0, 1.0, (len(WEATHER), dim)).astype(np.float32)
    indices = np.array([WEATHER.index(t) for t in tags], dtype=np.int32)
    looked_up = np.take(weights, indices, axis=0)
    onehot = np.eye(len(WEATHER), dtype=weights.dtype)[indices]
    product = onehot @ weights
    looked_up.flags.writeable = product.flags.writeable = False
    return LookupExample(weights, onehot, looked_up, product, [f"day {i + 1}: {t}" for i, t in enumerate(tags)])


@cache
def layer_source(name: str = "GatherEmbedding", path: Path = MODELS_SOURCE) -> str:
    """The source of the class ``name`` (with its decorators), read from the file: importing it would load Keras."""
    text = path.read_text()
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == name)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return "\n".join(text.splitlines()[start - 1 : node.end_lineno])
