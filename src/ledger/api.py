"""``ledger.Ledger``: the one object every entry point goes through.

A ledger is a store (the immutable events) and its read model (tables for
Datasette and millisecond as-of answers). :class:`Ledger` opens both, ingests,
projects, and answers questions, choosing the engine: the read model when it has
caught up with the store (catching it up first when it is behind), the fold over
stored events otherwise and for ``recorded_before``. Whichever engine answers,
the result is the same typed value (:mod:`ledger.results`), and the tests check
that both engines agree field by field.

    >>> from ledger import Ledger
    >>> with Ledger("ledger.db") as ledger:                              # doctest: +SKIP
    ...     state = ledger.replay(as_of="2024-06-01", only="restrictions")
    ...     [(r["id"], r["status"]) for r in state.restrictions]
"""

from __future__ import annotations

import functools
import gc
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ledger.projections.selection import optional_day, projection_names, required_day

if TYPE_CHECKING:
    from ledger.ingest import IngestReport
    from ledger.readmodel.projector import ProjectionReport
    from ledger.readmodel.query import CurrentView
    from ledger.results import Audit, Diff, EventRecord, State, Timeline, Verification
    from ledger.store import LedgerStore

Engine = Literal["auto", "fold", "view"]
DEFAULT_DB = "ledger.db"


class NoLedger(LookupError):
    """A command that reads was pointed at a ledger that does not exist."""

    def __init__(self, db: str) -> None:
        self.db = db
        super().__init__(db)

    def __str__(self) -> str:
        return f"no ledger at {self.db}: run ledger ingest, or check --db"


