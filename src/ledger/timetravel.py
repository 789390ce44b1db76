"""Time travel over the store: replay, audit, diff and timeline, on three time axes.

- ``as_of`` (valid time): what was in effect in the world on that date;
- ``known_at`` (public time): using only what had been reported by that date;
- ``recorded_before`` (system time): only what the ledger held before a store
  position (or ISO timestamp) was appended, so an old answer can be reproduced.

This module chooses events from the store and hands them to the pure folds of
:mod:`ledger.projections`; the command line (:mod:`ledger.cli.timetravel`)
only formats what these functions return. Dates may be given as ``date``
objects or text (``2024-05-30``); bad dates raise
:class:`~ledger.dates.DateError`, unknown entities :class:`UnknownEntity`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ledger.dates import OPEN_END, DateError, parse_day, parse_edtf
from ledger.projections import PROJECTIONS, EntityKey, entity_of, group_by_entity, state_at
from ledger.projections.fold import applied_count, fold, render
from ledger.projections.state import entity_units
from ledger.projections.visibility import resolve, visible_events

if TYPE_CHECKING:
    from ledger.store import LedgerStore

ONLY_NAMES = {
    "restrictions": "restrictions",
    "aid": "aid_packages",
    "aid_packages": "aid_packages",
    "packages": "aid_packages",
    "positions": "positions",
    "territory": "territory",
}
LINK_RELATIONS = ("in_response_to", "part_of", "alternative_account_of")


class UnknownEntity(LookupError):
    """No restriction, package, position or territory has this id; the message suggests close ones."""

    def __init__(self, entity: str, suggestions: Sequence[str] = ()) -> None:
        self.entity, self.suggestions = entity, list(suggestions)
        super().__init__(entity)

    def __str__(self) -> str:
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else "; see 'ledger timeline' for ids"
        return f"no restriction, aid package, position or territory with id {self.entity!r}{hint}"


class UnknownProjection(ValueError):
    """``only`` named a projection that does not exist."""


# --- choosing events ------------------------------------------------------------------------


def optional_day(value: str | date | None) -> date | None:
    """A query date from text or a date; None stays None. Raises DateError for impossible dates."""
    return None if value is None or value == "" else parse_day(value)  # type: ignore[arg-type]


def recorded_cutoff(store: LedgerStore, recorded_before: int | str | None) -> int | None:
    """The first position *not* used for ``recorded_before`` N (a position or an ISO timestamp).

    Only whole append batches count: "before position N" means before the
    batch holding N was appended, so positions below that batch's first.
    """
    if recorded_before is None or recorded_before == "":
        return None
    if isinstance(recorded_before, int) or str(recorded_before).isdigit():
        position = int(recorded_before)
    else:
        try:
            datetime.fromisoformat(str(recorded_before))
        except ValueError:
            raise DateError(f"{recorded_before!r} is neither a store position nor an ISO timestamp") from None
        position = store.position_at(str(recorded_before))
    return store.batch_start(position) or position


def load_events(store: LedgerStore, recorded_before: int | str | None = None) -> list[dict[str, Any]]:
    """The events the store held before ``recorded_before`` (all when None), as plain dicts."""
    return [recorded.data for recorded in store.iter_events(before=recorded_cutoff(store, recorded_before))]


def projection_names(only: str | Iterable[str] | None) -> list[str] | None:
    """Projection names from ``only`` (``restrictions,aid,positions,territory``, a list, or None for all)."""
    if only is None:
        return None
    names = [part.strip() for part in (only.split(",") if isinstance(only, str) else only) if part.strip()]
    unknown = [name for name in names if name not in ONLY_NAMES]
    if unknown:
        raise UnknownProjection(f"unknown projection {unknown[0]!r}; choose from restrictions, aid, positions, territory")
    return list(dict.fromkeys(ONLY_NAMES[name] for name in names))


# --- replay ---------------------------------------------------------------------------------


def replay(
    store: LedgerStore,
    as_of: str | date,
    known_at: str | date | None = None,
    recorded_before: int | str | None = None,
    only: str | Iterable[str] | None = None,
) -> dict[str, Any]:
    """The state of every restriction, aid package, position and territory on ``as_of``.

    Returns the replay JSON contract: ``{"as_of", "known_at", "recorded_before",
    "restrictions", "aid_packages", "positions", "territory"}`` (with ``only``,
    just the lists asked for).
    """
    day, known = parse_day(as_of), optional_day(known_at)  # type: ignore[arg-type]
    names = projection_names(only)
    events = load_events(store, recorded_before)
    return {
        "as_of": day.isoformat(),
        "known_at": known.isoformat() if known else None,
        "recorded_before": recorded_before,
        "event_count": len(events),
        **state_at(events, day, known, names),
    }


# --- entities -------------------------------------------------------------------------------


def find_entity(events: Iterable[dict[str, Any]], entity: str) -> EntityKey:
    """The entity named ``entity`` (``ID`` or ``projection:ID``; positions are ``actor:question``)."""
    keys = sorted({key for data in events if (key := entity_of(data))}, key=lambda k: (list(PROJECTIONS).index(k.projection), k.key))
    for key in keys:
        if entity in (key.key, str(key)):
            return key
    names = [key.key for key in keys]
    close = difflib.get_close_matches(entity, names, n=3, cutoff=0.5)
    close += [name for name in names if entity.casefold() in name.casefold() and name not in close]
    raise UnknownEntity(entity, close[:3])


def timeline(store: LedgerStore, entity: str | None = None) -> list[dict[str, Any]]:
    """Dated events in the order they occurred (as amended by corrections); for one entity, its events and those linked to them."""
    events = load_events(store)
    amended = {event_id: item.data for event_id, item in resolve(events).items() if item.amendments}
    rows = [timeline_row(amended.get(data["id"], data)) for data in events]  # dates as corrected, as audit has them
    if entity is not None:
        key = find_entity(events, entity)
        related = entity_related(events, key)
        rows = [{**row, "relation": related[row["id"]]} for row in rows if row["id"] in related]
    return sorted(rows, key=lambda row: (row["earliest"] or "", row["latest"] or "", row["id"]))


def entity_related(events: list[dict[str, Any]], entity: EntityKey) -> dict[str, str]:
    """Ids of the events that tell an entity's story, with how each relates to it."""
    by_id = {data["id"]: data for data in events}
    related = {data["id"]: "state" for data in group_by_entity(events).get(entity, [])}
    for event_id in list(related):
        data = by_id[event_id]
        if data["kind"] == "correction":
            related[event_id] = "correction"
        elif entity_of(data) != entity:
            related[event_id] = "alternative account"
    for data in events:
        if data["kind"] == "request" and entity.projection == "restrictions" and data.get("restriction") == entity.key:
            related.setdefault(data["id"], "request")
    for event_id in list(related):
        for link in linked_events(by_id, event_id):
            related.setdefault(link["event"], "linked")
    return related


