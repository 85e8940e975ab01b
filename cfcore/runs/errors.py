"""The error for a run folder or run zip that cannot be used; the message says which file and why."""

from __future__ import annotations


class RunError(ValueError):
    """A run directory is missing, incomplete, unreadable or breaks the run schema; the message says why."""
