"""Which events count, as known on a date: the public-time filter, corrections and alternative accounts.

- An event is *visible* at ``known_at`` when it was reported on or before it
  (``known_at=None``: everything given counts).
- A visible retraction removes the event it retracts entirely; a visible
  amendment replaces the event by ``apply_amendment(event, amended)``.
  Corrections apply in the order they were reported (then id); a correction may
  itself be retracted or amended. A retraction wins over any amendment. An
  amendment whose result is not a valid event is ignored.
- Events linked by ``links.alternative_account_of`` (symmetric, transitive,
  among visible events that survive correction) are accounts of one fact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Resolved:
    """A visible event as its visible corrections leave it, with the ids of the amendments applied."""

    data: dict[str, Any]
    amendments: tuple[str, ...] = ()


AmendmentCache = dict[tuple[str, tuple[str, ...]], dict[str, Any]]


def is_visible(data: dict[str, Any], known_at: date | None) -> bool:
    """True when the event had been reported by ``known_at`` (always, when it is None)."""
    return known_at is None or data["reported"] <= known_at.isoformat()


def visible_events(events: Iterable[dict[str, Any]], known_at: date | None) -> list[dict[str, Any]]:
    """The events reported on or before ``known_at``."""
    if known_at is None:
        return list(events)
    cutoff = known_at.isoformat()
    return [data for data in events if data["reported"] <= cutoff]


def amend(data: dict[str, Any], amended: dict[str, Any]) -> dict[str, Any] | None:
    """The event as the amendment says it should read, or None if that is not a valid event."""
    from pydantic import ValidationError

    from ledger.events import apply_amendment, parse_event

    try:
        return apply_amendment(parse_event(data), amended).to_dict()
    except ValidationError:
        return None


def resolve(events: Iterable[dict[str, Any]], cache: AmendmentCache | None = None) -> dict[str, Resolved]:
    """Apply the given (visible) corrections to the given events.

    Returns every event that is not a correction and not retracted, by id, as
    amended. ``cache`` (optional) keeps amended events between calls.
    """
    by_id = {data["id"]: data for data in events}
    targeting: dict[str, list[str]] = defaultdict(list)
    for data in by_id.values():
        if data["kind"] == "correction" and data["corrects"] in by_id:
            targeting[data["corrects"]].append(data["id"])
    if not targeting:
        return {key: Resolved(data) for key, data in by_id.items() if data["kind"] != "correction"}
    for ids in targeting.values():
        ids.sort(key=lambda key: (by_id[key]["reported"], key))
    settled: dict[str, Resolved | None] = {}
    cache = {} if cache is None else cache

    def settle(event_id: str, path: frozenset[str]) -> Resolved | None:
        if event_id in settled:
            return settled[event_id]
        if event_id in path:
            return None  # corrections that correct each other in a cycle: the one reached again does not apply
        data, applied = by_id[event_id], ()
        for correction_id in targeting.get(event_id, ()):
            correction = settle(correction_id, path | {event_id})
            if correction is None:
                continue
            if correction.data["action"] == "retract":
                settled[event_id] = None
                return None
            amended = amended_version(event_id, data, applied, correction_id, correction.data["amended"], cache)
            if amended is not None:
                data, applied = amended, (*applied, correction_id)  # type: ignore[assignment]  # applied grows from ()
        settled[event_id] = Resolved(data, applied)
        return settled[event_id]

    result = {}
    for event_id in sorted(by_id):
        outcome = settle(event_id, frozenset())
        if outcome is not None and by_id[event_id]["kind"] != "correction":
            result[event_id] = outcome
    return result


def amended_version(
    event_id: str,
    data: dict[str, Any],
    applied: tuple[str, ...],
    correction_id: str,
    amended: dict[str, Any],
    cache: AmendmentCache,
) -> dict[str, Any] | None:
    """The event after one more amendment, from the cache when it was computed before."""
    key = (event_id, (*applied, correction_id))
    if key not in cache:
        cache[key] = amend(data, amended)  # type: ignore[assignment]
    return cache[key]


def alternative_groups(resolved: dict[str, Resolved]) -> dict[str, str]:
    """For each event in a group of alternative accounts, the group's id (its smallest event id).

    Events that are accounts of nothing else are left out.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        root = key
        while parent.get(root, root) != root:
            root = parent[root]
        parent[key] = root
        return root

    for event_id, item in resolved.items():
        for other in (item.data.get("links") or {}).get("alternative_account_of", []):
            if other in resolved:
                low, high = sorted((find(event_id), find(other)))
                parent[high] = low
                parent.setdefault(low, low)
    return {key: find(key) for key in parent}