def timeline_row(data: dict[str, Any]) -> dict[str, Any]:
    """One event as a line of the timeline."""
    span = parse_edtf(data["occurred"])
    bounds = span.to_dict()
    return {
        "occurred": data["occurred"],
        "earliest": bounds["earliest"],
        "latest": bounds["latest"],
        "precision": span.precision,
        "reported": data["reported"],
        "kind": data["kind"],
        "id": data["id"],
        "entity": str(key) if (key := entity_of(data)) else None,
        "summary": data["summary"],
    }


# --- audit ----------------------------------------------------------------------------------


def audit(store: LedgerStore, entity: str, as_of: str | date | None = None, known_at: str | date | None = None) -> dict[str, Any]:
    """How an entity's state on ``as_of`` (default: as things stand) was reached, step by step.

    Each step is one event in fold order with its dates, kind, summary, sources,
    the state after it, and the events it links back to (transitively through
    ``in_response_to``, ``part_of`` and ``alternative_account_of``), so a
    request, a recommendation, a decision and its effect show in order.
    """
    day, known = optional_day(as_of), optional_day(known_at)
    events = load_events(store)
    key = find_entity(events, entity)
    projection = PROJECTIONS[key.projection]
    units = entity_units(events, key, known)
    count = applied_count(units, day or OPEN_END)
    visible = {event_id: item.data for event_id, item in resolve(visible_events(events, known)).items()}
    corrections = {data["id"]: data for data in visible_events(events, known) if data["kind"] == "correction"}
    steps = []
    for index, unit in enumerate(units[:count]):
        state_after = render(projection, key.key, units, fold(units[: index + 1], projection.tracked), day or OPEN_END)
        state_after.pop("events")
        for member in unit.members:
            steps.append(audit_step(member.data, member.version, member is unit.lead, state_after, visible, corrections))
    return {
        "entity": key.key,
        "kind": key.projection,
        "as_of": day.isoformat() if day else None,
        "known_at": known.isoformat() if known else None,
        "steps": steps,
    }


