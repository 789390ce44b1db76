"""Entity histories the projector can extend batch by batch instead of recomputing.

:func:`ledger.projections.history.history` sweeps an entity's events in
reported order, known-time slice by slice. When a new batch brings events
reported *after* everything the entity has seen (the usual case: news arrives
in order), that sweep can simply go on from where it stopped: the rows it
already closed stay closed, and only the new slices need work.
:class:`EntityHistory` keeps the sweep between batches to do exactly that, and
gives the same rows as :func:`~ledger.projections.history.history` over all the
events (a test checks it on every projection). An event reported on or before
the last seen date needs the whole sweep again: the caller starts a new one.
A history not kept is taken up from the read model's rows
(:meth:`EntityHistory.resume`), which then go on exactly as the kept one would
(tests/test_readmodel_histories.py).

:class:`HistoryCache` keeps the sweeps of recently touched entities, up to a
budget of events held, so memory stays bounded on large ledgers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger import settings
from ledger.dates import OPEN_START
from ledger.projections.base import EntityKey
from ledger.projections.fold import Unit, build_units
from ledger.projections.history import BookRow, RowBook, Segment, ValidSweep, Version, book_versions, known_slices, linked_ids
from ledger.projections.state import PROJECTIONS
from ledger.projections.visibility import AmendmentCache, known_resolved, public_day, resolve
from ledger.readmodel.rows import json_text, split_state, whole_state

DEFAULT_BUDGET = settings.history_budget_mb() * 1024
"""KB of kept histories (see :attr:`EntityHistory.size`) before the least recently used are forgotten.

A history that was forgotten is recomputed from all its events the next time
it is touched. Set ``LEDGER_HISTORY_BUDGET_MB`` to trade memory for speed.
"""


KnownNow = dict[tuple[date, date | None], tuple[date, tuple[str, str]]]
"""An entity's known-now rows in the read model: (valid start, valid end) → (known_from, state as stored: see :func:`split_state`)."""


def _reported_then_id(data: dict[str, Any]) -> tuple[str, str]:
    return (data["reported"], data["id"])


class StoredState:
    """A known-now row's state as the read model stores it (see :func:`split_state`), standing for the state it was rendered from.

    It equals a rendered state that is stored as the same text. A resumed
    history holds these instead of rendering every state again: the sweep
    renders a state only when it truncates its segment, and compares the others
    with the states it renders anew, as it would the rendered ones.
    """

    __slots__ = ("stored",)

    def __init__(self, stored: tuple[str, str]) -> None:
        self.stored = stored

    def parsed(self) -> dict[str, Any]:
        """The state as a dict: stored again, it gives the same text (the read model stores what :func:`json_text` dumps)."""
        return whole_state(*self.stored)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredState):
            return self.stored == other.stored
        if isinstance(other, dict):  # the events first: when a late event changed them, the state need not be dumped
            return json_text(other.get("events", [])) == self.stored[1] and split_state(other) == self.stored
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared like the dict it stands for, which is not hashable


