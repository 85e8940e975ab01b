"""cfcore.text: a stranger's text is shown as text and downloaded as data, never run."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cfcore.text import count, hide_paths, md, plain, server_text, spreadsheet_cell, spreadsheet_safe
from tests.support.text import shown

HOSTILE = [
    "![x](http://127.0.0.1:9/canary.png)", "[click](http://evil.example)", "<img src=http://x/y.png>",
    "**bold** _it_ `code`", ":material/home: :red[red]", "$x^2$", "# heading", "- list", "| a | b |",
    "www.evil.example", "a\\b", "line\nbreak",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_escaping_leaves_no_markup_and_reads_back(text):
    escaped = md(text)
    assert shown(escaped) == " ".join(text.split())  # a reader sees exactly the text
    assert not re.search(r"(?<!\\)[\[\]()<>!*_`:$#|.@]", escaped), escaped  # every special character escaped
    assert "\n" not in escaped
    assert not re.search(r"https?\\?:|www\\?\.", escaped), "a link would still be drawn"


def test_plotly_text_has_no_tags():
    assert plain('<a href="http://x">t</a> & <b>') == "&lt;a href=&quot;http://x&quot;&gt;t&lt;/a&gt; &amp; &lt;b&gt;"


@pytest.mark.parametrize("cell, expected", [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'), ("+1", "'+1"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("Toy Story (1995)", "Toy Story (1995)"), (-0.5, -0.5), (3, 3),
])
def test_spreadsheet_cells(cell, expected):
    assert spreadsheet_cell(cell) == expected


def test_only_text_columns_are_changed():
    frame = pd.DataFrame({"title": ["=1+1", "Heat"], "dim_1": [-0.5, 0.25]})
    safe = spreadsheet_safe(frame)
    assert safe["title"].tolist() == ["'=1+1", "Heat"] and safe["dim_1"].tolist() == [-0.5, 0.25]
    assert frame["title"].tolist() == ["=1+1", "Heat"]  # a copy


def test_paths_are_hidden_but_addresses_and_ratios_are_not(monkeypatch):
    text = "CFCORE_DATA=/srv/cf/data: no such folder; see https://files.grouplens.org/x.zip, 3/5 stars"
    assert hide_paths(text) == "CFCORE_DATA=[folder]: no such folder; see https://files.grouplens.org/x.zip, 3/5 stars"
    assert server_text(text) == text
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    assert "/srv" not in server_text(text)
    monkeypatch.setenv("CFCORE_SHOW_PATHS", "nonsense")  # unreadable: hidden, not shown
    assert "/srv" not in server_text(text)


def test_counts_read_as_words():
    assert [count(1, "movie"), count(2, "movie"), count(1235, "movie"), count(1, "more movie", "more movies")] == [
        "1 movie", "2 movies", "1,235 movies", "1 more movie"]
