"""The history tables: each projection's :class:`~ledger.projections.history.Version` rows, flattened.

A version row is the projection's state over a rectangle of valid time and
known time, plus the recorded axis: the store position from which the read
model held it (``recorded_from``, the first position of that append batch) and
the one from which it no longer did (``recorded_to``, NULL while it still does).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.dates import OPEN_START
from ledger.projections.history import Version
from ledger.readmodel.histories import HistoryDelta, KnownNow
from ledger.readmodel.rows import json_text as _json

Row = tuple[Any, ...]


def _list(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda state: _json(state.get(name) or [])


def _field(name: str, part: str | None = None) -> Callable[[dict[str, Any]], Any]:
    if part is None:
        return lambda state: state.get(name)
    return lambda state: (state.get(name) or {}).get(part)


@dataclass(frozen=True)
class HistoryTable:
    """Where one projection's versions go, and how its state is flattened into columns."""

    projection: str
    table: str
    fields: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*COMMON_COLUMNS, *(name for name, _ in self.fields), "state")

    def row(self, version: Version, recorded_from: int) -> Row:
        """The table row for a version first held at ``recorded_from`` (``recorded_to`` is left open)."""
        state = version.state
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
            *(read(state) for _, read in self.fields),
            _json(state),
        )


COMMON_COLUMNS = (
    "entity", "valid_from", "valid_to", "known_from", "known_to", "recorded_from", "recorded_to",
    "certainty", "disputed", "event_id",
)  # fmt: skip
# What identifies a row's content: everything but the recorded axis.
IDENTITY = ("entity", "valid_from", "valid_to", "known_from", "known_to", "certainty", "disputed", "event_id", "state")

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
            f"SELECT id, {', '.join(IDENTITY)} FROM {table.table} WHERE entity = ? AND recorded_to IS NULL", (entity,)
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
            f"SELECT valid_from, valid_to, known_from, state FROM {table.table} "
            "WHERE entity = ? AND recorded_to IS NULL AND known_to IS NULL",
            (entity,),
        )
        return {
            (OPEN_START if start is None else date.fromisoformat(start), None if end is None else date.fromisoformat(end)): (
                date.fromisoformat(known_from),
                state,
            )
            for start, end, known_from, state in found
        }

    def apply(self, projection: str, entity: str, delta: HistoryDelta) -> None:
        """Write what extending a history changed: end the rows that no longer hold, add the new ones.

        Raises :class:`StaleHistory` (writing nothing) when a row to end is not
        among the read model's known-now rows: the history and the read model disagree.
        """
        table = HISTORY_TABLES[projection]
        ended = []
        for valid_from, valid_to, known_from in delta.ended:
            found = self.conn.execute(
                f"SELECT id FROM {table.table} WHERE entity = ? AND recorded_to IS NULL AND known_to IS NULL "
                "AND valid_from IS ? AND valid_to IS ? AND known_from = ?",
                (entity, valid_from, valid_to, known_from),
            ).fetchone()
            if found is None:
                raise StaleHistory(f"{projection}:{entity}")
            ended.append(found[0])
        self.to_close.setdefault(table.table, []).extend(ended)
        self.changes.closed += len(ended)
        self._open(table, [table.row(version, self.batch) for version in delta.added])

    def _open(self, table: HistoryTable, new_rows: list[Row]) -> None:
        # One order whichever way the rows were found, so row ids match between projecting and rebuilding.
        new_rows.sort(key=lambda row: tuple("" if value is None else str(value) for value in identity(row, table)))
        self.to_open.setdefault(table.table, []).extend(new_rows)
        self.changes.opened += len(new_rows)

    def flush(self) -> VersionChanges:
        """Write the collected rows; return how many were opened and closed."""
        for name, ids in self.to_close.items():
            self.conn.executemany(f"UPDATE {name} SET recorded_to = ? WHERE id = ?", [(self.batch, i) for i in ids])
        for projection_table in HISTORY_TABLES.values():
            rows = self.to_open.get(projection_table.table)
            if rows:
                columns = projection_table.columns
                marks = ", ".join("?" * len(columns))
                self.conn.executemany(f"INSERT INTO {projection_table.table} ({', '.join(columns)}) VALUES ({marks})", rows)
        self.to_open.clear()
        self.to_close.clear()
        return self.changes


_IDENTITY_POSITIONS: dict[str, tuple[int, ...]] = {}


def identity(row: Row, table: HistoryTable) -> tuple[Any, ...]:
    """The part of a row that says what it holds (not when it was recorded)."""
    positions = _IDENTITY_POSITIONS.get(table.table)
    if positions is None:
        positions = tuple(table.columns.index(name) for name in IDENTITY)
        _IDENTITY_POSITIONS[table.table] = positions
    return tuple(row[i] for i in positions)
