"""The history tables: each projection's :class:`~ledger.projections.history.Version` rows, flattened.

A version row is the projection's state over a rectangle of valid time and
known time, plus the recorded axis: the store position from which the read
model held it (``recorded_from``, the first position of that append batch) and
the one from which it no longer did (``recorded_to``, NULL while it still does).

In memory a row (:data:`Row`) carries its state as stored text (JSON with an
empty ``events`` list) and its events list as JSON text apart; written, the row
refers to the state and the list it shares with the entity's other rows
(:mod:`ledger.readmodel.states`). The ``*_versions`` views show the rows whole.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ledger.dates import OPEN_START
from ledger.readmodel.rows import insert_sql, split_state
from ledger.readmodel.rows import json_text as _json
from ledger.readmodel.states import EntityStates, Ids

if TYPE_CHECKING:  # names in annotations only: reading the tables' names (a replay from the read model) never loads the folds
    from ledger.projections.history import BookRow, Version
    from ledger.readmodel.histories import HistoryDelta, KnownNow

Row = tuple[Any, ...]


def _list(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda state: _json(state.get(name) or [])


def _field(name: str, part: str | None = None) -> Callable[[dict[str, Any]], Any]:
    if part is None:
        return lambda state: state.get(name)
    return lambda state: (state.get(name) or {}).get(part)


@dataclass(frozen=True)
class HistoryTable:
    """Where one projection's versions go, and the columns its ``*_versions`` view reads from the state."""

    projection: str
    table: str
    fields: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of the ``*_versions`` view, the rows as they are shown."""
        return (*COMMON_COLUMNS, *(name for name, _ in self.fields), "state")

    @property
    def name(self) -> str:
        """The stem of the projection's tables: ``restriction`` for ``restriction_versions``."""
        return self.table.removesuffix("_versions")

    @property
    def history(self) -> str:
        """The table of the version rows."""
        return f"{self.name}_history"

    @property
    def states(self) -> str:
        """The table of the entities' distinct states."""
        return f"{self.name}_states"

    def row(self, version: Version, recorded_from: int) -> Row:
        """The row for a version first held at ``recorded_from`` (``recorded_to`` is left open)."""
        state, events = split_state(version.state)
        return (
            version.entity,
            iso(version.valid_from),
            iso(version.valid_to),
            iso(version.known_from),
            iso(version.known_to),
            recorded_from,
            None,
            version.certainty,
            int(version.disputed),
            version.event_id,
            state,
            events,
        )


COMMON_COLUMNS = (
    "entity", "valid_from", "valid_to", "known_from", "known_to", "recorded_from", "recorded_to",
    "certainty", "disputed", "event_id",
)  # fmt: skip
ROW_COLUMNS = (*COMMON_COLUMNS, "state", "events")
"""A :data:`Row`'s fields: ``state`` is the stored state text, ``events`` its events list as JSON."""
STORED_COLUMNS = (*COMMON_COLUMNS, "state_id", "events_list", "events_end")
"""The history table's columns, as :class:`~ledger.readmodel.states.EntityStates` writes a row."""
# What identifies a row's content: everything but the recorded axis (``recorded_from``, ``recorded_to``).
IDENTITY = ROW_COLUMNS[:5] + ROW_COLUMNS[7:]

_SINCE = (("since", _field("since")), ("since_text", _field("since_text")))

HISTORY_TABLES: dict[str, HistoryTable] = {
    table.projection: table
    for table in (
        HistoryTable(
            "restrictions",
            "restriction_versions",
            (
                ("status", _field("status")),
                ("stage", _field("stage")),
                ("issuer", _field("issuer")),
                ("subject", _field("subject")),
                ("weapons", _list("weapons")),
                ("area", _field("area")),
                ("targets", _list("targets")),
                ("purpose", _field("purpose")),
                ("conditions", _list("conditions")),
                *_SINCE,
            ),
        ),
        HistoryTable(
            "aid_packages",
            "aid_package_versions",
            (
                ("status", _field("status")),
                ("donor", _field("donor")),
                ("recipient", _field("recipient")),
                ("authority", _field("authority")),
                ("tranche", _field("tranche")),
                ("announced", _field("announced")),
                ("value_amount", _field("value", "amount")),
                ("value_currency", _field("value", "currency")),
                ("value_qualifier", _field("value", "qualifier")),
                ("items", _list("items")),
                ("measure", _field("measure")),
                *_SINCE,
            ),
        ),
        HistoryTable(
            "positions",
            "position_versions",
            (
                ("actor", _field("actor")),
                ("question", _field("question")),
                ("stance", _field("stance")),
                ("quote", _field("quote")),
                *_SINCE,
            ),
        ),
        HistoryTable(
            "territory",
            "territory_versions",
            (
                ("holder", _field("holder")),
                ("size_value", _field("size", "value")),
                ("size_unit", _field("size", "unit")),
                ("claimed_by", _field("claimed_by")),
                *_SINCE,
            ),
        ),
    )
}


