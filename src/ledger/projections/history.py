"""Bitemporal history: every state an entity had, over valid time and public (known) time.

:func:`history` gives one entity's :class:`Version` rows. Each row holds for
``valid_from <= as_of < valid_to`` and ``known_from <= known_at < known_to``
(ends exclusive, None = open), and its ``state`` is exactly what
:func:`~ledger.projections.state.entity_state` answers anywhere inside it.

Known-time slices start at each distinct ``reported`` date. Within a slice the
state can only change on a day some account starts or ends (its earliest or
latest date: certainty flips on the latest), so the sweep renders one state per
such day. From one slice to the next only the dates from the first changed unit
on are recomputed, resuming from the fold saved there; rows equal in
consecutive slices are merged into one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from typing import Any, NamedTuple

from ledger.dates import OPEN_START
from ledger.projections.base import EntityKey, Projection
from ledger.projections.fold import EMPTY, Folded, Unit, apply_unit, build_units, fold, pending_units, prefix_folds, render
from ledger.projections.state import PROJECTIONS, entity_of
from ledger.projections.visibility import AmendmentCache, amend, known_resolved, public_day

SORT_KEY, ANCHOR, START = attrgetter("sort_key"), attrgetter("anchor"), attrgetter("start")  # keys of the sweep's bisections


@dataclass(frozen=True)
class Version:
    """One row of an entity's history: a state over a rectangle of valid time and known time."""

    entity: str
    valid_from: date | None
    valid_to: date | None
    known_from: date | None
    known_to: date | None
    state: dict[str, Any]
    certainty: str
    disputed: bool
    event_id: str
    projection: str = ""

    def contains(self, as_of: date, known_at: date | None) -> bool:
        """True when the row holds on ``as_of`` as known at ``known_at`` (None: knowing everything)."""
        in_valid = (self.valid_from is None or self.valid_from <= as_of) and (self.valid_to is None or as_of < self.valid_to)
        if known_at is None:
            return in_valid and self.known_to is None
        in_known = (self.known_from is None or self.known_from <= known_at) and (self.known_to is None or known_at < self.known_to)
        return in_valid and in_known


class Segment(NamedTuple):
    """A state over ``start <= as_of < end`` (end None: open) within one known-time slice.

    A tuple, not a frozen dataclass: the sweep makes one per rendered state, and a
    frozen dataclass pays a slow ``object.__setattr__`` per field.
    """

    start: date
    end: date | None
    state: dict[str, Any]

    def same_row(self, other: Segment | None) -> bool:
        """True when ``other`` covers the same days with the same state."""
        return other is not None and (self.start, self.end) == (other.start, other.end) and self.state == other.state


