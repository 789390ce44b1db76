"""Commands that travel in time: replay, audit, diff, timeline.

Each parses its options, calls one method of :class:`ledger.Ledger`, and formats
the result (rich tables, Markdown, or JSON exactly as ``result.model_dump()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ledger.cli.output import (
    UserError,
    actor_names,
    complete_entity_ids,
    db_option,
    emit,
    emit_delimited,
    emit_json,
    emit_json_lists,
    format_option,
    markdown_table,
    open_ledger,
    table,
    user_errors,
    view_option,
)
from ledger.projections.selection import PROJECTION_NAMES

if TYPE_CHECKING:
    from ledger.cli.terminal import Layout
    from ledger.results import Audit, Diff, Timeline

FORMATS = ("table", "json", "markdown", "csv", "tsv")

as_of_help = "Valid time: the state in effect in the world on this date (YYYY-MM-DD)."
known_at_help = "Public time: use only what had been reported by this date (default: everything)."


def emit_tables(sections: list[tuple[str, list[str], list[list[Any]]]], fmt: str, heading: str) -> None:
    """Print titled tables for a terminal (no word folded), as Markdown, or as CSV/TSV (a header line each)."""
    if fmt in ("csv", "tsv"):
        emit_delimited([(columns, rows) for _, columns, rows in sections if rows or len(sections) == 1], fmt)
        return
    if fmt == "markdown":
        parts = [f"# {heading}"]
        for title, columns, rows in sections:
            parts.append(f"## {title}\n\n" + (markdown_table(columns, rows) if rows else "(none)"))
        click.echo("\n\n".join(parts))
        return
    from rich.text import Text

    shown: list[Any] = [Text(heading)]
    for title, columns, rows in sections:
        shown.append(table(title, columns, rows) if rows else Text(f"{title}: (none)"))
    emit(*shown)


# --- how results read in tables -----------------------------------------------------------


def flags(state: dict[str, Any]) -> str:
    """``certain`` or ``possible``, plus ``disputed`` when accounts disagree."""
    return state["certainty"] + (", disputed" if state.get("disputed") else "")


def joined(values: list[str] | None) -> str:
    return "; ".join(values or [])


HEDGES = {"up_to": "up to ", "about": "about ", "nearly": "nearly ", "at_least": "at least "}


def money(value: dict[str, Any]) -> str:
    """An aid value as people read it: ``up to 125,000,000 USD``."""
    if value.get("amount") is None:
        return ""
    return f"{HEDGES.get(value.get('qualifier') or '', '')}{value['amount']:,} {value.get('currency') or ''}".strip()


def area_size(size: dict[str, Any]) -> str:
    """A territory's size as people read it: ``nearly 500 sq_mi``."""
    if size.get("value") is None:
        return ""
    return f"{HEDGES.get(size.get('qualifier') or '', '')}{size['value']:,} {size.get('unit') or ''}".strip()


PROJECTION_COLUMNS: dict[str, list[tuple[str, Any]]] = {
    "restrictions": [
        ("restriction", lambda s: s["id"]),
        ("status", lambda s: s["status"]),
        ("since", lambda s: s["since_text"]),
        ("certainty", flags),
        ("conditions", lambda s: joined(s["conditions"])),
        ("weapons / area / targets", lambda s: " | ".join(filter(None, [joined(s["weapons"]), s["area"], joined(s["targets"])]))),
        ("events", lambda s: len(s["events"])),
    ],
    "aid_packages": [
        ("package", lambda s: s["id"]),
        ("announced", lambda s: s["announced_text"]),
        ("authority", lambda s: " ".join(filter(None, [s["authority"], s["tranche"]]))),
        ("value", lambda s: money(s["value"])),
        ("measure / status", lambda s: f"{s['measure']} / {s['status']}"),
        ("certainty", flags),
        ("items", lambda s: joined(s["items"])),
    ],
    "positions": [
        ("actor", lambda s: s["actor"]),
        ("question", lambda s: s["question"]),
        ("stance", lambda s: s["stance"]),
        ("since", lambda s: s["since_text"]),
        ("certainty", flags),
        ("quote", lambda s: s["quote"]),
    ],
    "territory": [
        ("area", lambda s: s["area"]),
        ("holder", lambda s: s["holder"]),
        ("size", lambda s: area_size(s["size"])),
        ("since", lambda s: s["since_text"]),
        ("certainty", flags),
    ],
}
HEADLINE = {
    "restrictions": lambda s: s["status"],
    "aid_packages": lambda s: f"{s['status']} {s['measure']} {money(s['value'])}".strip(),
    "positions": lambda s: s["stance"],
    "territory": lambda s: f"{s['holder']} {area_size(s['size'])}".strip(),
}
AUDIT_COLUMNS = ["#", "occurred", "event", "summary", "state after", "sources", "links"]
DIFF_COLUMNS = ["projection", "id", "change", "field", "before", "after"]
TIMELINE_COLUMNS = ["occurred", "reported", "kind", "id", "summary"]


