"""Reading back what the app shows."""

from __future__ import annotations

import re


def shown(markdown: str) -> str:
    """What a reader sees of a Markdown string the app escaped with ``cfcore.text.md``: backslash escapes read
    back as their characters, and the invisible word joiners that stop link detection are dropped."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")