class ValidSweep:
    """The valid-time segments of one entity, kept up to date as known time advances.

    It keeps the units in fold order, the days on which a state can change,
    the fold after each prefix of units and the segments, so that a change
    costs work from its first date on only.
    """

    def __init__(self, projection: Projection, key: str) -> None:
        self.projection, self.key = projection, key
        self.units: list[Unit] = []
        self.signatures: set[tuple[Any, ...]] = set()
        self.day_counts: Counter[date] = Counter()
        self.days: list[date] = []
        self.prefix: list[Folded] = [EMPTY]
        self.segments: list[Segment] = []
        self.deferred = 0  # units read later than they may have happened (open starts): few, often none

    def add(self, fresh: list[Unit]) -> int | None:
        """Add units that change nothing else; return the index of the first changed segment (None: none)."""
        if not fresh:
            return None
        for unit in fresh:
            insort(self.units, unit, key=SORT_KEY)
            self._count(unit, +1)
            self.deferred += unit.start < unit.anchor
        self.signatures |= {unit.signature for unit in fresh}
        return self._sweep_from(min(unit.start for unit in fresh))

    def replace(self, units: list[Unit]) -> int | None:
        """Take a new list of units; recompute from the first date where they differ from the last."""
        signatures = {unit.signature for unit in units}
        changed = signatures ^ self.signatures
        if not changed:
            return None
        starts = []
        for unit in self.units:
            if unit.signature in changed:
                self._count(unit, -1)
                starts.append(unit.start)
        for unit in units:
            if unit.signature in changed:
                self._count(unit, +1)
                starts.append(unit.start)
        self.units, self.signatures = units, signatures
        self.deferred = sum(unit.start < unit.anchor for unit in units)
        return self._sweep_from(min(starts))

    def take_up(self, units: list[Unit], segments: list[Segment]) -> bool:
        """Hold ``units`` with the ``segments`` a sweep of them gave before, without sweeping again.

        A segment's state may stand for the rendered one (it compares equal to
        it) until the segment is truncated, when :meth:`state_on` renders it.
        Returns False when the segments cannot be the units': a start or an end
        on no day a state can change on, overlaps, a start with no state, a gap
        with one, or a first day with a state before the first segment.
        """
        self.units, self.signatures = units, {unit.signature for unit in units}
        self.day_counts = Counter(day for unit in units for day in unit.dates)
        self.days = sorted(self.day_counts)
        self.deferred = sum(unit.start < unit.anchor for unit in units)
        self.prefix = prefix_folds(units, self.projection.tracked)
        self.segments = segments
        if not segments:
            return not units
        ends = [segment.end for segment in segments]
        return (
            ends[-1] is None
            and all(end is not None and end <= after.start for end, after in zip(ends, segments[1:], strict=False))
            and all(segment.start in self.day_counts and (segment.end is None or segment.end in self.day_counts) for segment in segments)
            and all(segment.end is None or segment.start < segment.end for segment in segments)
            and all(self.shown_on(segment.start) is not None for segment in segments)
            and next(day for day in self.days if self.shown_on(day) is not None) == segments[0].start
            and all(self.shown_on(end) is None for end, after in zip(ends, segments[1:], strict=False) if end != after.start)  # type: ignore[arg-type]  # ends before the last are dates, checked above
        )

    def _applied_on(self, day: date) -> tuple[int, list[Unit]]:
        """How many units the state on ``day`` applies, and which may have happened but are read later (as the sweep finds them)."""
        return bisect_right(self.units, day, key=ANCHOR), pending_units(self.units, day) if self.deferred else []

    def shown_on(self, day: date) -> Folded | None:
        """The fold the state on ``day`` shows (None: no state that day), for a day before any change not yet swept."""
        count = bisect_right(self.units, day, key=ANCHOR)
        if count:  # open starts are looked for only on a day no unit is anchored by
            return self.prefix[count]
        pending = pending_units(self.units, day) if self.deferred else []
        return fold(pending, self.projection.tracked) if pending else None

    def state_on(self, day: date) -> dict[str, Any]:
        """The state the sweep renders on ``day``, a day before any change not yet swept (the folds up to it are kept)."""
        count, pending = self._applied_on(day)
        shown = self.prefix[count] if count else fold(pending, self.projection.tracked)
        return render(self.projection, self.key, self.units, shown, day, self.prefix, pending, count)

    def _count(self, unit: Unit, step: int) -> None:
        for day in unit.dates:
            self.day_counts[day] += step
            if step > 0 and self.day_counts[day] == 1:
                insort(self.days, day)
            elif step < 0 and not self.day_counts[day]:
                del self.day_counts[day]
                self.days.pop(bisect_left(self.days, day))

    def _sweep_from(self, first_change: date) -> int:
        """Render the segments from ``first_change`` on; return the index of the first that changed.

        Units are in anchor order; those anchored before ``first_change`` did not
        change, so their prefix folds are kept.
        """
        unchanged = bisect_left(self.units, first_change, key=ANCHOR)
        del self.prefix[unchanged + 1 :]
        old = self.segments
        cut = bisect_left(old, first_change, key=START)
        segments = old[:cut]
        if segments and not isinstance(segments[-1].state, dict):  # taken up unrendered (see take_up): it is compared now
            segments[-1] = Segment(segments[-1].start, segments[-1].end, self.state_on(segments[-1].start))
        if segments and (segments[-1].end is None or segments[-1].end > first_change):
            segments[-1] = Segment(segments[-1].start, first_change, segments[-1].state)
        days = self.days[bisect_right(self.days, first_change) :]
        folded, count, units = self.prefix[unchanged], unchanged, self.units
        tracked = self.projection.tracked
        deferred = [unit for unit in units if unit.start < unit.anchor] if self.deferred else []
        for index, day in enumerate([first_change, *days]):
            while count < len(units) and units[count].anchor <= day:
                folded = apply_unit(folded, units[count], tracked)
                self.prefix.append(folded)
                count += 1
            pending = pending_units(deferred, day) if deferred else []
            if count or pending:
                shown = folded if count else fold(pending, tracked)
                end = days[index] if index < len(days) else None
                state = render(self.projection, self.key, units, shown, day, self.prefix, pending, count)
                extend(segments, Segment(day, end, state))
        self.segments = segments
        first = max(cut - 1, 0)
        while first < min(len(old), len(segments)) and old[first] is segments[first]:
            first += 1
        return first