class Ledger:
    """One ledger: its store and its read model, and every question they answer.

    ``db`` is the store (a SQLite path); ``view`` the read model (default: beside
    the store, ``ledger.db`` → ``ledger.view.db``). With ``create=False`` a missing
    store raises :class:`NoLedger` instead of creating an empty one.
    """

    def __init__(
        self, db: str | os.PathLike[str] = DEFAULT_DB, *, view: str | os.PathLike[str] | None = None, create: bool = False
    ) -> None:
        from ledger.readmodel.schema import view_path_for

        self.db = os.fspath(db)
        self.view_path = view_path_for(self.db, view)
        self.create = create
        if not create and not ledger_exists(self.db):
            raise NoLedger(self.db)
        self._store: LedgerStore | None = None
        self._current: CurrentView | None = None

    # --- opening and closing ----------------------------------------------------------------

    @property
    def store(self) -> LedgerStore:
        """The store, opened on first use (answers from a current read model never open it)."""
        if self._store is None:
            from ledger.store import open_store

            self._store = open_store(self.db, create=self.create)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self._close_view()

    def _close_view(self) -> None:
        if self._current is not None:
            self._current.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ----------------------------------------------------------------------------

    def ingest(
        self, paths: Sequence[str | os.PathLike[str]], *, progress: Callable[[int, int], None] | None = None, project: bool = True
    ) -> IngestReport:
        """Validate event files (or folders) and append them, all or nothing; then catch the read model up.

        Raises :class:`ledger.ingest.IngestError` listing every problem when any event is invalid.
        """
        from ledger.ingest import ingest_paths

        report = ingest_paths(self.store, [os.fspath(path) for path in paths], progress=progress)
        if project and report.appended:
            self._catch_up_quietly()
        report.warnings.extend(self._order_warnings(report.positions))
        return report

    def _order_warnings(self, positions: Sequence[int]) -> list[str]:
        """The order warnings of the events just recorded at ``positions`` (:mod:`ledger.projections.ordering`).

        Only the events of the new events' entities can be in an undetermined
        order against them: a current read model names those (its
        ``entity_events`` index), and only they are read from the store. Without
        one (``--no-project``, or it could not catch up) every stored event is read,
        on ledgers small enough for that.
        """
        from ledger.projections.ordering import order_warnings, order_warnings_from_store
        from ledger.readmodel.query import current_view, open_view, related_positions

        if not positions:
            return []
        new = list(self.store.events_at(positions).values())
        view = current_view(self.db, self.view_path)
        if view is None:
            return order_warnings_from_store(self.store, new)
        with closing(open_view(view)) as conn:
            related = related_positions(conn, [data["id"] for data in new])
        return order_warnings(new, self.store.events_at(related).values())

    def ingest_events(self, events: Iterable[dict[str, Any]], registry: dict[str, Sequence[dict[str, Any]]] | None = None) -> IngestReport:
        """Validate and append events given as dicts (and registry entries by kind), all or nothing."""
        from ledger.ingest import ingest_dicts

        report = ingest_dicts(self.store, list(events), registry)
        if report.appended:
            self._catch_up_quietly()
        report.warnings.extend(self._order_warnings(report.positions))
        return report

    def project(self, rebuild: bool = False, progress: Callable[[int, int], None] | None = None) -> ProjectionReport:
        """Bring the read model up to date with the store (``rebuild``: from scratch; the same tables)."""
        from ledger.readmodel import project

        self._close_view()
        return project(self.db, self.view_path, rebuild, progress=progress)

    def migrate(self) -> list[str]:
        """Create the read model or bring its schema up to date; the names of the migrations applied."""
        from ledger.readmodel import migrate

        self._close_view()
        return migrate(self.view_path)

    def migration_status(self) -> Any:
        """The read model's applied and pending migrations (``.applied``, ``.pending``)."""
        from ledger.readmodel import status

        return status(self.view_path)

    def _catch_up_quietly(self) -> None:
        from ledger.readmodel import project_after_ingest

        self._close_view()
        project_after_ingest(self.db, self.view_path)

    # --- reading the record -----------------------------------------------------------------

    def log(
        self,
        kind: str | None = None,
        actor: str | None = None,
        occurred_from: str | date | None = None,
        occurred_to: str | date | None = None,
        text: str | None = None,
    ) -> list[EventRecord]:
        """Recorded events that match, in the order they occurred (then id)."""
        from ledger import browse
        from ledger.results import EventRecord

        where = browse.LogFilter(kind, actor, optional_day(occurred_from), optional_day(occurred_to), text)
        return [EventRecord.model_validate(browse.as_dict(recorded)) for recorded in browse.log(self.store, where)]

    def show(self, event_id: str) -> EventRecord:
        """One recorded event whole, and whether corrections retract or amend it; raises :class:`ledger.browse.UnknownEvent`."""
        from ledger import browse
        from ledger.projections.visibility import corrections_of
        from ledger.results import EventRecord

        record = browse.as_dict(browse.show(self.store, event_id))
        found = corrections_of(event_id, self._events()[0])
        record["correction_status"] = {key: found[key] for key in ("status", "retracted_by", "amended_by", "corrections")}
        return EventRecord.model_validate(record)

    def verify(self) -> Verification:
        """Recompute the hash chain over every stored event."""
        from ledger.results import Verification

        found = self.store.verify()
        return Verification(
            ok=found.ok, count=found.count, head=found.head, first_bad_position=found.first_bad_position, reason=found.reason
        )

    # --- choosing the engine ----------------------------------------------------------------

    def engine_for(self, recorded_before: int | str | None = None) -> Literal["fold", "view"]:
        """``view`` when the read model has caught up with the store (caught up here if it was behind), else ``fold``."""
        if recorded_before not in (None, ""):
            return "fold"
        return "view" if self._current_view() is not None else "fold"

    def _current_view(self) -> sqlite3.Connection | None:
        """A connection to the read model if it is current now (checked at every question: others may append or rebuild)."""
        if self._current is None:
            from ledger.readmodel.query import CurrentView

            self._current = CurrentView(self.db, self.view_path)
        return self._current.connection()

    def _engine(self, engine: Engine, recorded_before: int | str | None) -> Literal["fold", "view"]:
        if engine == "auto":
            return self.engine_for(recorded_before)
        if engine == "view" and self._current_view() is None:
            from ledger.readmodel.schema import ReadModelError

            raise ReadModelError(f"the read model {self.view_path} has not caught up with {self.db}; run 'ledger project'")
        return engine

    def _events(self, recorded_before: int | str | None = None) -> tuple[list[dict[str, Any]], int]:
        """The events recorded before ``recorded_before`` (all when None), and the last position they include."""
        cutoff = self._cutoff(recorded_before)
        events = [recorded.data for recorded in self.store.iter_events(before=cutoff)]
        through = cutoff - 1 if cutoff is not None else self.store.max_position()
        return events, through

    def _cutoff(self, recorded_before: int | str | None) -> int | None:
        """The first position *not* used for ``recorded_before`` N: before the append batch holding N."""
        from datetime import datetime

        from ledger.dates import DateError

        if recorded_before is None or recorded_before == "":
            return None
        if isinstance(recorded_before, int) or str(recorded_before).isdigit():
            position = int(recorded_before)
        elif Path(str(recorded_before)).is_file():  # a checkpoint file: what the ledger held when it was made (docs/proofs.md)
            from ledger.proofs import recorded_before as checkpoint_cutoff

            return checkpoint_cutoff(self.store, str(recorded_before))
        else:
            try:
                datetime.fromisoformat(str(recorded_before))
            except ValueError:
                raise DateError(f"{recorded_before!r} is neither a store position nor an ISO timestamp") from None
            position = self.store.position_at(str(recorded_before))
        return self.store.batch_start(position) or position

    # --- questions --------------------------------------------------------------------------

    def replay(
        self,
        as_of: str | date,
        known_at: str | date | None = None,
        recorded_before: int | str | None = None,
        only: str | Iterable[str] | None = None,
        *,
        entity: str | None = None,
        engine: Engine = "auto",
    ) -> State:
        """The state of every restriction, aid package, position and territory on ``as_of``.

        ``known_at``: only what had been reported by then; ``recorded_before``: only
        what the ledger held before that store position (or ISO timestamp) was
        appended; ``only``: ``restrictions,aid,positions,territory`` or a list;
        ``entity``: one entity only (``ID`` or ``projection:ID``), a millisecond lookup on the read model.
        """
        if entity is not None and known_at is None and recorded_before in (None, "") and engine != "fold":
            if self._current_view() is not None:  # the common question, answered by one index lookup
                return state_model().model_validate(self._entity_now(as_of, only, entity))
            engine = "fold" if engine == "auto" else self._engine(engine, None)  # "view" raises: the read model is not current
        answer, _ = self._replay(as_of, known_at, recorded_before, only, entity, engine)
        if entity is not None:  # a few objects: no collection to pause
            return state_model().model_validate(answer)
        with collection_paused():
            return state_model().model_validate(answer)

    def replay_json(
        self,
        as_of: str | date,
        known_at: str | date | None = None,
        recorded_before: int | str | None = None,
        only: str | Iterable[str] | None = None,
        *,
        entity: str | None = None,
        engine: Engine = "auto",
        each: Callable[[dict[str, Any]], Any] | None = None,
        each_json: Callable[[str], Any] | None = None,
    ) -> dict[str, Any]:
        """``replay(...).model_dump(mode="json")``, the same data, without building the typed answer.

        For writing a whole state out: the read model's states are JSON already,
        so its answer is returned as read (a big ledger's state is tens of MB;
        typing and dumping it again would take longer than reading it).
        ``each`` is applied to each entity state as it is read, and the lists
        hold what it returns: a caller that writes the states out can turn each
        into its output at once, and never hold the whole state.
        ``each_json`` instead is given each state as compact JSON, keys sorted
        (:func:`ledger.readmodel.rows.json_text`): from the read model, its stored text, never parsed.
        """
        answer, engine_used = self._replay(as_of, known_at, recorded_before, only, entity, engine, stored_state_reader(each, each_json))
        if engine_used == "view":
            return answer
        return typed_json(answer, each, each_json)

    def replay_json_texts(
        self,
        as_of: str | date,
        known_at: str | date | None = None,
        recorded_before: int | str | None = None,
        only: str | Iterable[str] | None = None,
        *,
        entity: str | None = None,
        engine: Engine = "auto",
    ) -> dict[str, Any]:
        """:meth:`replay_json`'s data, each state as its compact JSON in UTF-8 (keys sorted), each list read as it is iterated.

        For writing a whole state out as it is read: from the read model, the
        stored bytes, never decoded nor parsed, and never all held at once (at
        a million events a whole state is tens of MB). Iterate the lists
        before asking the ledger anything else.
        """
        answer, engine_used = self._replay(as_of, known_at, recorded_before, only, entity, engine, texts=True)
        if engine_used == "view":
            return answer
        return typed_json(answer, each_json=str.encode)

    def _replay(
        self,
        as_of: str | date,
        known_at: str | date | None,
        recorded_before: int | str | None,
        only: str | Iterable[str] | None,
        entity: str | None,
        engine: Engine,
        each: Callable[[str, str], Any] | None = None,
        texts: bool = False,
    ) -> tuple[dict[str, Any], Literal["fold", "view"]]:
        """A replay's answer as plain data (the fields of :class:`~ledger.results.State`), and the engine that gave it.

        ``each`` is applied to each of the read model's states as read: its stored text and its events list's JSON;
        ``texts``: the read model's states as their JSON bytes instead, read as the lists are iterated.
        """
        day, known, names = required_day(as_of), optional_day(known_at), asked_names(only)
        rb = int(recorded_before) if isinstance(recorded_before, str) and recorded_before.isdigit() else recorded_before
        rb = None if rb == "" else rb
        if self._engine(engine, rb) == "view":
            query = readmodel_query()
            current = self._current
            assert current is not None and current.conn is not None  # _engine made sure of it
            through = query.recorded_through(current.conn, rb) if rb is not None else current.position
            asked = (current.conn, day, known, names, through if rb is not None else None, entity)
            if texts:  # bytes, read as they are written out: nothing for the collector to walk
                lists = query.replay_json(*asked)
            elif entity is not None:  # a few objects: no collection to pause
                lists = query.replay(*asked, each)
            else:
                with collection_paused():
                    lists = query.replay(*asked, each)
            return replay_answer(day, known, rb, through, query.event_count(current.position, through), lists), "view"
        from ledger import timetravel

        events, through = self._events(rb)
        lists = timetravel.replay(events, day, known, names)
        if entity is not None:
            lists = {name: only_entity(name, states, entity) for name, states in lists.items()}
        return replay_answer(day, known, rb, through, len(events), lists), "fold"

    def _entity_now(self, as_of: str | date, only: str | Iterable[str] | None, entity: str) -> dict[str, Any]:
        """:meth:`_replay`'s answer for one entity as known and recorded now, from the read model just found current.

        The same answer as the general path, with none of its choices left to
        make: a server asks this question most, and each step skipped is a few
        microseconds of the tens it takes.
        """
        current = self._current
        assert current is not None and current.conn is not None
        day, names = required_day(as_of), asked_names(only)
        lists = readmodel_query().replay(current.conn, day, None, names, None, entity)
        through = current.position  # every position the read model holds: the count of events is the position
        return replay_answer(day, None, None, through, through, lists)

    def audit(self, entity: str, as_of: str | date | None = None, known_at: str | date | None = None) -> Audit:
        """How an entity's state on ``as_of`` (default: as things stand) was reached, step by step, with evidence.

        Always the fold: an audit walks the events themselves. Its last step's state is
        the state ``replay`` gives for the entity (tested against the read model).
        """
        from ledger import timetravel
        from ledger.results import Audit

        events, _ = self._events()
        return Audit.model_validate(timetravel.audit(events, entity, optional_day(as_of), optional_day(known_at)))

    def diff(self, from_date: str | date, to_date: str | date, known_at: str | date | None = None, *, engine: Engine = "auto") -> Diff:
        """What changed in the world between two dates (as known at ``known_at``): added, removed, changed."""
        before = self.replay(from_date, known_at, engine=engine)
        after = self.replay(to_date, known_at, engine=engine)
        return self._compare(before, after, {"from": before.as_of, "to": after.as_of, "known_at": before.known_at})

    def diff_known(self, as_of: str | date, known_at: str | date, vs_known_at: str | date, *, engine: Engine = "auto") -> Diff:
        """What changed in what was known about ``as_of`` between two known-at dates."""
        before = self.replay(as_of, required_day(known_at), engine=engine)
        after = self.replay(as_of, required_day(vs_known_at), engine=engine)
        return self._compare(before, after, {"as_of": before.as_of, "known_at": before.known_at, "vs_known_at": after.known_at})

    @staticmethod
    def _compare(before: State, after: State, header: dict[str, Any]) -> Diff:
        from ledger import timetravel
        from ledger.results import Diff

        return Diff.model_validate({**header, **timetravel.compare_states(before.lists(), after.lists())})

    def timeline(self, entity: str | None = None) -> Timeline:
        """Dated events in the order they occurred (as amended); for one entity, its events and those linked to them.

        Always the fold, like ``audit``: a timeline walks the events themselves (tests check
        that it lists exactly the events the read model holds).
        """
        from ledger import timetravel
        from ledger.results import Timeline

        return Timeline.model_validate({"entity": entity, "events": timetravel.timeline(self._events()[0], entity)})


