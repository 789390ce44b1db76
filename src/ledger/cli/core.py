"""Commands over the store: ingest, log, show, verify, schema."""

from __future__ import annotations

import json
import sys

import click
from rich.progress import Progress

from ledger.cli.output import (
    TABLE_FORMATS,
    actor_names,
    complete_event_ids,
    db_option,
    emit,
    emit_delimited,
    emit_json,
    error_console,
    format_option,
    open_ledger,
    table,
    user_errors,
    view_option,
)
from ledger.events import KINDS, json_schema
from ledger.ingest import IngestError
from ledger.store.locations import display_location


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@db_option
@view_option
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@click.option(
    "--project/--no-project", "run_projector", default=True, show_default=True, help="Bring the read model up to date afterwards."
)
@format_option()
@user_errors()
def ingest(paths: tuple[str, ...], db: str, view: str | None, progress: bool | None, run_projector: bool, fmt: str) -> None:
    """Validate event files and append them to the ledger, all or nothing.

    PATHS are YAML or JSON files (one event or a list) or folders of them;
    actors.yaml, documents.yaml and questions.yaml are read as registries.
    Every event is validated first; if any is invalid, nothing is appended and
    each problem is printed as FILE: ID: FIELD: REASON (exit 2). Events already
    in the ledger with identical content are skipped, so a re-run appends nothing.

    \b
    Example:
      ledger ingest events/
      ledger ingest events/ --db may.db --format json
    """
    show_bar = sys.stderr.isatty() if progress is None else progress
    with open_ledger(db, view, create=True) as ledger:
        try:
            if show_bar:
                with Progress(console=error_console(), transient=True) as bar:
                    task = bar.add_task("validating events", total=None)
                    report = ledger.ingest(
                        paths, progress=lambda done, total: bar.update(task, completed=done, total=total), project=run_projector
                    )
            else:
                report = ledger.ingest(paths, project=run_projector)
        except IngestError as error:
            for problem in error.problems:
                click.echo(f"error: {problem}", err=True)
            raise click.exceptions.Exit(2) from None
    summary = report.to_dict()
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        emit_json(summary)
    else:
        click.echo(
            f"appended {summary['appended']} event(s), skipped {summary['skipped']} already recorded, "
            f"from {summary['files']} file(s) into {display_location(db)}"
        )


@click.command(name="log")
@db_option
@click.option("--kind", type=click.Choice(KINDS), help="Only events of this kind.")
@click.option("--actor", help="Only events naming this actor id.")
@click.option("--from", "occurred_from", help="Only events that may have occurred on or after this date.")
@click.option("--to", "occurred_to", help="Only events that may have occurred on or before this date.")
@click.option("--text", help="Only events whose id, summary or quotes contain this text.")
@format_option(TABLE_FORMATS)
@user_errors(ValueError)
def log_command(
    db: str, kind: str | None, actor: str | None, occurred_from: str | None, occurred_to: str | None, text: str | None, fmt: str
) -> None:
    """List recorded events in the order they occurred.

    \b
    Examples:
      ledger log --kind request
      ledger log --actor biden --from 2024-05-01 --to 2024-05-31
      ledger log --text ATACMS --format json
    """
    with open_ledger(db) as ledger:
        events = [record.model_dump(mode="json") for record in ledger.log(kind, actor, occurred_from, occurred_to, text)]
    if fmt == "json":
        emit_json(events)
        return
    rows = [(data["occurred"], data["kind"], data["id"], data["summary"]) for data in events]
    if fmt in ("csv", "tsv"):
        emit_delimited([(["occurred", "kind", "id", "summary"], rows)], fmt)
        return
    emit(table(f"{len(rows)} event(s)", ["occurred", "kind", "id", "summary"], rows))