def extend(segments: list[Segment], segment: Segment) -> None:
    """Append a segment, merging it into the last one when that ends where it starts with the same state."""
    if segments and segments[-1].end == segment.start and segments[-1].state == segment.state:
        segments[-1] = Segment(segments[-1].start, segment.end, segment.state)
    else:
        segments.append(segment)


class RowBook:
    """Rows over known time: a segment that stays the same from one known date to the next stays one row."""

    def __init__(self) -> None:
        self.open: dict[tuple[date, date | None], tuple[Segment, date]] = {}
        self.rows: list[tuple[Segment, date, date | None]] = []

    def advance(self, old: list[Segment], new: list[Segment], first: int, known_from: date) -> None:
        """From ``known_from`` on, ``new`` holds; the segments before index ``first`` did not change."""
        added = {(segment.start, segment.end): segment for segment in new[first:]}
        for segment in old[first:]:
            dates = (segment.start, segment.end)
            if segment.same_row(added.get(dates)):
                del added[dates]
            else:
                _, opened = self.open.pop(dates)
                self.rows.append((segment, opened, known_from))
        for dates, segment in added.items():
            self.open[dates] = (segment, known_from)

    def ordered(self) -> list[BookRow]:
        """Every row, closed and open, ordered by valid then known time (a segment's start is ``OPEN_START`` when open)."""
        rows = self.rows + [(segment, opened, None) for segment, opened in self.open.values()]
        rows.sort(key=_valid_then_known)
        return rows

    def versions(self, entity: EntityKey) -> list[Version]:
        """Every row as a :class:`Version`, ordered by valid then known time."""
        return book_versions(entity, self.ordered())


BookRow = tuple[Segment, date, date | None]
"""A row as the sweep keeps it: the segment, the known date it opened on, the one it closed on (None: open)."""


def _valid_then_known(row: BookRow) -> tuple[date, date]:
    return row[0].start, row[1]


def book_versions(entity: EntityKey, rows: list[BookRow]) -> list[Version]:
    """Rows as :class:`Version` objects, in their order."""
    return [
        Version(
            entity=entity.key,
            valid_from=None if segment.start == OPEN_START else segment.start,
            valid_to=segment.end,
            known_from=opened,
            known_to=closed,
            state=segment.state,
            certainty=segment.state["certainty"],
            disputed=segment.state["disputed"],
            event_id=segment.state["events"][-1],
            projection=entity.projection,
        )
        for segment, opened, closed in rows
    ]


def plain_events(events: list[dict[str, Any]]) -> set[str]:
    """Ids of events that are their own unit whenever visible: never corrected, never an alternative account.

    Links and targets an amendment would introduce count too.
    """
    return {data["id"] for data in events} - linked_ids(events)


def linked_ids(events: Iterable[dict[str, Any]]) -> set[str]:
    """Ids a correction or an alternative account links, those an amendment would link included."""
    linked: set[str] = set()
    for data in events:
        forms = [data]
        if data["kind"] == "correction":
            linked.update((data["id"], data["corrects"]))
            forms.append(data.get("amended") or {})
        for form in forms:
            if isinstance(form.get("corrects"), str):
                linked.add(form["corrects"])
            others = (form.get("links") or {}).get("alternative_account_of") or []
            if others:
                linked.update((data["id"], *others))
    return linked