def asked_names(only: str | Iterable[str] | None) -> list[str]:
    """:func:`~ledger.projections.selection.projection_names`, worked out once for each ``only`` (a server asks the same few)."""
    return list(_names(only if only is None or isinstance(only, str) else tuple(only)))


@functools.lru_cache(maxsize=256)
def _names(only: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return tuple(projection_names(only))


@functools.cache
def readmodel_query() -> ModuleType:
    """:mod:`ledger.readmodel.query`, imported on the first question the read model answers."""
    from ledger.readmodel import query

    return query


@functools.cache
def state_model() -> type[State]:
    """:class:`~ledger.results.State`, imported on first use: answers printed as JSON never load pydantic."""
    from ledger.results import State

    return State


def typed_json(
    answer: dict[str, Any], each: Callable[[dict[str, Any]], Any] | None = None, each_json: Callable[[str], Any] | None = None
) -> dict[str, Any]:
    """The fold's answer through the typed :class:`~ledger.results.State` and dumped as JSON data, ``each`` or ``each_json`` applied to each state."""
    from ledger.readmodel.rows import json_text
    from ledger.results import PROJECTION_LISTS

    with collection_paused():
        data = state_model().model_validate(answer).model_dump(mode="json")
    if each_json is not None:
        data.update({name: [each_json(json_text(state)) for state in data[name]] for name in PROJECTION_LISTS if name in data})
    elif each is not None:
        data.update({name: [each(state) for state in data[name]] for name in PROJECTION_LISTS if name in data})
    return data


def stored_state_reader(
    each: Callable[[dict[str, Any]], Any] | None, each_json: Callable[[str], Any] | None
) -> Callable[[str, str], Any] | None:
    """What the read model's engine applies to each stored state for :meth:`Ledger.replay_json`'s ``each`` or ``each_json``."""
    from ledger.readmodel.rows import whole_state, whole_state_json

    if each_json is not None:
        return lambda stored, events: each_json(whole_state_json(stored, events))
    if each is not None:
        return lambda stored, events: each(whole_state(stored, events))
    return None


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while an answer is read.

    A whole state is hundreds of thousands of dicts and lists parsed from the read
    model's JSON: they hold no reference cycles, yet each allocation counts
    towards a collection, and the collections walk every object alive, again
    and again as the answer grows (at 1M events that tripled the time to parse
    a whole state). Collection resumes as the answer is returned.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def replay_answer(
    day: date, known: date | None, recorded_before: int | str | None, through: int, count: int, lists: dict[str, Any]
) -> dict[str, Any]:
    """A replay's answer as plain data (the fields of :class:`~ledger.results.State`): the question as asked, what it read, the states."""
    question = {"as_of": day.isoformat(), "known_at": known.isoformat() if known else None, "recorded_before": recorded_before}
    return {**question, "recorded_through": through, "event_count": count, **lists}


def only_entity(name: str, states: list[dict[str, Any]], entity: str) -> list[dict[str, Any]]:
    """The states of one entity (``ID`` or ``projection:ID``) among one projection's states."""
    from ledger.projections.selection import split_entity

    projection, key = split_entity(entity)
    return [state for state in states if state["id"] == key] if projection in (None, name) else []


def ledger_exists(db: str) -> bool:
    """Whether ``db`` names a ledger: a SQLite file that exists, or a server URL (the server says the rest)."""
    from ledger.store import URL_SCHEMES

    return db.startswith(URL_SCHEMES) or Path(db).exists()


def build_from_folder(db: str, folder: Path, *, view: str | None = None) -> IngestReport:
    """Create the ledger ``db`` from the event files in ``folder`` (all or nothing: no half-built file is left)."""
    from ledger.ingest import IngestError

    try:
        with Ledger(db, view=view, create=True) as ledger:
            return ledger.ingest([folder])
    except IngestError:
        Path(db).unlink(missing_ok=True)
        raise
