"""cfcore.figures.style: the figures' palette is the app's theme."""

from __future__ import annotations


def test_the_app_theme_is_the_figures_palette():
    import tomllib

    from cfcore.figures.style import THEME
    from tests.support.paths import REPO

    theme = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["theme"]
    assert {key: theme[key] for key in THEME} == THEME
