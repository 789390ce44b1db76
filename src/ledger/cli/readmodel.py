"""Commands over the read model: project, migrate, serve (each a few lines over :mod:`ledger.readmodel`)."""

from __future__ import annotations

import sys

import click

from ledger.cli.output import db_option, emit_json, error_console, format_option, open_ledger, user_errors, view_option
from ledger.readmodel import ReadModelError


@click.command()
@db_option
@view_option
@click.option("--rebuild", is_flag=True, help="Empty the read model and replay every append batch from the start.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@format_option()
@user_errors(ReadModelError)
def project(db: str, view: str | None, rebuild: bool, progress: bool | None, fmt: str) -> None:
    """Bring the read model up to date with the store (ingest does this after each append).

    Applies each append batch the read model has not seen, in one transaction
    with its tracking position, so nothing is applied twice or lost. --rebuild
    gives the same tables from scratch.

    \b
    Examples:
      ledger project
      ledger project --rebuild --view rebuilt.view.db
    """
    from rich.progress import Progress

    show_bar = sys.stderr.isatty() if progress is None else progress
    with open_ledger(db, view) as ledger:
        if show_bar:
            with Progress(console=error_console(), transient=True) as bar:
                task = bar.add_task("projecting", total=None)
                report = ledger.project(rebuild, progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            report = ledger.project(rebuild)
    if fmt == "json":
        emit_json(report.to_dict())
        return
    if report.migrations:
        click.echo(f"applied migrations: {', '.join(report.migrations)}")
    rate = f", {report.events / report.seconds:,.0f} events/s" if report.events and report.seconds else ""
    click.echo(
        f"{'rebuilt' if report.rebuilt else 'projected'} {report.events} event(s) in {report.batches} batch(es) "
        f"into {report.view} ({report.opened} version rows opened, {report.closed} closed; "
        f"now at position {report.position}; {report.seconds:.2f}s{rate})"
    )


@click.command()
@db_option
@view_option
@click.option("--list", "list_only", is_flag=True, help="Only list applied and pending migrations.")
@format_option()
@user_errors(ReadModelError)
def migrate(db: str, view: str | None, list_only: bool, fmt: str) -> None:
    """Create the read model or bring its schema up to date (migrations/ in the repository).

    The same migrations run with plain sqlite-utils:
    sqlite-utils migrate ledger.view.db migrations/

    \b
    Examples:
      ledger migrate
      ledger migrate --list
    """
    with open_ledger(db, view) as ledger:
        path = ledger.view_path
        found = ledger.migration_status()
        applied = [] if list_only else ledger.migrate()
    if list_only:
        if fmt == "json":
            emit_json({"view": path, "applied": found.applied, "pending": found.pending})
            return
        click.echo(f"{path}: applied {', '.join(found.applied) or '(none)'}; pending {', '.join(found.pending) or '(none)'}")
        return
    if fmt == "json":
        emit_json({"view": path, "applied": applied})
    else:
        click.echo(f"{path}: applied {', '.join(applied)}" if applied else f"{path}: up to date")


@click.command()
@db_option
@view_option
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=8001, show_default=True, help="Port on 127.0.0.1.")
@click.option("--immutable", is_flag=True, help="Open the read model immutable (fastest; only for a finished build nobody projects into).")
@click.option("--project/--no-project", "run_projector", default=True, show_default=True, help="Bring the read model up to date first.")
@user_errors(ReadModelError)
def serve(db: str, view: str | None, port: int, immutable: bool, run_projector: bool) -> None:
    """Browse the ledger in Datasette: the read model, read-only, on 127.0.0.1.

    Serves the read model with the shipped metadata (descriptions, facets,
    canned as-of queries) and prints its URL. Ingests while it runs show up
    on the next page load (unless --immutable). Stop it with Ctrl-C.

    \b
    Examples:
      ledger serve
      ledger serve --port 8080 --view /tmp/big.view.db
    """
    from pathlib import Path

    from ledger.readmodel.serve import serve as run_datasette
    from ledger.readmodel.serve import url

    with open_ledger(db, view) as ledger:
        path = ledger.view_path
        if run_projector:
            ledger.project()
    if not Path(path).exists():
        raise ReadModelError(f"no read model at {path}; run 'ledger ingest events/' or 'ledger project' first")
    click.echo(f"serving {path} read-only at {url(port)}  (Ctrl-C to stop)")
    run_datasette(path, port, immutable=immutable)


COMMANDS = [project, migrate, serve]
