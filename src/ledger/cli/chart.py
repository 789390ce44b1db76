"""``ledger chart``: how restrictions, positions and aid moved over valid time, drawn to SVG, PNG or HTML.

The ledger is asked what it would be asked at the command line: the timeline for the events and
their dates, and the state (``replay``) on every day on which something can change. The drawing is
:mod:`ledger.cli.chart_spec`; vl-convert renders it without a browser or the network, and the HTML
carries the Vega scripts inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import click

from ledger.cli import chart_spec
from ledger.cli.output import UserError, complete_entity_ids, db_option, user_errors

FORMATS = {".svg": "svg", ".png": "png", ".html": "html", ".htm": "html"}
PANEL_NAMES = {"restrictions": "restrictions", "aid": "aid_packages", "aid_packages": "aid_packages"} | {
    "positions": "positions",
    "territory": "territory",
}


class Answers(Protocol):
    """What the chart asks the ledger: the timeline's rows and the state on a day, as their JSON."""

    def timeline(self) -> list[dict[str, Any]]: ...

    def replay(self, as_of: str, known_at: str | None) -> dict[str, Any]: ...


class LedgerAnswers:
    """The ledger's answers, through :class:`ledger.Ledger`, as the JSON documents of its results."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger

    def timeline(self) -> list[dict[str, Any]]:
        return self.ledger.timeline().model_dump(mode="json")["events"]

    def replay(self, as_of: str, known_at: str | None) -> dict[str, Any]:
        return self.ledger.replay(as_of, known_at).model_dump(mode="json")


def samples(answers: Answers, days: Sequence[str], known_at: str | None) -> list[chart_spec.Sample]:
    return [(day, answers.replay(day, known_at)) for day in days]


def chart_data(
    answers: Answers,
    panels: Sequence[str],
    start: str | None = None,
    end: str | None = None,
    known_at: str | None = None,
    entities: Sequence[str] = (),
) -> chart_spec.ChartData:
    """What to draw for ``panels`` between ``start`` and ``end`` (default: around the drawn events)."""
    timeline = answers.timeline()
    if known_at:
        timeline = [row for row in timeline if row["reported"] <= known_at]
    if entities:
        timeline = [row for row in timeline if wanted(row["entity"], entities)]
    default_start, default_end = chart_spec.default_window(timeline, panels)
    start, end = start or default_start, end or default_end
    if start >= end:
        raise UserError(f"--from {start} is not before --to {end}")
    states = samples(answers, chart_spec.change_days(timeline, start, end), known_at)
    if entities:
        states = [
            (
                day,
                {
                    name: [s for s in items if wanted(f"{name}:{s['id']}", entities)]
                    for name, items in state.items()
                    if isinstance(items, list)
                },
            )
            for day, state in states
        ]
    return chart_spec.build(states, timeline, end, panels, known_at)


def wanted(entity: str | None, entities: Sequence[str]) -> bool:
    """Whether ``projection:id`` is one of the entities asked for (by id, or projection:id)."""
    if not entity:
        return False
    return entity in entities or entity.partition(":")[2] in entities


def render(spec: dict[str, Any], fmt: str) -> bytes:
    """The chart as SVG, PNG (2x) or a self-contained HTML page."""
    import vl_convert

    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec).encode()
    if fmt == "png":
        return bytes(vl_convert.vegalite_to_png(spec, scale=2))
    return vl_convert.vegalite_to_html(spec, bundle=True).encode()


def panel_names(only: str | None) -> list[str]:
    if not only:
        return list(chart_spec.PANELS)
    names = [part.strip() for part in only.split(",") if part.strip()]
    unknown = [name for name in names if name not in PANEL_NAMES]
    if unknown:
        raise UserError(f"--only: unknown panel {', '.join(unknown)} (restrictions, aid, positions, territory)")
    return [PANEL_NAMES[name] for name in names]


@click.command()
@click.argument("entities", nargs=-1, shell_complete=complete_entity_ids)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write: .svg, .png or .html.")
@click.option("--from", "start", metavar="DATE", help="First day drawn (default: a month before the first event drawn).")
@click.option("--to", "end", metavar="DATE", help="Last day drawn (default: a month after the last event).")
@click.option("--only", help="Comma-separated panels: restrictions,aid,positions,territory (default: all).")
@click.option("--known-at", metavar="DATE", help="Draw what was known on this date: only events reported by then.")
@db_option
@user_errors()
def chart(
    entities: tuple[str, ...], output: str, start: str | None, end: str | None, only: str | None, known_at: str | None, db: str
) -> None:
    """Draw how each restriction's status, each actor's stance and each aid package moved over time.

    One bar per restriction (and per actor on each question), coloured by
    status or stance and faded where it is only possible; a marker and a label
    for each change and the event that made it; ticks for every event bearing
    on it. Written as SVG, PNG or self-contained HTML, by OUTPUT's extension,
    without the network. ENTITIES (ids, or projection:id) limit what is drawn.

    \b
    Examples:
      ledger chart -o timeline.svg
      ledger chart -o kharkiv.png us-weapons-strikes-inside-russia --from 2024-05-01 --to 2024-06-15
      ledger chart -o may29.html --known-at 2024-05-29 --only restrictions,positions
    """
    from ledger.cli.output import open_ledger
    from ledger.dates import parse_edtf

    fmt = FORMATS.get(Path(output).suffix.lower())
    if fmt is None:
        raise UserError(f"{output}: the extension says the format: .svg, .png or .html")
    for value in (start, end, known_at):
        if value:
            parse_edtf(value)
    panels = panel_names(only)
    with open_ledger(db) as ledger:
        data = chart_data(LedgerAnswers(ledger), panels, start, end, known_at, entities)
    if not data.bands:
        raise UserError(
            "nothing to draw: no restriction, package, position or area in that window" + (" among those ids" if entities else "")
        )
    Path(output).write_bytes(render(chart_spec.spec(data), fmt))
    click.echo(
        f"wrote {output} ({len({(r['projection'], r['entity']) for r in data.bands})} entities, {len(data.changes)} changes)", err=True
    )


COMMANDS = [chart]
