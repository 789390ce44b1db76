"""Which events of one entity their dates leave unordered, where the order changes the state.

:func:`order_warnings` is what ``ledger ingest`` tells an analyst about new
events: that an event may have come before or after another event of the same
entity (their dates share a day) and the two set a decided field differently,
so answers where both may have happened are ``possible`` (see
:mod:`ledger.projections.readings`). A warning, never a refusal: the dates may
be all the sources allow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from ledger.projections.fold import Unit
from ledger.projections.state import PROJECTIONS
from ledger.projections.visibility import resolve


def share_a_day(one: Unit, other: Unit) -> bool:
    """True when some day is allowed by both units' dates (one-of sets allow their days only)."""
    if one.choices and other.choices:
        return bool(set(one.choices) & set(other.choices))
    if one.choices or other.choices:
        listed, span = (one, other) if one.choices else (other, one)
        return any(span.start <= day <= span.latest for day in listed.choices)
    return max(one.start, other.start) <= min(one.latest, other.latest)


def conflicting_fields(one: Unit, other: Unit, decided: Iterable[str]) -> list[str]:
    """The decided fields both units set, to different values."""
    first, second = one.lead.effect, other.lead.effect
    return [name for name in decided if name in first and name in second and first[name] != second[name]]


def order_warnings(new_events: Iterable[dict[str, Any]], existing_events: Iterable[dict[str, Any]]) -> list[str]:
    """One line per new event whose order against another event of its entity is undetermined and matters.

    ``existing_events`` are the events already recorded (others' entities are
    harmless); corrections among either are applied first. Two events whose
    dates are each a single day are ordered by the fold and not reported.
    """
    new = list(new_events)
    new_ids = {data["id"] for data in new}
    everything = {data["id"]: data for data in existing_events}
    everything.update((data["id"], data) for data in new)
    resolved = resolve(everything.values())
    warnings = []
    for projection in PROJECTIONS.values():
        by_entity: dict[str, list[Unit]] = defaultdict(list)
        for item in resolved.values():
            key = projection.key(item.data)
            if key is not None:
                by_entity[key].append(Unit((projection.account(item.data, item.amendments),)))
        for key, units in by_entity.items():
            fresh = [unit for unit in units if unit.lead.id in new_ids]
            for unit in sorted(fresh, key=lambda u: u.sort_key):
                for other in sorted(units, key=lambda u: u.sort_key):
                    if other is unit or (other.lead.id in new_ids and other.sort_key < unit.sort_key):
                        continue  # a pair of new events is reported once
                    if unit.point and other.point or not share_a_day(unit, other):
                        continue
                    fields = conflicting_fields(unit, other, projection.decided)
                    if fields:
                        warnings.append(
                            f"{unit.lead.id}: order against {other.lead.id} ({projection.name}:{key}) is undetermined "
                            f"by their dates ({unit.lead.data['occurred']} and {other.lead.data['occurred']}) and they "
                            f"set {', '.join(fields)} differently: where both may have happened the state is possible"
                        )
    return warnings


ORDER_CHECK_EVENTS = 50_000
"""Without the read model's entity index, ledgers up to this many events have new events checked (reading every stored event)."""


class EventSource(Protocol):
    """What :func:`order_warnings_from_store` reads: a store's event count and its events."""

    def count(self) -> int: ...

    def iter_events(self) -> Iterable[Any]: ...


def order_warnings_from_store(store: EventSource, new_events: Sequence[dict[str, Any]]) -> list[str]:
    """:func:`order_warnings` for events just appended to ``store``, against every stored event.

    For when no read model can name the new events' entities: reading the whole
    ledger costs more than the ingest beyond :data:`ORDER_CHECK_EVENTS` events,
    so larger ledgers are not checked this way.
    """
    if not new_events or store.count() > ORDER_CHECK_EVENTS:
        return []
    return order_warnings(new_events, (recorded.data for recorded in store.iter_events()))
