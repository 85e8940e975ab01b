"""What the CLI's commands share: the one-line error, an argparse that raises it, and argument types that quote what
the user typed (cut to a readable length)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing failure; its message becomes ``error: <message>``."""


class Parser(argparse.ArgumentParser):
    """argparse that reports errors in the project's one-line format."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        raise CliError(message)


# Longest piece of a value the user typed that an error line quotes.
SHOWN_CHARS = 40

# How many movies a listing may ask for, and the largest seed NumPy and the config take.
MAX_TOP = 1000

MAX_SEED = 2**31 - 1

MAX_COUNT = 2**31 - 1


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """A value the user typed, cut for an error line."""
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value):,} characters)"


def whole(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number, from ``low`` to ``high`` where given (a config's own bounds check the
    rest, with their own messages)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(text)!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected a whole number from {low:,} to {high:,}, got {shown(text)}")
        return value

    return parse


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {shown(text)!r}") from None
