"""What every projection shares: entity keys, accounts of events, and the projection spec.

A *projection* turns events of one kind into the state of entities: a
restriction, an aid package, an actor's position on a question, a territory.
Each projection module describes itself with a :class:`Projection`: which
events concern which entity, the date an event takes effect, the fields it
sets, and how the folded fields read as the documented JSON.

Nothing here reads a database; every function takes plain event dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, NamedTuple

from ledger.dates import OPEN_START, DateSpan, parse_edtf


class EntityKey(NamedTuple):
    """Which entity: the projection's name (``restrictions``...) and the entity's id in it."""

    projection: str
    key: str

    def __str__(self) -> str:
        return f"{self.projection}:{self.key}"


class Account(NamedTuple):
    """One visible event as a projection reads it: its effective date span and the fields it sets.

    ``version`` names the amendments applied to the event, so two accounts of
    the same event compare equal only when the same corrections shaped them.
    """

    id: str
    data: dict[str, Any]
    span: DateSpan
    effect: dict[str, Any]
    version: tuple[str, ...] = ()

    @property
    def anchor(self) -> date:
        """The day the state as shown takes the event to have happened: its earliest day.

        An open start (``../2024-11-17``, "by 17 November") gives no earliest
        day: it is read at its latest, the one day it names, so a later decision
        written that way is not folded before everything the entity saw.
        """
        return self.span.latest if self.span.open_start else self.span.earliest

    @property
    def sort_key(self) -> tuple[date, date, date, date, str]:
        """Fold order: by the anchor and latest day of the effective span, then when it occurred, then id; never by position.

        A recommendation, an agreement and a signature that all take effect on
        the same day so fold in the order they happened.
        """
        occurred = parse_edtf(self.data["occurred"])
        return (self.anchor, self.span.latest, occurred.earliest, occurred.latest, self.id)


@dataclass(slots=True)
class EntityView:
    """The folded state of one entity at one date, ready to be rendered as JSON.

    Made once per rendered state and read once: not frozen, since a frozen
    dataclass pays a slow ``object.__setattr__`` per field on the fold's hottest path.
    """

    key: str
    fields: dict[str, Any]
    first: Account
    since: Account | None
    events: Sequence[str]
    certainty: str
    disputed: bool
    alternatives: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Projection:
    """How one projection reads events.

    - ``name``: the key of its list in a replay (``restrictions``, ``aid_packages``...);
    - ``key``: the entity an event concerns, or None;
    - ``span``: the dates the event takes effect (by default its ``occurred``);
    - ``effect``: the fields the event sets (absent fields leave the state alone);
    - ``tracked``: the field whose change starts a new ``since``;
    - ``render``: the entity as the documented JSON;
    - ``decided``: the fields certainty is about (effect name → name in the JSON): what the
      state says, not its evidence or bookkeeping (quote, stage, since, events).
    """

    name: str
    key: Callable[[dict[str, Any]], str | None]
    effect: Callable[[dict[str, Any]], dict[str, Any]]
    render: Callable[[EntityView], dict[str, Any]]
    tracked: str | None = None
    decided: dict[str, str] = field(default_factory=dict)
    span: Callable[[dict[str, Any]], DateSpan] = field(default=lambda data: parse_edtf(data["occurred"]))

    def account(self, data: dict[str, Any], version: tuple[str, ...] = ()) -> Account:
        """The event read by this projection."""
        return Account(data["id"], data, self.span(data), self.effect(data), version)


# --- small helpers the projections share ----------------------------------------------------


@lru_cache(maxsize=4096)
def day_span(iso: str) -> DateSpan:
    """A span of exactly one day, e.g. a restriction's ``effective`` date."""
    return parse_edtf(iso)


def iso_or_none(day: date | None) -> str | None:
    """A date as ISO text; None for no date or an open start."""
    return None if day is None or day == OPEN_START else day.isoformat()


def number(text: Any) -> int | float | None:
    """An amount as a JSON number (events hold decimals as text): int when whole, else float.

    Total: ``int()`` of a decimal like ``1e999999999`` would build a billion-digit
    integer, so only amounts below 10**18 become integers.
    """
    if text is None:
        return None
    return number_of_text(text) if type(text) is str else decimal_number(str(text))


def decimal_number(text: str) -> int | float | None:
    """:func:`number` of an amount's text."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if not -30 <= value.adjusted() < 18:  # no arithmetic: abs() alone overflows the context on 1e999999999
        return float(value)  # float() of any finite decimal is quick: huge ones become inf, tiny ones 0.0
    return int(value) if value == value.to_integral_value() else float(value)


number_of_text = lru_cache(maxsize=65_536)(decimal_number)
""":func:`decimal_number`, kept: a state is rendered again on every date it may change on, its amount read each time."""


def given(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """The named fields the event sets: present, not None, and not an empty list."""
    return {name: data[name] for name in names if data.get(name) not in (None, [])}


def common_fields(view: EntityView) -> dict[str, Any]:
    """Fields every rendered entity ends with."""
    return {"certainty": view.certainty, "alternatives": view.alternatives, "disputed": view.disputed, "events": list(view.events)}


def since_fields(view: EntityView) -> dict[str, Any]:
    """``since`` (ISO date the tracked field took its current value) and ``since_text`` (the EDTF)."""
    account = view.since
    return {
        "since": iso_or_none(account.span.earliest) if account else None,
        "since_text": account.span.text if account else None,
    }
