"""Text from a dataset or a stranger's file, made safe to show: never rendered as Markdown or HTML.

Titles, genres, file names, run names and dataset sources come from uploads and run zips. Streamlit renders
Markdown (images it fetches, links, ``:material/...:`` shortcodes, ``$...$`` maths) in most text elements,
and Plotly renders a few HTML tags (links among them) in labels and hover text.
"""

from __future__ import annotations

import html
import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all turns off
# emphasis, links, images, code, headings, tables, maths and Streamlit's ``:shortcode:`` directives at once.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=\"'&%^@,;?/])")
# Streamlit's frontend still turns "http://...", "www...." and "a@b.c" in the rendered text into links, however
# they are escaped (seen in Chromium, tests/e2e/test_e2e_canary.py). An invisible word joiner before a ":" that
# is not followed by a space, before the "." of "www." and before "@" leaves the text as it reads and matches
# no link pattern; "ratings.csv: line 3" keeps every character as it is.
_LINK_PARTS = re.compile(r":(?=\S)|(?<=[wW]{3})\.|@")
WORD_JOINER = "\u2060"
# An absolute path (POSIX, home-relative or Windows), not the path part of a URL or a ratio such as "3/5".
_SERVER_PATH = re.compile(r"(?<![\w:/.~-])(?:~?/|[A-Za-z]:[\\/])(?:(?![:.]\s|[:.]$)[^\s'\"`<>|;,()])+")
HIDDEN_PATH = "[folder]"


def md(text: object) -> str:
    """``text`` escaped for a Streamlit Markdown string (``st.markdown``, ``st.caption``, ``st.error``, labels).

    Line breaks become spaces, so a value cannot start a heading or a list of its own.
    """
    flat = _LINK_PARTS.sub(lambda match: WORD_JOINER + match.group(), " ".join(str(text).split()))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def hide_paths(text: object) -> str:
    """``text`` with every absolute file path replaced by ``[folder]``."""
    return _SERVER_PATH.sub(HIDDEN_PATH, str(text))


def server_text(text: object) -> str:
    """``text`` as a visitor may see it: the server's folder names hidden unless ``CFCORE_SHOW_PATHS`` (by default
    on, off in the public profile) allows them; hidden too while that setting itself cannot be read."""
    from cfcore import settings

    try:
        shown = settings.show_paths()
    except settings.SettingsError:
        shown = False
    return str(text) if shown else hide_paths(text)


def count(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and ``word`` in the right number: "1 movie", "2 movies", "1,235 movies"."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def plain(text: object) -> str:
    """``text`` escaped for Plotly labels and hover text (Plotly reads ``<a href>``, ``<b>`` and entities)."""
    return html.escape(str(text), quote=True)


def spreadsheet_cell(value: object) -> object:
    """A CSV/TSV cell a spreadsheet will not run as a formula (OWASP: prefix a single quote).

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``; numbers
    and every other value pass through unchanged.
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def spreadsheet_safe(frame):
    """A copy of a DataFrame whose text columns hold only :func:`spreadsheet_cell` values."""
    safe = frame.copy()
    for column in safe.select_dtypes(exclude="number").columns:
        safe[column] = safe[column].map(spreadsheet_cell)
    return safe
