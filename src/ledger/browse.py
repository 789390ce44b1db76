"""Reading the ledger as recorded: filter events for ``log``, fetch one for ``show``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from ledger.dates import parse_edtf
from ledger.events import KINDS
from ledger.store import LedgerStore, RecordedEvent


class UnknownEvent(LookupError):
    def __str__(self) -> str:
        return f"no event with id {self.args[0]!r} in the ledger (try 'ledger log --text ...')"


@dataclass(frozen=True)
class LogFilter:
    """Which events ``log`` lists. Dates compare with the occurred interval: any overlap counts."""

    kind: str | None = None
    actor: str | None = None
    occurred_from: date | None = None
    occurred_to: date | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.kind and self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; choose one of: {', '.join(KINDS)}")

    def matches(self, data: dict) -> bool:
        if self.kind and data["kind"] != self.kind:
            return False
        if self.actor and self.actor not in data.get("actors", []):
            return False
        if self.occurred_from or self.occurred_to:
            span = parse_edtf(data["occurred"])
            if self.occurred_from and span.latest < self.occurred_from:
                return False
            if self.occurred_to and span.earliest > self.occurred_to:
                return False
        if self.text:
            needle = self.text.casefold()
            haystack = [data.get("summary", ""), data["id"], data.get("quote") or ""]
            haystack += [s.get("quote") or "" for s in data.get("sources", [])]
            if not any(needle in part.casefold() for part in haystack):
                return False
        return True


def log(store: LedgerStore, where: LogFilter | None = None) -> Iterator[RecordedEvent]:
    """Recorded events that match, in order of when they occurred (then id)."""
    where = where or LogFilter()
    found = [recorded for recorded in store.iter_events() if where.matches(recorded.data)]
    found.sort(key=_occurred_order)
    return iter(found)


def _occurred_order(recorded: RecordedEvent) -> tuple[date, date, str]:
    span = parse_edtf(recorded.data["occurred"])
    return (span.earliest, span.latest, recorded.id)


def show(store: LedgerStore, event_id: str) -> RecordedEvent:
    """The recorded event with this id; raise :class:`UnknownEvent` if there is none."""
    recorded = store.get(event_id)
    if recorded is None:
        raise UnknownEvent(event_id)
    return recorded


def as_dict(recorded: RecordedEvent) -> dict:
    """An event as ``show --format json`` gives it: the event plus where the store holds it."""
    span = parse_edtf(recorded.data["occurred"])
    return {
        **recorded.data,
        "occurred_bounds": span.to_dict(),
        "recorded": {"position": recorded.position, "at": recorded.recorded_at, "batch": recorded.batch},
    }
