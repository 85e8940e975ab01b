"""Where the repository is: for tests that open its files or start processes in it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