class StaleHistory(Exception):
    """A kept history does not start from the rows the read model holds: recompute it."""


def iso(day: Any) -> str | None:
    return None if day is None else day.isoformat()


@dataclass
class VersionChanges:
    """What one batch did to the history tables."""

    opened: int = 0
    closed: int = 0


class VersionWriter:
    """Replaces entities' open rows by their new history, touching only the rows that differ.

    Rows to open and to close are collected per table and written with one
    ``executemany`` each by :meth:`flush`, inside the caller's transaction.
    """

    def __init__(self, conn: sqlite3.Connection, batch: int) -> None:
        self.conn, self.batch = conn, batch
        self.to_open: dict[str, list[Row]] = {}
        self.to_close: dict[str, list[int]] = {}
        self.changes = VersionChanges()
        self.known_ids: dict[tuple[str, str], dict[tuple[Any, ...], int]] = {}  # known-now rows read by known_now: dates → id

    def replace(self, projection: str, entity: str, versions: Sequence[Version], fresh: bool = False) -> None:
        """Make ``versions`` (the entity's whole history) its current rows. ``fresh``: it has no rows yet.

        Rows already current with the same content stay; the others end, and the missing ones are added.
        """
        table = HISTORY_TABLES[projection]
        new_rows = [table.row(version, self.batch) for version in versions]
        if fresh:
            self._open(table, new_rows)
            return
        current = self.conn.execute(
            f"SELECT h.id, {', '.join('h.' + name for name in IDENTITY[:-2])}, s.state, substr(l.ids, 1, h.events_end) || ']' "
            f"FROM {table.history} h JOIN {table.states} s ON s.id = h.state_id JOIN event_lists l ON l.id = h.events_list "
            "WHERE h.entity = ? AND h.recorded_to IS NULL",
            (entity,),
        )
        wanted = Counter(identity(row, table) for row in new_rows)
        for row_id, *content in current:
            key = tuple(content)
            if wanted[key] > 0:
                wanted[key] -= 1
            else:
                self.to_close.setdefault(table.table, []).append(row_id)
                self.changes.closed += 1
        added = []
        for row in new_rows:
            key = identity(row, table)
            if wanted[key] > 0:
                wanted[key] -= 1
                added.append(row)
        self._open(table, added)

    def known_now(self, projection: str, entity: str) -> KnownNow:
        """The entity's rows held now and known now, by valid dates (see :meth:`EntityHistory.resume`)."""
        table = HISTORY_TABLES[projection]
        found = self.conn.execute(
            f"SELECT h.id, h.valid_from, h.valid_to, h.known_from, s.state, substr(l.ids, 1, h.events_end) || ']' "
            f"FROM {table.history} h JOIN {table.states} s ON s.id = h.state_id JOIN event_lists l ON l.id = h.events_list "
            "WHERE h.entity = ? AND h.recorded_to IS NULL AND h.known_to IS NULL",
            (entity,),
        ).fetchall()
        ids = self.known_ids[(projection, entity)] = {}
        for row_id, *dates, _, _ in found:
            ids.setdefault(tuple(dates), row_id)
        return {
            (OPEN_START if start is None else date.fromisoformat(start), None if end is None else date.fromisoformat(end)): (
                date.fromisoformat(known_from),
                (state, events),
            )
            for _, start, end, known_from, state, events in found
        }

    def apply(self, projection: str, entity: str, delta: HistoryDelta) -> None:
        """Write what extending a history changed: end the rows that no longer hold, add the new ones.

        Raises :class:`StaleHistory` (writing nothing) when a row to end is not
        among the read model's known-now rows: the history and the read model disagree.
        """
        table = HISTORY_TABLES[projection]
        ended = []
        known_ids = self.known_ids.get((projection, entity), {})  # rows known_now read in this transaction: no need to look again
        for valid_from, valid_to, known_from in delta.ended:
            row_id = known_ids.get((valid_from, valid_to, known_from))
            if row_id is None:
                found = self.conn.execute(
                    f"SELECT id FROM {table.history} WHERE entity = ? AND recorded_to IS NULL AND known_to IS NULL "
                    "AND valid_from IS ? AND valid_to IS ? AND known_from = ?",
                    (entity, valid_from, valid_to, known_from),
                ).fetchone()
                if found is None:
                    raise StaleHistory(f"{projection}:{entity}")
                row_id = found[0]
            ended.append(row_id)
        self.to_close.setdefault(table.table, []).extend(ended)
        self.changes.closed += len(ended)
        self._open(table, [table.row(version, self.batch) for version in delta.added])

    def _open(self, table: HistoryTable, new_rows: list[Row]) -> None:
        # One order whichever way the rows were found, so row ids match between projecting and rebuilding.
        new_rows.sort(key=lambda row: tuple("" if value is None else str(value) for value in identity(row, table)))
        self.to_open.setdefault(table.table, []).extend(new_rows)
        self.changes.opened += len(new_rows)

    def flush(self) -> VersionChanges:
        """Write the collected rows, with the states and events lists they need; return how many were opened and closed."""
        for projection_table in HISTORY_TABLES.values():
            ids = self.to_close.get(projection_table.table)
            if ids:
                self.conn.executemany(f"UPDATE {projection_table.history} SET recorded_to = ? WHERE id = ?", [(self.batch, i) for i in ids])
            rows = self.to_open.get(projection_table.table)
            if rows:
                self._insert(projection_table, rows)
        self.to_open.clear()
        self.to_close.clear()
        return self.changes

    def _insert(self, table: HistoryTable, rows: list[Row]) -> None:
        """Insert rows, each entity's states and lists shared with its rows already written."""
        state_ids, list_ids = (
            Ids(self.conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {name}").fetchone()[0]) for name in (table.states, "event_lists")
        )
        by_entity: dict[str, EntityStates] = {}
        stored = []
        for row in rows:
            states = by_entity.get(row[0])
            if states is None:
                states = by_entity[row[0]] = self._entity_states(table, row[0], state_ids, list_ids)
            stored.append(states.stored(row))
        self.conn.executemany(
            f"INSERT INTO {table.states} (id, state) VALUES (?, ?)", [item for states in by_entity.values() for item in states.new_states]
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO event_lists (id, ids) VALUES (?, ?)",
            [item for states in by_entity.values() for item in states.written_lists()],
        )
        self.conn.executemany(insert_sql(table.history, STORED_COLUMNS), stored)

    def _entity_states(self, table: HistoryTable, entity: str, state_ids: Ids, list_ids: Ids) -> EntityStates:
        """The states and events lists the entity's written rows refer to."""
        states = self.conn.execute(
            f"SELECT DISTINCT s.id, s.state FROM {table.history} h JOIN {table.states} s ON s.id = h.state_id WHERE h.entity = ?",
            (entity,),
        ).fetchall()
        lists = self.conn.execute(
            f"SELECT DISTINCT l.id, l.ids FROM {table.history} h JOIN event_lists l ON l.id = h.events_list WHERE h.entity = ?",
            (entity,),
        ).fetchall()
        return EntityStates(state_ids, list_ids, states, lists)


def identity(row: Row, table: HistoryTable) -> tuple[Any, ...]:
    """The part of a row that says what it holds (not when it was recorded): all but ``recorded_from`` and ``recorded_to``."""
    return row[:5] + row[7:]


class StateTexts:
    """Rendered states as stored (:func:`~ledger.readmodel.rows.split_state`), each dumped once while rows are made of it.

    A row that ends in known time is made again with its ``known_to``, from the
    state already dumped for its open row. The states are held by their
    identity (and kept alive while held, so an identity is never another
    state's); :meth:`forget` lets a state go once its last row is made.
    """

    def __init__(self) -> None:
        self.held: dict[int, tuple[dict[str, Any], tuple[str, str]]] = {}

    def of(self, state: dict[str, Any]) -> tuple[str, str]:
        found = self.held.get(id(state))
        if found is None:
            found = self.held[id(state)] = (state, split_state(state))
        return found[1]

    def forget(self, state: dict[str, Any]) -> None:
        self.held.pop(id(state), None)


def book_rows(entity: str, rows: list[BookRow], recorded_from: int, texts: StateTexts) -> list[Row]:
    """History rows (:data:`Row`) first held at ``recorded_from``, made from the sweep's rows as :meth:`HistoryTable.row` makes them from versions.

    A rebuild writes several rows per event on a long history: this skips the
    :class:`~ledger.projections.history.Version` objects in between, and dumps
    a state that ended in known time only once for its open and its ended row.
    """
    made = []
    for segment, opened, closed in rows:
        state, start, end = segment.state, segment.start, segment.end
        stored, events = texts.of(state)
        if closed is not None:
            texts.forget(state)
        made.append(
            (
                entity,
                None if start == OPEN_START else start.isoformat(),
                None if end is None else end.isoformat(),
                opened.isoformat(),
                None if closed is None else closed.isoformat(),
                recorded_from,
                None,
                state["certainty"],
                int(state["disputed"]),
                state["events"][-1],
                stored,
                events,
            )
        )
    return made