def history(entity_events: Iterable[dict[str, Any]], entity: EntityKey | tuple[str, str]) -> list[Version]:
    """Every version of ``entity`` over valid and known time, from the events that can affect it.

    ``entity_events`` must hold the entity's events, the corrections of them and
    their alternative accounts (as :func:`group_by_entity` gives them); other
    events are harmless.
    """
    entity = EntityKey(*entity)
    projection = PROJECTIONS[entity.projection]
    events = sorted(entity_events, key=lambda data: (data["reported"], data["id"]))
    plain = plain_events(events)
    sweep, book = ValidSweep(projection, entity.key), RowBook()
    cache: AmendmentCache = {}
    for reported, batch, reaches_back in known_slices(events, ""):
        before = sweep.segments
        if batch and not reaches_back and all(data["id"] in plain for data in batch):
            first = sweep.add([Unit((projection.account(data),)) for data in batch if projection.key(data) == entity.key])
        else:
            units = build_units(projection, known_resolved(events, date.fromisoformat(reported), cache))
            first = sweep.replace(units.get(entity.key, []))
        if first is not None:
            book.advance(before, sweep.segments, first, date.fromisoformat(reported))
    return book.versions(entity)


def known_slices(events: list[dict[str, Any]], after: str) -> list[tuple[str, list[dict[str, Any]], bool]]:
    """The known-time slices after ``after``: each reported day, the events reported on it, and whether it reaches back.

    A day an amendment says an event was public on is a slice of its own (with
    no events of that day, perhaps) that *reaches back*: an event recorded as
    reported later becomes known from it.
    """
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    back: set[str] = set()
    for data in events:
        if data["reported"] > after:
            by_day[data["reported"]].append(data)
        if data["kind"] == "correction" and (day := public_day(data)) is not None and day > after:
            by_day.setdefault(day, [])
            back.add(day)
    return [(day, found, day in back) for day, found in sorted(by_day.items())]


def group_by_entity(events: Iterable[dict[str, Any]]) -> dict[EntityKey, list[dict[str, Any]]]:
    """For each entity, the events :func:`history` needs: its own, their alternative accounts, their corrections.

    An event amended into another entity counts for both; alternative accounts
    are followed through every version of their links.
    """
    by_id = {data["id"]: data for data in events}
    corrections: dict[str, list[str]] = defaultdict(list)
    for data in by_id.values():
        if data["kind"] == "correction":
            corrections[data["corrects"]].append(data["id"])
    versions = {event_id: event_versions(data, corrections, by_id) for event_id, data in by_id.items()}
    component = link_components(versions)
    members: dict[str, list[str]] = defaultdict(list)
    for event_id, root in component.items():
        members[root].append(event_id)
    grouped: dict[EntityKey, set[str]] = defaultdict(set)
    for event_id, forms in versions.items():
        for entity in {entity_of(form) for form in forms} - {None}:
            grouped[entity].update(members[component[event_id]] if event_id in component else [event_id])  # type: ignore[index]  # component maps every linked id; checked by the condition
    return {entity: [by_id[i] for i in sorted(with_corrections(ids, corrections))] for entity, ids in sorted(grouped.items())}


def event_versions(data: dict[str, Any], corrections: dict[str, list[str]], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The event as written and as each amendment of it would make it read."""
    forms = [data]
    for correction_id in corrections.get(data["id"], []):
        amended = by_id[correction_id].get("amended")
        if amended and (form := amend(data, amended)) is not None:
            forms.append(form)
    return forms


def link_components(versions: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Groups of events linked as alternative accounts in any version: event id to the group's smallest id."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for event_id, forms in versions.items():
        for form in forms:
            for other in (form.get("links") or {}).get("alternative_account_of", []):
                if other in versions:
                    low, high = sorted((find(event_id), find(other)))
                    parent[high] = low
    return {key: find(key) for key in list(parent)}


def with_corrections(ids: set[str], corrections: dict[str, list[str]]) -> set[str]:
    """The ids and every correction of them, of those corrections, and so on."""
    found, todo = set(ids), list(ids)
    while todo:
        for correction_id in corrections.get(todo.pop(), []):
            if correction_id not in found:
                found.add(correction_id)
                todo.append(correction_id)
    return found
