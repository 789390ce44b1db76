"""``ledger copy``: move a ledger between stores (SQLite file, PostgreSQL database) with its chain intact."""

from __future__ import annotations

import sys

import click
from rich.progress import Progress

from ledger.cli.output import emit_json, error_console, format_option, user_errors
from ledger.store.copy import copy_ledger


@click.command(name="copy")
@click.argument("source")
@click.argument("destination")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@format_option()
@user_errors()
def copy_command(source: str, destination: str, progress: bool | None, fmt: str) -> None:
    """Copy a ledger to another store, append by append, and check both end at the same head.

    SOURCE and DESTINATION are SQLite files or postgresql:// URLs. Events keep
    their ids, positions, batches and recorded times, so the chain and its head
    are the same in both. A destination holding an earlier copy is brought up
    to date; one holding other events is refused (exit 2) and left as it was.
    The read model is not copied: run ledger project against the destination.

    \b
    To a server: ledger copy ledger.db postgresql://ledger@db.example.org/newsroom

    \b
    Example:
      ledger copy ledger.db backup.db --format json
    """
    show_bar = sys.stderr.isatty() if progress is None else progress
    if show_bar:
        with Progress(console=error_console(), transient=True) as bar:
            task = bar.add_task("copying events", total=None)
            report = copy_ledger(source, destination, progress=lambda done, total: bar.update(task, completed=done, total=total))
    else:
        report = copy_ledger(source, destination)
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        click.echo(
            f"copied {report.copied} event(s) in {report.batches} append(s) and {report.registry} registry entries "
            f"from {report.source} to {report.destination}; both end at position {report.count}, head {report.head}"
        )


COMMANDS = [copy_command]
