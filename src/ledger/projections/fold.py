"""The generic fold: group an entity's accounts into units, apply them in date order, read the state at a date.

A *unit* is one event, or a group of alternative accounts of one fact. Units
apply in the order of their lead account's date span (earliest, latest, id);
a unit applies at ``as_of`` D when its earliest date is on or before D. So the
units applied at D are always a prefix of the sorted list, which is what lets
:mod:`ledger.projections.history` sweep dates incrementally.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

from ledger.dates import OPEN_START, DateSpan
from ledger.projections.base import Account, EntityView, Projection
from ledger.projections.readings import assess
from ledger.projections.visibility import Resolved, alternative_groups

NO_FIELDS: frozenset[str] = frozenset()


class Unit:
    """One fact as the entity sees it: a single account, or alternative accounts of it (sorted by date).

    - ``lead``: the earliest-dated account (tie: smallest id); its date and effect are the unit's;
    - ``anchor``: the day the state as shown reads it on (the lead's earliest day; an open start's latest);
    - ``start``: the earliest day any account allows (from then on it may have happened);
    - ``latest``: the latest day any account allows (until then the fact may still be ahead);
    - ``choices``: the only days it can fall on, for a single account dated by a one-of set (else empty);
    - ``point``: True when it can fall on one day only;
    - ``dispute_until``: the last account's earliest date (until then accounts disagree on whether it happened);
    - ``differing``: the fields on which the accounts disagree (one giving a field another lacks counts);
    - ``dates``: the days on which the unit can change a state (each account's bounds, one-of days, the anchor);
    - ``signature``: equal for equal units (same accounts, same amendments, same order).
    """

    __slots__ = (
        "members", "lead", "anchor", "start", "sort_key", "latest", "choices", "point", "dispute_until", "differing",
        "member_ids", "signature", "dates",
    )  # fmt: skip

    def __init__(self, members: tuple[Account, ...]) -> None:
        self.members = members
        self.lead = members[0]
        self.sort_key = self.lead.sort_key
        self.anchor = self.sort_key[0]
        if len(members) == 1:  # most units: the same values as below, without the lists
            lead = self.lead
            self.member_ids: tuple[str, ...] = (lead.id,)
            self.signature: tuple[Any, ...] = (self.sort_key, ((lead.id, lead.version),))
            span = lead.span
            self.start, self.latest, self.dispute_until = span.earliest, span.latest, span.earliest
            self.choices = one_of_days(span)
            self.dates = frozenset((span.earliest, span.latest, self.anchor, *self.choices))
            self.differing = NO_FIELDS
        else:
            self.member_ids = tuple(member.id for member in members)
            self.signature = (self.sort_key, tuple((member.id, member.version) for member in members))
            spans = [member.span for member in members]
            self.start = min(span.earliest for span in spans)
            self.latest = max(span.latest for span in spans)
            self.choices = ()
            self.dates = frozenset([span.earliest for span in spans] + [span.latest for span in spans] + [self.anchor])
            self.dispute_until = max(span.earliest for span in spans)
            self.differing = differing_fields([member.effect for member in members])
        self.point = self.start == self.latest

    def __repr__(self) -> str:
        return f"Unit({', '.join(self.member_ids)})"


def one_of_days(span: DateSpan) -> tuple[date, ...]:
    """The days a one-of set allows, when it lists days only (a set with a range allows its whole span)."""
    return span.choices if span.precision == "one_of" and ".." not in span.text else ()


def differing_fields(effects: list[dict[str, Any]]) -> frozenset[str]:
    """The fields whose values are not the same in every effect."""
    names = set().union(*effects)
    return frozenset(name for name in names if len({repr(effect.get(name)) for effect in effects}) > 1)


class Folded(NamedTuple):
    """The state after applying a prefix of units (``count`` of them, made of the ``events``)."""

    fields: dict[str, Any]
    since: Account | None = None
    open_disputes: frozenset[str] = frozenset()
    dispute_until: date = OPEN_START
    latest: date = OPEN_START
    count: int = 0  # type: ignore[assignment]  # a field named like tuple.count, on purpose
    events: tuple[str, ...] = ()


EMPTY = Folded({})


def apply_unit(folded: Folded, unit: Unit, tracked: str | None) -> Folded:
    """The state after one more unit: its lead's fields replace, its dispute opens or a later fact closes one.

    The sweep calls it for every unit after a change, so it builds the tuple by position and makes new sets only when a dispute is open.
    """
    lead = unit.lead
    effect = lead.effect
    since = folded.since
    if tracked in effect and (since is None or folded.fields.get(tracked) != effect[tracked]):
        since = lead
    disputes = folded.open_disputes
    if disputes or unit.differing:
        disputes = (disputes - effect.keys()) | unit.differing
    dispute_until, latest = folded.dispute_until, folded.latest
    return Folded(
        {**folded.fields, **effect},
        since,
        disputes,
        unit.dispute_until if unit.dispute_until > dispute_until else dispute_until,
        unit.latest if unit.latest > latest else latest,
        folded.count + 1,
        folded.events + unit.member_ids,
    )


def fold(units: Sequence[Unit], tracked: str | None, start: Folded = EMPTY) -> Folded:
    """Apply ``units`` in order, from ``start``."""
    folded = start
    for unit in units:
        folded = apply_unit(folded, unit, tracked)
    return folded


def render(
    projection: Projection,
    key: str,
    units: Sequence[Unit],
    folded: Folded,
    as_of: date,
    prefix: Sequence[Folded] | None = None,
    pending: Sequence[Unit] | None = None,
    count: int | None = None,
) -> dict[str, Any]:
    """The entity's JSON at ``as_of``, given its units and the fold as shown: of the first ``count`` units
    (by default ``folded.count``), or, when that is 0, of the ``pending`` ones.

    ``prefix`` (the folds of every shorter prefix, when kept) and ``pending``
    (units that may have happened by ``as_of`` but are shown later: open starts)
    are computed when not given. Certainty and alternatives come from
    :func:`ledger.projections.readings.assess`.
    """
    count = folded.count if count is None else count
    prefix = prefix if prefix is not None else prefix_folds(units[:count], projection.tracked)
    pending = pending_units(units[count:], as_of) if pending is None else pending
    certainty, alternatives = assess(projection, units, count, prefix, pending, as_of, folded)
    view = EntityView(
        key=key,
        fields=folded.fields,
        first=(units[0] if count else pending[0]).lead,
        since=folded.since,
        events=folded.events,
        certainty=certainty,
        disputed=bool(folded.open_disputes) or as_of < folded.dispute_until,
        alternatives=alternatives,
    )
    return projection.render(view)


def prefix_folds(units: Sequence[Unit], tracked: str | None) -> list[Folded]:
    """The fold of every prefix of ``units``, the empty one first."""
    folds = [EMPTY]
    for unit in units:
        folds.append(apply_unit(folds[-1], unit, tracked))
    return folds


def pending_units(units: Iterable[Unit], as_of: date) -> list[Unit]:
    """The units that may have happened by ``as_of`` though the state as shown reads them later (open starts)."""
    return [unit for unit in units if unit.start <= as_of < unit.anchor]


def applied_count(units: Sequence[Unit], as_of: date) -> int:
    """How many units the state as shown applies at ``as_of`` (a prefix: units are sorted by anchor)."""
    count = 0
    while count < len(units) and units[count].anchor <= as_of:
        count += 1
    return count


def state_of_units(projection: Projection, key: str, units: Sequence[Unit], as_of: date) -> dict[str, Any] | None:
    """The entity at ``as_of`` from its sorted units, or None when nothing can have happened yet.

    The state as shown folds the units anchored by ``as_of``; when none is,
    but an open start may have happened, it folds those.
    """
    count = applied_count(units, as_of)
    pending = pending_units(units[count:], as_of)
    if not count and not pending:
        return None
    prefix = prefix_folds(units[:count], projection.tracked)
    folded = prefix[-1] if count else fold(pending, projection.tracked)
    return render(projection, key, units, folded, as_of, prefix, pending, count)


def build_units(projection: Projection, resolved: dict[str, Resolved], groups: dict[str, str] | None = None) -> dict[str, list[Unit]]:
    """The sorted units of every entity of ``projection`` among resolved events.

    Alternative accounts are grouped across all resolved events (``groups``, from
    :func:`alternative_groups`, when already computed); an account that says
    nothing about an entity does not count for it.
    """
    groups = alternative_groups(resolved) if groups is None else groups
    members: dict[tuple[str, str], list[Account]] = defaultdict(list)
    for event_id, item in resolved.items():
        key = projection.key(item.data)
        if key is not None:
            members[(key, groups.get(event_id, event_id))].append(projection.account(item.data, item.amendments))
    by_entity: dict[str, list[Unit]] = defaultdict(list)
    for (key, _), accounts in members.items():
        by_entity[key].append(Unit(tuple(sorted(accounts, key=lambda account: account.sort_key))))
    for units in by_entity.values():
        units.sort(key=lambda unit: unit.sort_key)
    return dict(by_entity)
