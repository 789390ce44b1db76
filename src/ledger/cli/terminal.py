"""Tables that read in a terminal of 80 to 100 columns, and the same rows as CSV or TSV for files.

A cell is never folded inside a word: every column is at least as wide as the longest word it
holds (an id, a status, an EDTF date), and text wraps only between words. When even that does not
fit the terminal, each row is printed as a block of ``name: value`` lines instead of a table.
On a terminal statuses and stances are coloured; piped, the output is plain text, and long
output goes through a pager only on a terminal.
"""

from __future__ import annotations

import csv
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

STYLES = {
    # restriction statuses
    "prohibited": "bold red",
    "conditional": "yellow",
    "under_review": "magenta",
    "permitted": "green",
    # stances
    "supports": "green",
    "opposes": "red",
    "mixed": "yellow",
    "undecided": "bright_black",
    # certainty and disputes
    "possible": "italic bright_black",
    "disputed": "bold magenta",
    # diffs
    "added": "green",
    "removed": "red",
    "changed": "yellow",
}
"""The colour of each word a reader scans for; a cell that is, or begins with, one of them takes it."""

PIPED_WIDTH = 160
"""Width of tables written to a pipe or a file (no terminal to measure)."""


@dataclass(frozen=True)
class Column:
    """A table column. ``line``: the column is cut (…) to keep each row on one line; only the last
    column of a one-line-per-row table should be. Other columns wrap between words."""

    name: str
    line: bool = False


def columns_of(names: Sequence[str | Column]) -> list[Column]:
    return [name if isinstance(name, Column) else Column(name) for name in names]


def cell_text(value: Any) -> str:
    return "" if value is None else str(value)


def longest_word(text: str) -> int:
    return max((len(word) for line in text.splitlines() for word in line.split()), default=0)


def styled(text: str, colour: bool) -> Text:
    """The cell as rich text, coloured by its first word when it is a status, stance or change."""
    style = STYLES.get(text.split(" ", 1)[0].rstrip(",;:")) if colour and text else None
    return Text(text, style=style or "")


def terminal_width(console: Console) -> int:
    return console.width if console.is_terminal else PIPED_WIDTH


GAP = 2
"""Spaces between columns (no borders: every character goes to the cells)."""


def widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int] | None:
    """Each column's width: at least its longest word (a ``line`` column: at least 12), short columns
    whole, the rest shared by the long ones in proportion to their length; None if even the least
    does not fit in ``width``."""
    lines = [[line for row in rows for line in row[i].splitlines()] + [column.name] for i, column in enumerate(columns)]
    natural = [max(len(line) for line in found) for found in lines]
    least = [min(natural[i], 10) if column.line else max(longest_word(line) for line in lines[i]) for i, column in enumerate(columns)]
    room = width - GAP * (len(columns) - 1)
    if sum(least) > room:
        return None
    given = list(least)
    short = sorted(range(len(columns)), key=lambda i: natural[i])
    for i in short:  # the shortest columns first get all they need, while the rest still fits
        extra = natural[i] - given[i]
        if extra <= room - sum(given) and natural[i] <= 24:
            given[i] = natural[i]
    wide = [i for i in range(len(columns)) if given[i] < natural[i]]
    spare = room - sum(given)
    total = sum(natural[i] - given[i] for i in wide) or 1
    for i in wide:
        given[i] += min(natural[i] - given[i], spare * (natural[i] - given[i]) // total)
    return given


Layout = tuple[Sequence[str | Column], Sequence[Sequence[Any]]]
"""Column names and rows: one way to lay a table out."""


def render(title: str | None, names: Sequence[str | Column], rows: Sequence[Sequence[Any]], console: Console) -> RenderableType:
    """A table that never folds a word, or one block per row when no such table fits the console."""
    return Tabular(title, [(names, rows)]).layout(console, terminal_width(console))


class Tabular:
    """A table laid out when printed, for the width it is printed at: the first of its layouts
    (widest first) whose every column fits without folding a word, else the last as blocks."""

    def __init__(self, title: str | None, layouts: Sequence[Layout]) -> None:
        self.title = title
        self.layouts = layouts

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.layout(console, options.max_width)

    def layout(self, console: Console, width: int) -> RenderableType:
        colour = console.is_terminal and not console.no_color
        for names, rows in self.layouts:
            columns = columns_of(names)
            cells = [[cell_text(value) for value in row] for row in rows]
            sizes = widths(columns, cells, width)
            if sizes is not None:
                return table_of(self.title, columns, cells, sizes, colour)
        names, rows = self.layouts[-1]
        return records(self.title, columns_of(names), [[cell_text(value) for value in row] for row in rows], colour)


def table_of(title: str | None, columns: Sequence[Column], cells: Sequence[Sequence[str]], sizes: Sequence[int], colour: bool) -> Table:
    table = Table(title=title, title_justify="left", box=None, padding=(0, GAP, 0, 0), pad_edge=False, header_style="bold")
    for column, size in zip(columns, sizes):
        if column.line:
            table.add_column(column.name, width=size, no_wrap=True, overflow="ellipsis")
        else:
            table.add_column(column.name, width=size, overflow="fold")
    for row in cells:
        table.add_row(*[styled(text, colour) for text in row])
    return table


def records(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[str]], colour: bool) -> RenderableType:
    """Each row as ``name: value`` lines (values wrap under themselves), for tables too wide to print."""
    parts: list[RenderableType] = [Text(title, style="bold")] if title else []
    for row in rows:
        block = Table.grid(padding=(0, 1))
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for column, value in zip(columns, row):
            block.add_row(Text(column.name + ":"), styled(value, colour))
        parts += [block, Text("")]
    return Group(*parts)


def delimited(names: Sequence[str | Column], rows: Sequence[Sequence[Any]], delimiter: str) -> str:
    """The rows as CSV (``,``) or TSV (tab), with a header line; newlines inside a TSV cell become spaces."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow([column.name for column in columns_of(names)])
    for row in rows:
        texts = [cell_text(value) for value in row]
        writer.writerow([" ".join(text.split()) for text in texts] if delimiter == "\t" else texts)
    return buffer.getvalue()


def show(console: Console, renderables: Sequence[RenderableType]) -> None:
    """Print, through a pager when on a terminal and longer than the screen (click's pager keeps colours)."""
    if console.is_terminal and sys.stdin.isatty():
        lines = sum(len(console.render_lines(item, pad=False)) for item in renderables)
        if lines > shutil.get_terminal_size().lines - 1:
            import click

            with console.capture() as captured:
                for item in renderables:
                    console.print(item)
            click.echo_via_pager(captured.get(), color=True)
            return
    for item in renderables:
        console.print(item)
