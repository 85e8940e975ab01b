"""The one error a user can fix in their data: what and where, in its message."""

from __future__ import annotations


class DataError(ValueError):
    """Raised for any data problem a user can fix; the message says what and where."""
