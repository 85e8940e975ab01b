"""The error for a question a run cannot answer."""

from __future__ import annotations


class AnalysisError(ValueError):
    """A request that cannot be answered for this run (unknown user or movie, wrong model, bad option)."""
