"""The fold engine: answers computed by folding stored events, on three time axes.

- ``as_of`` (valid time): what was in effect in the world on that date;
- ``known_at`` (public time): using only what had been reported by that date;
- ``recorded_before`` (system time) is applied by the caller, who passes only
  the events recorded before the cutoff.

Every function here is pure: it takes the events (plain dicts, as stored) and
dates, and returns plain data. :class:`ledger.Ledger` chooses the events, and
chooses between this engine and the read model (:mod:`ledger.readmodel.query`),
which must give the same answers (tests compare them field by field).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from ledger.dates import OPEN_END, parse_edtf
from ledger.projections import PROJECTIONS, EntityKey, entity_of, group_by_entity, state_at
from ledger.projections.fold import applied_count, fold, pending_units, render, state_of_units
from ledger.projections.selection import UnknownEntity, close_names, split_entity
from ledger.projections.state import entity_units
from ledger.projections.visibility import resolve, visible_events

LINK_RELATIONS = ("in_response_to", "part_of", "alternative_account_of")


# --- replay ---------------------------------------------------------------------------------


def replay(events: list[dict[str, Any]], as_of: date, known_at: date | None, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The states of the projections in ``names`` on ``as_of`` (as known at ``known_at``), each list sorted by id."""
    return state_at(events, as_of, known_at, names)


# --- entities -------------------------------------------------------------------------------


def find_entity(events: Iterable[dict[str, Any]], entity: str) -> EntityKey:
    """The entity named ``entity`` (``ID`` or ``projection:ID``; positions are ``actor:question``)."""
    keys = sorted({key for data in events if (key := entity_of(data))}, key=lambda k: (list(PROJECTIONS).index(k.projection), k.key))
    projection, name = split_entity(entity)
    for key in keys:
        if key.key == name and projection in (None, key.projection):
            return key
    raise UnknownEntity(entity, close_names(entity, [key.key for key in keys]))


def timeline(events: list[dict[str, Any]], entity: str | None = None) -> list[dict[str, Any]]:
    """Dated events in the order they occurred (as amended by corrections); for one entity, its events and those linked to them."""
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


def audit(events: list[dict[str, Any]], entity: str, as_of: date | None = None, known_at: date | None = None) -> dict[str, Any]:
    """How an entity's state on ``as_of`` (default: as things stand) was reached, step by step.

    Each step is one event in fold order with its dates, kind, summary, sources,
    the state after it, and the events it links back to (transitively through
    ``in_response_to``, ``part_of`` and ``alternative_account_of``), so a
    request, a recommendation, a decision and its effect show in order.
    """
    day, known = as_of, known_at
    key = find_entity(events, entity)
    projection = PROJECTIONS[key.projection]
    units = entity_units(events, key, known)
    on = day or OPEN_END
    count = applied_count(units, on)
    shown = list(units[:count]) if count else pending_units(units, on)  # as replay shows it: open starts that may have happened
    visible = {event_id: item.data for event_id, item in resolve(visible_events(events, known)).items()}
    corrections = {data["id"]: data for data in visible_events(events, known) if data["kind"] == "correction"}
    steps = []
    for index, unit in enumerate(shown):
        if index == len(shown) - 1 or not count:  # the state replay gives; open starts that may have happened come as one
            state_after = state_of_units(projection, key.key, units, on) or {}
        else:
            state_after = render(projection, key.key, units, fold(shown[: index + 1], projection.tracked), on)
        state_after.pop("events", None)
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


def compare_states(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> dict[str, dict[str, list]]:
    """Per projection: entities added, removed, and changed (the fields that differ, before and after)."""
    result = {}
    for name in before:
        old = {state["id"]: state for state in before[name]}
        new = {state["id"]: state for state in after[name]}
        changed = []
        for key in sorted(old.keys() & new.keys()):
            if old[key] != new[key]:
                fields = sorted(field for field in new[key] if field != "events" and old[key].get(field) != new[key][field])
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