def audit_step(
    data: dict[str, Any],
    amendments: tuple[str, ...],
    lead: bool,
    state_after: dict[str, Any],
    visible: dict[str, dict[str, Any]],
    corrections: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """One step of an audit: the event, its evidence, the state after it, and what it links back to."""
    span = parse_edtf(data["occurred"])
    return {
        "event": data["id"],
        "occurred": data["occurred"],
        "precision": span.precision,
        "earliest": span.to_dict()["earliest"],
        "latest": span.to_dict()["latest"],
        "effective": (data.get("restriction") or {}).get("effective"),
        "reported": data["reported"],
        "kind": data["kind"],
        "stage": data.get("stage"),
        "summary": data["summary"],
        "role": "account" if lead else "alternative account",
        "sources": [source_summary(source) for source in data.get("sources", [])],
        "amended_by": [{"event": cid, "summary": corrections[cid]["summary"]} for cid in amendments if cid in corrections],
        "state_after": state_after,
        "links": linked_events(visible, data["id"]),
    }


def source_summary(source: dict[str, Any]) -> dict[str, Any]:
    """A source as an audit shows it."""
    keys = ("outlet", "published", "attribution", "speaker", "quote", "count", "reliability", "credibility", "document", "url")
    return {key: source.get(key) for key in keys}


def linked_events(by_id: dict[str, dict[str, Any]], event_id: str) -> list[dict[str, Any]]:
    """The events an event links back to, followed transitively, in the order they occurred.

    ``alternative_account_of`` is followed both ways; events not in ``by_id``
    (not yet reported, or retracted) are left out.
    """
    reverse_alternatives: dict[str, list[str]] = {}
    for data in by_id.values():
        for target in (data.get("links") or {}).get("alternative_account_of", []):
            reverse_alternatives.setdefault(target, []).append(data["id"])
    found: dict[str, dict[str, Any]] = {}
    todo = [event_id]
    while todo:
        current = todo.pop()
        found_data = by_id.get(current)
        if found_data is None:
            continue
        edges = [(relation, target) for relation in LINK_RELATIONS for target in (found_data.get("links") or {}).get(relation, [])]
        edges += [("alternative_account_of", source) for source in reverse_alternatives.get(current, [])]
        for relation, target in edges:
            if target != event_id and target not in found and target in by_id:
                found[target] = link_row(by_id[target], relation, current)
                todo.append(target)
    return sorted(found.values(), key=lambda row: (parse_edtf(row["occurred"]).earliest, row["event"]))


def link_row(data: dict[str, Any], relation: str, via: str) -> dict[str, Any]:
    """A linked event as an audit step lists it."""
    return {
        "relation": relation,
        "event": data["id"],
        "via": via,
        "kind": data["kind"],
        "occurred": data["occurred"],
        "summary": data["summary"],
    }


# --- diff -----------------------------------------------------------------------------------


def diff(store: LedgerStore, from_date: str | date, to_date: str | date, known_at: str | date | None = None) -> dict[str, Any]:
    """What changed in the world between two dates (as known at ``known_at``): added, removed, changed."""
    start, end, known = parse_day(from_date), parse_day(to_date), optional_day(known_at)  # type: ignore[arg-type]
    events = load_events(store)
    before, after = state_at(events, start, known), state_at(events, end, known)
    header = {"from": start.isoformat(), "to": end.isoformat(), "known_at": known.isoformat() if known else None}
    return {**header, **compare_states(before, after)}


def diff_known(store: LedgerStore, as_of: str | date, known_at_1: str | date, known_at_2: str | date) -> dict[str, Any]:
    """What changed in what was known about ``as_of`` between two known-at dates."""
    day, first, second = parse_day(as_of), parse_day(known_at_1), parse_day(known_at_2)  # type: ignore[arg-type]
    events = load_events(store)
    before, after = state_at(events, day, first), state_at(events, day, second)
    header = {"as_of": day.isoformat(), "known_at": first.isoformat(), "vs_known_at": second.isoformat()}
    return {**header, **compare_states(before, after)}


def compare_states(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> dict[str, dict[str, list]]:
    """Per projection: entities added, removed, and changed (the fields that differ, before and after)."""
    result = {}
    for name in before:
        old = {state["id"]: state for state in before[name]}
        new = {state["id"]: state for state in after[name]}
        changed = []
        for key in sorted(old.keys() & new.keys()):
            if old[key] != new[key]:
                fields = [field for field in new[key] if field != "events" and old[key].get(field) != new[key][field]]
                changed.append(
                    {
                        "id": key,
                        "fields": fields,
                        "before": {field: old[key].get(field) for field in fields},
                        "after": {field: new[key][field] for field in fields},
                        "new_events": [e for e in new[key]["events"] if e not in old[key]["events"]],
                        "dropped_events": [e for e in old[key]["events"] if e not in new[key]["events"]],
                    }
                )
        result[name] = {
            "added": [new[key] for key in sorted(new.keys() - old.keys())],
            "removed": [old[key] for key in sorted(old.keys() - new.keys())],
            "changed": changed,
        }
    return result