def rows_for(name: str, states: list[dict[str, Any]]) -> list[list[Any]]:
    """Table rows for one projection's states."""
    return [[cell(state) for _, cell in PROJECTION_COLUMNS[name]] for state in states]


def replay_heading(result: dict[str, Any]) -> str:
    """One line saying on which three time axes the replay answers."""
    known = f"known at {result['known_at']}" if result["known_at"] else "knowing everything reported"
    recorded = f"as recorded before {result['recorded_before']}" if result["recorded_before"] is not None else "as recorded now"
    return f"As of {result['as_of']}, {known}, {recorded} ({result['event_count']} events, through position {result['recorded_through']})"


def source_line(source: dict[str, Any]) -> str:
    who = source.get("speaker") or source["attribution"].replace("_", " ")
    return f"{source['outlet']} {source['published']} ({who})"


def link_line(link: dict[str, Any], step_event: str) -> str:
    via = f" (via {link['via']})" if link["via"] != step_event else ""
    return f"{link['relation']}: {link['event']}{via}"


def audit_rows(result: dict[str, Any]) -> list[list[Any]]:
    """One row per audit step."""
    headline = HEADLINE[result["kind"]]
    return [
        [
            number,
            f"{step['occurred']} ({step['precision']})",
            f"{step['event']} [{step['kind']}]" + (" (alternative account)" if step["role"] != "account" else ""),
            step["summary"],
            f"{headline(step['state_after'])} ({flags(step['state_after'])})",
            "\n".join(source_line(source) for source in step["sources"]),
            "\n".join(link_line(link, step["event"]) for link in step["links"]),
        ]
        for number, step in enumerate(result["steps"], start=1)
    ]


def audit_markdown(result: dict[str, Any]) -> str:
    """An audit as Markdown notes: one section per step, sources quoted."""
    headline = HEADLINE[result["kind"]]
    parts = [f"# Audit of {result['kind']} `{result['entity']}`"]
    for number, step in enumerate(result["steps"], start=1):
        lines = [f"## {number}. {step['occurred']} ({step['precision']}): `{step['event']}` ({step['kind']})", "", step["summary"], ""]
        lines.append(f"State after: **{headline(step['state_after'])}** ({flags(step['state_after'])})")
        lines += [""] + [f"- {source_line(s)}" + (f': "{s["quote"]}"' if s.get("quote") else "") for s in step["sources"]]
        if step["links"]:
            lines += ["", "Linked: " + ", ".join(f"{link['relation']} `{link['event']}` ({link['occurred']})" for link in step["links"])]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def diff_rows(result: dict[str, Any]) -> list[list[Any]]:
    """One row per added or removed entity, and per changed field."""
    rows: list[list[Any]] = []
    for name in PROJECTION_COLUMNS:
        changes = result.get(name)
        if not changes:
            continue
        headline = HEADLINE[name]
        rows += [[name, state["id"], "added", "", "", headline(state)] for state in changes["added"]]
        rows += [[name, state["id"], "removed", "", headline(state), ""] for state in changes["removed"]]
        for change in changes["changed"]:
            for field in change["fields"]:
                rows.append([name, change["id"], "changed", field, change["before"][field], change["after"][field]])
            if not change["fields"]:
                rows.append([name, change["id"], "new events", "", "", ", ".join(change["new_events"])])
    return rows


def emit_state(result: dict[str, Any], fmt: str, names: dict[str, str] | None = None) -> None:
    """A replay's answer (``State`` as JSON data) as JSON, or one table per projection (terminal, Markdown, CSV or TSV);
    ``names`` (actor id to name) are shown beside the actors' ids in the tables people read."""
    if fmt == "json":
        emit_json(result)
        return
    if names and result.get("positions"):
        named = [s | {"actor": f"{s['actor']} ({names[s['actor']]})"} if s["actor"] in names else s for s in result["positions"]]
        result = result | {"positions": named}
    sections = [
        (name.replace("_", " "), [header for header, _ in PROJECTION_COLUMNS[name]], rows_for(name, result[name]))
        for name in PROJECTION_COLUMNS
        if name in result
    ]
    emit_tables(sections, fmt, replay_heading(result))


