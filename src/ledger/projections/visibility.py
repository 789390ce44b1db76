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


def known_resolved(events: Iterable[dict[str, Any]], known_at: date | None, cache: AmendmentCache | None = None) -> dict[str, Resolved]:
    """The events as known at ``known_at``, corrected (see :func:`resolve`).

    An event counts from its recorded ``reported`` day, and from the day a
    visible amendment says it was public (the record's fix of when it became
    public), whichever is earlier.
    """
    events = list(events)
    if known_at is None:
        return resolve(events, cache)
    cutoff = known_at.isoformat()
    visible = [data for data in events if data["reported"] <= cutoff]
    earlier = {data["corrects"] for data in visible if data["kind"] == "correction" and (public_day(data) or "~") <= cutoff}
    extra = [data for data in events if data["reported"] > cutoff and data["id"] in earlier]
    if not extra:
        return resolve(visible, cache)
    resolved = resolve(visible + extra, cache)
    late = {data["id"] for data in extra}
    return {key: item for key, item in resolved.items() if key not in late or item.data["reported"] <= cutoff}


def public_day(correction: dict[str, Any]) -> str | None:
    """The ``reported`` day an amendment gives the event it corrects, if it gives one."""
    amended = correction.get("amended") or {}
    day = amended.get("reported") if isinstance(amended, dict) else None
    return str(day) if day is not None else None


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
    result = {}
    for event_id in sorted(by_id):
        outcome = _settle(event_id, by_id, targeting, settled, cache)
        if outcome is not None and by_id[event_id]["kind"] != "correction":
            result[event_id] = outcome
    return result


class _Frame:
    """One event being settled: its corrections are settled first, one at a time."""

    __slots__ = ("applied", "data", "event_id", "next")

    def __init__(self, event_id: str, data: dict[str, Any]) -> None:
        self.event_id = event_id
        self.data = data
        self.applied: tuple[str, ...] = ()
        self.next = 0


def _settle(
    event_id: str,
    by_id: dict[str, dict[str, Any]],
    targeting: dict[str, list[str]],
    settled: dict[str, Resolved | None],
    cache: AmendmentCache,
) -> Resolved | None:
    """``event_id`` as its corrections (settled first, themselves corrected) leave it; None if retracted.

    A loop with its own stack rather than recursion, so a chain of corrections
    each correcting the one before settles however long it is. A correction
    reached again while it is being settled (corrections in a cycle) does not apply.
    """
    if event_id in settled:
        return settled[event_id]
    stack = [_Frame(event_id, by_id[event_id])]
    on_stack = {event_id}
    outcome: Resolved | None = None  # what the frame above the top one settled to
    returning = False
    while stack:
        frame = stack[-1]
        corrections = targeting.get(frame.event_id, ())
        if returning:
            returning = False
            correction_id = corrections[frame.next]
            frame.next += 1
            if outcome is not None:
                if outcome.data["action"] == "retract":
                    settled[frame.event_id], outcome, returning = None, None, True
                    on_stack.discard(stack.pop().event_id)
                    continue
                amended = amended_version(frame.event_id, frame.data, frame.applied, correction_id, outcome.data["amended"], cache)
                if amended is not None:
                    frame.data, frame.applied = amended, (*frame.applied, correction_id)
        if frame.next < len(corrections):
            correction_id = corrections[frame.next]
            if correction_id in settled or correction_id in on_stack:
                outcome, returning = settled.get(correction_id), True  # settled before, or in a cycle: does not apply
                continue
            stack.append(_Frame(correction_id, by_id[correction_id]))
            on_stack.add(correction_id)
            continue
        outcome = settled[frame.event_id] = Resolved(frame.data, frame.applied)
        returning = True
        on_stack.discard(stack.pop().event_id)
    return outcome


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
        cache[key] = amend(data, amended)  # type: ignore[assignment]  # the cache holds None for amendments that do not validate
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


def corrections_of(event_id: str, events: Iterable[dict[str, Any]], known_at: date | None = None) -> dict[str, Any]:
    """How the record corrects an event, as known at ``known_at``: for ``ledger show`` and anyone asking.

    Returns ``{"event", "status", "retracted_by", "amended_by", "corrections"}``:
    ``status`` is ``retracted``, ``amended`` or ``as_recorded``; ``retracted_by``
    the corrections in effect that retract it; ``amended_by`` those whose
    amendment applies, in the order applied; ``corrections`` every correction
    naming it (``id``, ``action``, ``reported``, ``reason``, ``summary``,
    ``amended``, ``in_effect``: False when itself retracted or, for an
    amendment, when its result would not be a valid event), in reported order.
    """
    visible = visible_events(events, known_at)
    resolved = resolve(visible)
    naming = sorted(
        (data for data in visible if data["kind"] == "correction" and data["corrects"] == event_id),
        key=lambda data: (data["reported"], data["id"]),
    )
    amended_by = list(resolved[event_id].amendments) if event_id in resolved else []
    targeting: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for data in visible:
        if data["kind"] == "correction":
            targeting[data["corrects"]].append(data)
    retracted_by = [data["id"] for data in naming if data["action"] == "retract" and not is_retracted(data["id"], targeting, set())]
    corrections = [
        {
            "id": data["id"],
            "action": data["action"],
            "reported": data["reported"],
            "reason": data.get("reason"),
            "summary": data.get("summary"),
            "amended": data.get("amended"),
            "in_effect": data["id"] in retracted_by or data["id"] in amended_by,
        }
        for data in naming
    ]
    status = "retracted" if retracted_by else "amended" if amended_by else "as_recorded"
    return {"event": event_id, "status": status, "retracted_by": retracted_by, "amended_by": amended_by, "corrections": corrections}


def is_retracted(event_id: str, targeting: dict[str, list[dict[str, Any]]], path: set[str]) -> bool:
    """True when a retraction that is not itself retracted names the event (cycles count as not retracting)."""
    if event_id in path:
        return False
    return any(
        data["action"] == "retract" and not is_retracted(data["id"], targeting, path | {event_id}) for data in targeting.get(event_id, [])
    )
