"""Tables in a terminal of 80 to 100 columns: no word folded, colours only on a terminal, CSV and TSV for files."""

from __future__ import annotations

import csv
import io

import pytest
from rich.console import Console

from ledger.cli.terminal import Column, delimited, render

ROWS = [
    ["us-weapons-strikes-inside-russia", "conditional", "2024-05-30", "only against attacks on the Kharkiv region, in and around it"],
    ["atacms-long-range-strikes-inside-russia", "prohibited", "../2024-04-30", "Kyiv's promise not to use ATACMS to strike inside Russia"],
    ["us-weapons-aircraft-russian-airspace", "permitted (possible)", "../2024-05-31", ""],
]
COLUMNS = ["restriction", "status", "since", "conditions"]


def printed(renderable, width: int, terminal: bool = True) -> str:
    console = Console(width=width, force_terminal=terminal, color_system="standard" if terminal else None, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text(styles=False)


def words_whole(text: str, rows) -> list[str]:
    """The words of the rows that no printed line holds whole."""
    lines = text.splitlines()
    return [word for row in rows for cell in row for word in cell.split() if not any(word in line for line in lines)]


@pytest.mark.parametrize("width", [80, 90, 100])
def test_no_word_is_folded_at_80_to_100_columns(width):
    console = Console(width=width, force_terminal=True, file=io.StringIO())
    text = printed(render("restrictions", COLUMNS, ROWS, console), width)
    assert words_whole(text, ROWS) == []
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width


def test_a_table_too_wide_for_the_terminal_becomes_one_block_per_row():
    rows = [["x" * 50, "y" * 40, "conditional"]]
    console = Console(width=80, force_terminal=True, file=io.StringIO())
    text = printed(render(None, ["a", "b", "status"], rows, console), 80)
    assert [line.rstrip() for line in text.splitlines()[:3]] == ["a:      " + "x" * 50, "b:      " + "y" * 40, "status: conditional"]


def test_a_one_line_column_is_cut_not_wrapped():
    rows = [["2024-05-30", "counter-fire-guidance-takes-effect", "The counter-fire guidance took effect on Thursday " * 3]]
    console = Console(width=80, force_terminal=True, file=io.StringIO())
    text = printed(render(None, ["occurred", "id", Column("summary", line=True)], rows, console), 80)
    body = [line for line in text.splitlines() if line.strip()][1:]
    assert len(body) == 1 and body[0].rstrip().endswith("…")


def test_statuses_are_coloured_on_a_terminal_and_plain_when_piped():
    on_terminal = Console(width=100, force_terminal=True, color_system="standard", file=io.StringIO())
    on_terminal.print(render(None, COLUMNS, ROWS, on_terminal))
    assert "\x1b[1;31mprohibited" in on_terminal.file.getvalue()
    piped = Console(width=100, force_terminal=False, file=io.StringIO())
    piped.print(render(None, COLUMNS, ROWS, piped))
    assert "\x1b[" not in piped.file.getvalue()


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_csv_and_tsv_hold_every_cell(delimiter):
    rows = [["a, b", "line one\nline two", None]]
    text = delimited(["first", "second", "third"], rows, delimiter)
    read = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    expected_second = "line one\nline two" if delimiter == "," else "line one line two"
    assert read == [["first", "second", "third"], ["a, b", expected_second, ""]]