def emit_audit(audit: Audit, fmt: str) -> None:
    result = audit.model_dump(mode="json")
    if fmt == "json":
        emit_json(result)
    elif fmt == "markdown":
        click.echo(audit_markdown(result))
    elif fmt in ("csv", "tsv"):
        emit_delimited([(AUDIT_COLUMNS, audit_rows(result))], fmt)
    else:
        title = f"{result['kind']} {result['entity']}: {len(result['steps'])} step(s)"
        emit(table(title, AUDIT_COLUMNS, audit_rows(result)))


def emit_diff(diff: Diff, fmt: str) -> None:
    result = diff.model_dump(mode="json")
    if fmt == "json":
        emit_json(result)
        return
    if result["vs_known_at"]:
        heading = f"Known about {result['as_of']}: at {result['known_at']} vs at {result['vs_known_at']}"
    else:
        heading = f"Changes from {result['from']} to {result['to']}" + (f", as known at {result['known_at']}" if result["known_at"] else "")
    emit_tables([("changes", DIFF_COLUMNS, diff_rows(result))], fmt, heading)


def emit_timeline(found: Timeline, fmt: str) -> None:
    result = found.model_dump(mode="json")
    if fmt == "json":
        emit_json(result)
        return
    entity, rows = result["entity"], result["events"]
    heading = f"Timeline of {entity}" if entity else "Timeline"
    columns = TIMELINE_COLUMNS + (["relation"] if entity else [])
    cells = [[row.get(column) for column in columns] for row in rows]
    if fmt != "table":
        emit_tables([(f"{len(rows)} event(s)", columns, cells)], fmt, heading)
        return
    from rich.text import Text

    from ledger.cli.terminal import Tabular

    emit(Text(heading), Tabular(f"{len(rows)} event(s)", timeline_layouts(rows, bool(entity))))


def timeline_layouts(rows: list[dict[str, Any]], related: bool) -> list[Layout]:
    """One line per event at any width: the summary is cut to what is left, and narrower terminals
    drop the report date, then the kind, and show the day an uncertain date starts (``2024-05-13…``)."""
    from ledger.cli.terminal import Column

    extra = ["relation"] if related else []
    layouts = [
        ["occurred", "reported", "kind", "id", *extra, "summary"],
        ["occurred", "kind", "id", *extra, "summary"],
        ["day", "kind", "id", *extra, "summary"],
        ["day", "id", *extra, "summary"],
        ["day", "id", *extra],
    ]
    return [
        (
            [Column(name, line=True) if name == "summary" else name for name in names],
            [[short_day(row) if name == "day" else row.get(name) for name in names] for row in rows],
        )
        for names in layouts
    ]


def short_day(row: dict[str, Any]) -> str:
    """The day an event sorts on, ``…`` marking an uncertain date: ``2024-05-13…``, ``…2024-04-30``."""
    if row["precision"] == "day" or not (row["earliest"] or row["latest"]):
        return row["occurred"]
    if row["earliest"] is None:
        return f"…{row['latest']}"
    return f"{row['earliest']}…"


@click.command()
@click.option("--as-of", required=True, help=as_of_help)
@click.option("--known-at", help=known_at_help)
@click.option(
    "--recorded-before",
    help="System time: only what the ledger held before this store position (or ISO timestamp) was appended, or when this checkpoint file was made.",
)
@click.option("--only", help="Comma-separated projections: restrictions,aid,positions,territory (default: all).")
@format_option(FORMATS)
@db_option
@view_option
@user_errors()
def replay(as_of: str, known_at: str | None, recorded_before: str | None, only: str | None, fmt: str, db: str, view: str | None) -> None:
    """The state of every restriction, aid package, position and territory on a date.

    Each row says whether it is certain or only possible (an event whose
    uncertain date straddles the as-of date) and whether accounts dispute it.
    With no ./ledger.db yet, replay first builds it from ./events.
    As JSON, keys are sorted and each entity's state is printed compact on a
    line of its own.

    \b
    Examples:
      ledger replay --as-of 2024-05-20                     could Ukraine strike Belgorod?
      ledger replay --as-of 2024-05-31 --known-at 2024-05-29
                                                           what was public on May 29 about May 31
      ledger replay --as-of 2024-08-20 --only restrictions,aid
      ledger replay --as-of 2024-06-01 --recorded-before 40 --format json
      ledger replay --as-of 2024-06-01 --format markdown
    """
    with open_ledger(db, view) as ledger:
        if fmt == "json":  # each state printed compact on its own line as it is read: never the whole state held
            emit_json_lists(ledger.replay_json_texts(as_of, known_at, recorded_before, only), PROJECTION_NAMES)
            return
        state = ledger.replay_json(as_of, known_at, recorded_before, only)
        names = actor_names(ledger) if fmt in ("table", "markdown") and state.get("positions") else {}
    emit_state(state, fmt, names)