class EntityHistory:
    """One entity's bitemporal history, resumable while events arrive in reported order."""

    def __init__(self, entity: EntityKey) -> None:
        self.entity = EntityKey(*entity)
        self.projection = PROJECTIONS[self.entity.projection]
        self.sweep = ValidSweep(self.projection, self.entity.key)
        self.book = RowBook()
        self.seen: list[dict[str, Any]] = []
        self.ids: set[str] = set()
        self.linked: set[str] = set()  # ids touched by a correction or an alternative account
        self.cache: AmendmentCache = {}
        self.last_reported = ""
        self.resumed = False  # taken up from the read model's rows: some states are as stored (StoredState)

    @classmethod
    def resume(cls, entity: EntityKey, events: Iterable[dict[str, Any]], known_now: KnownNow) -> EntityHistory | None:
        """The history of ``events`` ready to be extended, taken up from the rows the read model holds.

        Instead of going through every known date again, the events' units are
        taken as known now and the known-now rows (``known_now``: valid dates →
        known_from and stored state) are their segments, states left as stored
        (:class:`StoredState`): extending the history renders only the states
        from the first day the new events change on, as the sweep would, and
        compares the stored ones with them. Rendering every state to check the
        rows cost as much as the extension itself on a long history.

        The rows are checked without rendering them all: they must start and end
        on days a state can change on, without overlap, leave no day with a state
        uncovered, and list the events each state shows; the last state (the
        entity now) is rendered and must be the stored one. Returns None when a
        check fails: the caller then computes the whole history.
        """
        history = cls(entity)
        events = sorted(events, key=_reported_then_id)
        if not events:
            return None
        for data in events:
            history._track(data)
        history.seen = events
        units = build_units(history.projection, resolve(events, history.cache)).get(history.entity.key, [])
        rows = sorted(known_now.items(), key=lambda item: item[0][0])
        segments = [Segment(start, end, StoredState(stored)) for (start, end), (_, stored) in rows]  # type: ignore[arg-type]  # stands for the rendered state (see StoredState)
        sweep = history.sweep
        if not sweep.take_up(units, segments):
            return None
        for (start, _), (_, (_, events_list)) in rows:  # each row lists the events its state shows: else the rows are not these events'
            shown = sweep.shown_on(start)
            if shown is None or json_text(list(shown.events)) != events_list:
                return None
        if segments:
            last = segments[-1]
            state = sweep.state_on(last.start)
            if last.state != state:
                return None
            sweep.segments[-1] = Segment(last.start, last.end, state)
        for segment in sweep.segments:
            history.book.open[(segment.start, segment.end)] = (segment, known_now[(segment.start, segment.end)][0])
        history.last_reported = events[-1]["reported"]
        history.resumed = True
        return history

    def _track(self, data: dict[str, Any]) -> None:
        """Note the event's id, and the ids it links by a correction or an alternative account (or would, once amended)."""
        self.ids.add(data["id"])
        self.linked.update(linked_ids([data]))  # as the fold's history decides, an amendment's links included

    @property
    def size(self) -> int:
        """Roughly the memory the history holds, in KB.

        Not just its events (about 5 KB each as Python objects): each fold prefix
        and rendered segment is a state of its own that lists the events behind
        it, so a long history holds far more than its length suggests.
        """
        refs = sum(len(folded.events) for folded in self.sweep.prefix)
        refs += sum(len(segment.state.get("events", ())) for segment in self.sweep.segments if isinstance(segment.state, dict))
        return 5 * len(self.seen) + len(self.sweep.prefix) + 2 * len(self.sweep.segments) + refs // 128

    def accepts(self, events: Iterable[dict[str, Any]]) -> bool:
        """True when every event was reported after everything seen so far (the sweep can go on).

        Not when an amendment says when an event was public: that may reach back.
        """
        return all(data["reported"] > self.last_reported and not public_day(data) for data in events)

    def add(self, events: Iterable[dict[str, Any]]) -> HistoryDelta:
        """Extend the history with events reported after everything seen (see :meth:`accepts`); return what changed."""
        seen_until = self.last_reported
        events = sorted(events, key=_reported_then_id)
        for data in events:
            self._track(data)
        key, projection = self.entity.key, self.projection
        seen_before = len(self.seen)
        everything: list[dict[str, Any]] | None = None  # what the slow path needs, made the first time it is taken
        for reported, slice_, reaches_back in known_slices(events, seen_until):
            self.seen.extend(slice_)
            before = self.sweep.segments
            if slice_ and not reaches_back and not any(data["id"] in self.linked for data in slice_):
                first = self.sweep.add([Unit((projection.account(data),)) for data in slice_ if projection.key(data) == key])
            else:
                everything = everything or [*self.seen[:seen_before], *events]
                units = build_units(projection, known_resolved(everything, date.fromisoformat(reported), self.cache))
                first = self.sweep.replace(units.get(key, []))
            if first is not None:
                self.book.advance(before, self.sweep.segments, first, date.fromisoformat(reported))
            self.last_reported = reported
        return self._delta(date.fromisoformat(seen_until) if seen_until else OPEN_START)

    def _delta(self, seen_until: date) -> HistoryDelta:
        """What :meth:`add` changed, given the last reported date seen before it.

        A row opened on or before that date was already known-now in the read
        model: if it closed, it ended. Every row closed since, and every row
        opened after that date, is new. Closed rows are handed over and
        forgotten (they never change while the history is extended); on a new
        history ``added`` is the whole history.
        """
        book = RowBook()
        book.rows, self.book.rows = self.book.rows, []
        if self.resumed:
            book.rows = [(ready(segment), opened, closed) for segment, opened, closed in book.rows]
        ended = [row_dates((segment.start, segment.end), opened) for segment, opened, _ in book.rows if opened <= seen_until]
        book.rows += [(segment, opened, None) for segment, opened in self.book.open.values() if opened > seen_until]
        return HistoryDelta(ended=ended, entity=self.entity, rows=book.ordered())


def ready(segment: Segment) -> Segment:
    """The segment with its state as a dict: a row taken up from the read model (:class:`StoredState`) has it parsed, as stored."""
    state = segment.state
    return segment if isinstance(state, dict) else Segment(segment.start, segment.end, state.parsed())


RowDates = tuple[str | None, str | None, str | None]
"""A known-now row's (valid_from, valid_to, known_from), as the read model writes them."""


def row_dates(dates: tuple[date, date | None], opened: date) -> RowDates:
    start, end = dates
    return (None if start == OPEN_START else start.isoformat(), None if end is None else end.isoformat(), opened.isoformat())


@dataclass(frozen=True)
class HistoryDelta:
    """What extending a history changed, in read-model terms.

    ``ended``: rows that were known-now and no longer hold; ``rows``: every new
    row of the entity, as the sweep keeps it, ordered by valid then known time
    (:attr:`added` gives them as :class:`Version` objects; a rebuild makes its
    stored rows from them straight, :func:`ledger.readmodel.versions.book_rows`).
    """

    ended: list[RowDates]
    entity: EntityKey
    rows: list[BookRow]

    @property
    def added(self) -> list[Version]:
        """Every new row as a :class:`Version`."""
        return book_versions(self.entity, self.rows)


class HistoryCache:
    """Recently extended entity histories, least recently used forgotten first, within a memory budget (KB)."""

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self.budget = budget
        self.held = 0
        self.histories: OrderedDict[EntityKey, tuple[EntityHistory, int]] = OrderedDict()

    def get(self, entity: EntityKey) -> EntityHistory | None:
        found = self.histories.get(entity)
        return found[0] if found else None

    def put(self, history: EntityHistory) -> None:
        """Keep a new or extended history as the most recent; forget the oldest beyond the budget."""
        _, size = self.histories.pop(history.entity, (None, 0))
        now = history.size  # a sum over the sweep's folds and segments: counted once
        self.histories[history.entity] = (history, now)
        self.held += now - size
        while self.held > self.budget and len(self.histories) > 1:
            _, (_, size) = self.histories.popitem(last=False)
            self.held -= size

    def clear(self) -> None:
        self.histories.clear()
        self.held = 0
