"""Certainty from the readings of uncertain dates: is the state the same whichever day each event fell on?

A *reading* gives every event of an entity one day its date allows: any day of
an interval, an approximate date's span or a month; any day up to the end of
an open start; one member of a one-of set. Under a reading the events that
fell on or before the as-of day D apply in the order of their days; two events
read on the same day fold in either order, unless both have one possible day
only (then by their fold order). The state on D is ``certain`` when every
reading gives the same *decided* fields (:attr:`Projection.decided`: what the
state says, not its quote, stage, since or list of events), otherwise
``possible``, and its ``alternatives`` say what else it may be and why.

Fields are replaced by the last event that sets them, so a field's value under
a reading is the one of its last setter, and an event ``u`` can be the last
setter of field ``f`` exactly when no event setting ``f`` must both have
happened by D (its latest day is on or before D) and come after ``u`` read as
late as it can by D. That test is exact and cheap: the events it needs are
those whose dates reach the last such settled setter, found walking back from
D; the walk stops as soon as no earlier event can reach it.

Alternatives are the states under named readings (their fields computed from
the same candidate setters): ``as_shown`` (the state the answer shows),
``earliest`` (every event on its first possible day), ``latest`` (on its last),
and ``last:ID`` (that event as late as it can be by D, every other event
before it when its dates allow, else as late as they allow), at most
:data:`MAX_LAST_READINGS` of the last kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from ledger.projections.base import Account, EntityView, Projection

if TYPE_CHECKING:
    from ledger.projections.fold import Folded, Unit

MAX_LAST_READINGS = 12
"""Bound on the ``last:ID`` readings an answer lists (certainty itself is always exact)."""

UNSET = object()
"""A field no event had set yet under a reading."""

Position = tuple[date, int, tuple[Any, ...]]


def last_day(unit: Unit, as_of: date) -> date:
    """The latest day the unit can fall on, on or before ``as_of`` (it must be able to: its start is)."""
    if unit.latest <= as_of:
        return unit.latest
    if unit.choices:
        return max(day for day in unit.choices if day <= as_of)
    return as_of


def can_precede(other: Unit, unit: Unit, day: date) -> bool:
    """True when ``other`` can be read before ``unit`` read on ``day``."""
    if other.start != day:
        return other.start < day
    return not (other.point and unit.point and other.sort_key > unit.sort_key)


def assess(
    projection: Projection,
    units: Sequence[Unit],
    count: int,
    prefix: Sequence[Folded],
    pending: Sequence[Unit],
    as_of: date,
    shown: Folded,
) -> tuple[str, list[dict[str, Any]]]:
    """``(certainty, alternatives)`` of the entity on ``as_of``.

    ``units`` are in fold order, the first ``count`` of them shown (``prefix``:
    the fold of each of their prefixes), ``pending`` those that may have
    happened by ``as_of`` but are read later; ``shown`` is the state shown.
    """
    if not pending and settles_everything(units[count - 1], prefix[count - 1], prefix[count], as_of, projection.decided):
        return "certain", []
    decided = projection.decided
    wanted = {name for name in decided if name in prefix[count].fields}
    wanted.update(name for unit in pending for name in unit.lead.effect if name in decided)
    seen = list(pending)
    settled_start: dict[str, date] = {}  # per field: the latest start of a setter that has surely happened by as_of
    index = count
    walking = list(wanted)  # the fields that still need the walk: once one does not, no earlier prefix makes it need it again
    while index > 0:
        before = prefix[index]
        fields, latest = before.fields, before.latest
        walking = [name for name in walking if name in fields and (name not in settled_start or latest >= settled_start[name])]
        if not walking:
            break
        index -= 1
        unit = units[index]
        seen.append(unit)
        if unit.latest <= as_of:
            for name in unit.lead.effect:
                if name in wanted and (name not in settled_start or unit.start > settled_start[name]):
                    settled_start[name] = unit.start
    if all(unit.point for unit in seen) and all(name in settled_start for name in wanted):
        return "certain", []  # days fixed and every field set by then: one order, one state
    candidates = varying_setters(seen, wanted, settled_start, as_of)
    varying = sorted(candidates)
    if not varying:
        return "certain", []
    return "possible", alternatives(projection, seen, candidates, varying, settled_start, as_of, shown, count)


def settles_everything(last: Unit, before: Folded, shown: Folded, as_of: date, decided: dict[str, str]) -> bool:
    """True when the last unit shown surely happened by ``as_of``, after every earlier one, and sets every decided field set.

    Then every reading ends with it: the common case of news recorded in order, answered without a walk.
    """
    if last.latest > as_of or last.start <= before.latest:
        return False
    effect = last.lead.effect
    return all(name in effect for name in shown.fields if name in decided)


def last_setters(seen: list[Unit], name: str, settled: date | None, as_of: date) -> list[Unit]:
    """The units that can be the last to set field ``name`` by ``as_of``.

    ``settled``: the latest start of a unit setting it that surely happened by
    then (None: none did, and the field may still be unset).
    """
    setters = [unit for unit in seen if name in unit.lead.effect]
    return setters if settled is None else may_be_last(setters, settled, as_of, {})


def varying_setters(seen: list[Unit], wanted: set[str], settled_start: dict[str, date], as_of: date) -> dict[str, list[Unit]]:
    """The fields of ``wanted`` that vary, each with its :func:`last_setters`; the units gone through once.

    A field whose setters all give one value cannot vary among the last of
    them: those are not looked for. Each unit's last day is found once.
    """
    setters: dict[str, list[Unit]] = {name: [] for name in wanted}
    for unit in seen:
        for name in unit.lead.effect:
            found = setters.get(name)
            if found is not None:
                found.append(unit)
    last_days: dict[int, date] = {}
    varying = {}
    for name, units in setters.items():
        if not units:
            continue
        settled = settled_start.get(name)
        if settled is None:  # it may be unset: "unset" and the units' values vary
            varying[name] = units
        elif len(units) > 1 and varies(units, name, False):
            last = may_be_last(units, settled, as_of, last_days)
            if len(last) > 1 and varies(last, name, False):
                varying[name] = last
    return varying


def may_be_last(setters: list[Unit], settled: date, as_of: date, last_days: dict[int, date]) -> list[Unit]:
    """The setters that can come last by ``as_of``, given the latest start ``settled`` of one that surely happened.

    ``last_days`` keeps each unit's :func:`last_day` (by its identity) for the other fields of one state.
    """
    blockers = [unit for unit in setters if unit.latest <= as_of and unit.start == settled and unit.point]
    found = []
    for unit in setters:
        day = last_days.get(id(unit))
        if day is None:
            day = last_days[id(unit)] = last_day(unit, as_of)
        if day > settled or (day == settled and not any(other is not unit and not can_precede(other, unit, day) for other in blockers)):
            found.append(unit)
    return found


def varies(units: list[Unit], name: str, may_be_unset: bool) -> bool:
    """True when the units give the field more than one value (counting "unset" when it may be)."""
    if may_be_unset:  # "unset" and any unit's value (never the text unset: a dumped value is JSON)
        return bool(units)
    if len(units) < 2:  # one value at most, nothing to compare
        return False
    # A text compares as itself (JSON text is one per string, and never equals a dump); other values by their dumps.
    values = [unit.lead.effect[name] for unit in units]
    return len({value if type(value) is str else orjson.dumps(value, option=orjson.OPT_SORT_KEYS) for value in values}) > 1


def alternatives(
    projection: Projection,
    seen: list[Unit],
    candidates: dict[str, list[Unit]],
    varying: list[str],
    settled_start: dict[str, date],
    as_of: date,
    shown: Folded,
    count: int,
) -> list[dict[str, Any]]:
    """The states the named readings give, one entry per different state, the one shown first."""
    deciding = sorted({id(unit): unit for name in varying for unit in candidates[name]}.values(), key=lambda unit: unit.sort_key)
    uncertain = [unit for unit in deciding if not unit.point]
    shown_ids = set(shown.events)
    readings: list[tuple[str, dict[int, Position | None]]] = [
        ("as_shown", {id(u): ((u.anchor, 0, u.sort_key) if u.member_ids[0] in shown_ids else None) for u in deciding}),
        ("earliest", {id(u): (u.start, 0, u.sort_key) for u in deciding}),
        ("latest", {id(u): (u.latest, 0, u.sort_key) if u.latest <= as_of else None for u in deciding}),
    ]
    for unit in list(reversed(deciding))[:MAX_LAST_READINGS]:
        readings.append((f"last:{unit.lead.id}", last_reading(unit, deciding, as_of)))
    found: dict[bytes, dict[str, Any]] = {}
    keys: dict[tuple[int, ...], bytes] = {}  # readings often agree: each set of values is rendered once
    some_latest = any(unit.latest <= as_of for unit in seen)
    for name, positions in readings:
        if name == "as_shown":
            state = {field: shown.fields.get(field, UNSET) for field in varying}
        else:
            state = {field: last_value(candidates[field], field, positions) for field in varying}
        present = name != "latest" or some_latest
        values = (present, *map(id, state.values()))  # the very objects: held by ``state`` and the units while compared
        key = keys.get(values)
        if key is None:
            rendered = render_decided(projection, seen[-1].lead, shown, state, varying) if present else None
            key = keys[values] = orjson.dumps(rendered, option=orjson.OPT_SORT_KEYS)
        if key in found:
            found[key]["readings"].append(name)
            continue
        found[key] = {"state": rendered, "readings": [name], "if": conditions(uncertain, deciding, positions)}
    return list(found.values())


def last_reading(unit: Unit, deciding: list[Unit], as_of: date) -> dict[int, Position | None]:
    """``unit`` as late as it can be by ``as_of``; the others before it when their dates allow, else as late as they allow."""
    day = last_day(unit, as_of)
    positions: dict[int, Position | None] = {id(unit): (day, 1, unit.sort_key)}
    for other in deciding:
        if other is unit:
            continue
        if can_precede(other, unit, day):
            positions[id(other)] = (other.start, 0, other.sort_key)
        else:
            positions[id(other)] = (other.latest, 2, other.sort_key) if other.latest <= as_of else None
    return positions


def last_value(setters: list[Unit], name: str, positions: dict[int, Position | None]) -> Any:
    """The field's value under a reading: that of its last setter read by as-of (UNSET when none is)."""
    last, last_position = None, None
    for unit in setters:
        position = positions[id(unit)]
        if position is not None and (last_position is None or position > last_position):
            last, last_position = unit, position
    return UNSET if last is None else last.lead.effect[name]