@click.command()
@click.argument("entity", shell_complete=complete_entity_ids)
@click.option("--as-of", help="Audit the state on this date (default: as things stand).")
@click.option("--known-at", help=known_at_help)
@format_option(FORMATS)
@db_option
@view_option
@user_errors()
def audit(entity: str, as_of: str | None, known_at: str | None, fmt: str, db: str, view: str | None) -> None:
    """How an entity's state was reached, step by step, with sources and links.

    ENTITY is a restriction id, an aid package id, a position (ACTOR:QUESTION)
    or a territory id. Each step shows the event, its date and precision, its
    sources (outlet, date, attribution, quote), the state after it, and the
    events it answers or belongs to (request, recommendation, decision, effect).

    \b
    Examples:
      ledger audit atacms-long-range-strikes-inside-russia --as-of 2024-08-20
      ledger audit us-weapons-strikes-inside-russia --known-at 2024-05-29 --format markdown
      ledger audit kursk-incursion-zone --format json
    """
    with open_ledger(db, view) as ledger:
        found = ledger.audit(entity, as_of, known_at)
    emit_audit(found, fmt)


@click.command()
@click.argument("dates", nargs=-1, metavar="[FROM TO]")
@click.option("--as-of", help="With --known-at and --vs-known-at: the date whose knowledge is compared.")
@click.option("--known-at", help="Public time of both sides (FROM TO), or of the first side (--as-of).")
@click.option("--vs-known-at", help="With --as-of: the public time to compare --known-at against.")
@format_option(FORMATS)
@db_option
@view_option
@user_errors()
def diff(
    dates: tuple[str, ...], as_of: str | None, known_at: str | None, vs_known_at: str | None, fmt: str, db: str, view: str | None
) -> None:
    """What changed between two dates, or between two states of knowledge.

    \b
    Examples:
      ledger diff 2024-05-20 2024-06-01                    what changed in the world
      ledger diff 2024-05-20 2024-06-01 --known-at 2024-05-31
      ledger diff --as-of 2024-05-31 --known-at 2024-05-29 --vs-known-at 2024-06-05
                                                           what became known about May 31
    """
    if vs_known_at or as_of:
        if dates or not (as_of and known_at and vs_known_at):
            raise UserError("compare knowledge with --as-of D --known-at K1 --vs-known-at K2 (and no FROM TO)")
    elif len(dates) != 2:
        raise UserError("give two dates, FROM and TO (or --as-of D --known-at K1 --vs-known-at K2)")
    with open_ledger(db, view) as ledger:
        if as_of and known_at and vs_known_at:
            found = ledger.diff_known(as_of, known_at, vs_known_at)
        else:
            found = ledger.diff(dates[0], dates[1], known_at)
    emit_diff(found, fmt)


@click.command()
@click.argument("entity", required=False, shell_complete=complete_entity_ids)
@format_option(FORMATS)
@db_option
@view_option
@user_errors()
def timeline(entity: str | None, fmt: str, db: str, view: str | None) -> None:
    """The dated events, one line each, in the order they occurred.

    With ENTITY, only the events that tell its story: those that set its state,
    their corrections and alternative accounts, requests naming it, and the
    events they link back to.

    \b
    Examples:
      ledger timeline
      ledger timeline us-weapons-strikes-inside-russia
      ledger timeline kursk-incursion-zone --format markdown
    """
    with open_ledger(db, view) as ledger:
        found = ledger.timeline(entity)
    emit_timeline(found, fmt)


COMMANDS = [replay, audit, diff, timeline]