@click.command()
@click.argument("event_id", shell_complete=complete_event_ids)
@db_option
@format_option()
@user_errors()
def show(event_id: str, db: str, fmt: str) -> None:
    """Show one event whole, with its sources and where the store holds it.

    \b
    Example:
      ledger show biden-agrees-counter-fire-shift --format json
    """
    with open_ledger(db) as ledger:
        data = ledger.show(event_id).model_dump(mode="json")
        names = actor_names(ledger) if fmt != "json" else {}
    if fmt == "json":
        emit_json(data)
        return
    bounds = data["occurred_bounds"]
    fields = [
        ("id", data["id"]),
        ("kind", data["kind"]),
        ("occurred", f"{data['occurred']}  ({bounds['earliest'] or '…'} .. {bounds['latest'] or '…'}, {bounds['precision']})"),
        ("reported", data["reported"]),
        ("recorded", f"position {data['recorded']['position']} at {data['recorded']['at']}"),
        ("actors", ", ".join(f"{actor} ({names[actor]})" if actor in names else actor for actor in data["actors"])),
        ("summary", data["summary"]),
    ]
    skip = {
        "id",
        "kind",
        "occurred",
        "reported",
        "actors",
        "summary",
        "sources",
        "links",
        "occurred_bounds",
        "recorded",
        "schema_version",
        "tags",
        "correction_status",
    }
    fields += [
        (key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value)
        for key, value in data.items()
        if key not in skip
    ]
    fields += [(f"link {rel}", ", ".join(targets)) for rel, targets in data.get("links", {}).items() if targets]
    if data.get("tags"):
        fields.append(("tags", ", ".join(data["tags"])))
    fields.append(("corrected", correction_line(data["correction_status"])))
    rows = [
        (
            s.get("outlet"),
            s.get("published"),
            s.get("document") or s.get("url"),
            s.get("attribution"),
            s.get("speaker") or s.get("count"),
            s.get("quote"),
            (s.get("reliability") or "") + str(s.get("credibility") or ""),
        )
        for s in data["sources"]
    ]
    emit(
        table(None, ["field", "value"], fields),
        table("sources", ["outlet", "published", "document", "attribution", "who", "quote", "rating"], rows),
    )


def correction_line(status: dict) -> str:
    """Whether the record stands as recorded, or which corrections retract or amend it."""
    if status["status"] == "retracted":
        return f"RETRACTED by {', '.join(status['retracted_by'])}"
    if status["status"] == "amended":
        return f"AMENDED by {', '.join(status['amended_by'])} (the fields above are as recorded; replay and audit use the amended event)"
    return "no: as recorded"


@click.command()
@db_option
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(exists=True),
    help="Also prove the ledger extends this checkpoint file (or each in this folder); repeatable.",
)
@click.option("--key", type=click.Path(dir_okay=False), help="Require checkpoints signed by this public key.")
@format_option()
@user_errors()
def verify(db: str, checkpoints: tuple[str, ...], key: str | None, fmt: str) -> None:
    """Recompute the hash chain and the Merkle log over every stored entry.

    Prints "ok, N events, head HASH" when every event matches, else the first
    position that does not match (exit 1). With --checkpoint, also proves that
    the ledger extends each checkpoint (see docs/proofs.md).

    \b
    Example:
      ledger verify --checkpoint checkpoint.json
    """
    from ledger.cli.proof import check_log, echo_log_check

    with open_ledger(db) as ledger:
        result = ledger.verify()
        log = check_log(ledger.store, checkpoints, key)
    if fmt == "json":
        emit_json({**result.model_dump(mode="json"), "ok": result.ok and log.ok, "chain_ok": result.ok, "log": log.to_dict()})
    elif result.ok:
        click.echo(f"ok, {result.count} events, head {result.head}")
    else:
        click.echo(f"mismatch at position {result.first_bad_position}: {result.reason} ({result.count} events verified before it)")
    if fmt != "json":
        echo_log_check(log)
    if not (result.ok and log.ok):
        raise click.exceptions.Exit(1)


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of standard output.")
def schema(output: str | None) -> None:
    """Write the JSON Schema of event files (one event or a list).

    Point your editor's YAML language server at it to validate events/*.yaml
    as you type, e.g. with a first line:
    # yaml-language-server: $schema=../../event.schema.json
    """
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


COMMANDS = [ingest, log_command, show, verify, schema]