def render_decided(projection: Projection, first: Account, shown: Folded, state: dict[str, Any], varying: list[str]) -> dict[str, Any]:
    """The varying fields of a reading's state, as the JSON names and renders them."""
    fields = {**shown.fields}
    for name, value in state.items():
        if value is UNSET:
            fields.pop(name, None)
        else:
            fields[name] = value
    view = EntityView(key="", fields=fields, first=first, since=None, events=[], certainty="", disputed=False)
    rendered = projection.render(view)
    return {projection.decided[name]: rendered[projection.decided[name]] for name in varying}


def conditions(uncertain: list[Unit], deciding: list[Unit], positions: dict[int, Position | None]) -> list[dict[str, Any]]:
    """How this reading takes each event whose uncertain date decides: by as-of or not, after and before which others."""
    placed = [(other, spot) for other in deciding if (spot := positions.get(id(other))) is not None]
    found = []
    for unit in uncertain:
        position = positions.get(id(unit))
        found.append(
            {
                "event": unit.lead.id,
                "occurred": unit.lead.data["occurred"],
                "by_as_of": position is not None,
                "after": [] if position is None else [other.lead.id for other, spot in placed if other is not unit and spot < position],
                "before": [] if position is None else [other.lead.id for other, spot in placed if other is not unit and spot > position],
            }
        )
    return found
