"""The ledger's Merkle log: one leaf per entry, in recorded order, written in the append's own transaction.

What a leaf covers (its *leaf input*, whose RFC 9162 leaf hash the log keeps):

- an event: the canonical JSON ``{"entry":"event","event":EVENT,"position":P,"recorded_at":T}``
  (keys sorted, no spaces, UTF-8): the event's canonical bytes with where and
  when the ledger recorded it, so neither can change unseen;
- a registry entry, each time one is added or its data changes:
  ``{"data":DATA,"entry":"registry","id":ID,"kind":KIND,"recorded_at":T}``.

Within one append the registry entries come first (the events cite them),
then the events in position order. Leaves count from 0; the log's *size* is
its number of leaves. An event's leaf input is rebuilt from the stored event
when needed (the log keeps only its hash); a registry entry's is kept whole,
since the registry table holds only each entry's newest data.

This module holds the leaf inputs (the same on every backend) and the SQLite
side: the tables, the triggers that keep the log and the stored events
append-only (``REPLACE INTO`` included), the leaf insert an append makes, and
the reads behind :class:`~ledger.store.interface.StoreReader`'s log methods.
Stores written before the log existed get it built from their events when a
writer opens them (:func:`build_log`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

import orjson

from ledger.merkle import LEAF_PREFIX, leaf_hash
from ledger.store.codec import StateCodec, canonical_bytes, entry_hex

EVENT_LEAF_PREFIX = b'{"entry":"event","event":'


def event_leaf_input(canonical: bytes, position: int, recorded_at: str) -> bytes:
    """The leaf input of an event: its canonical bytes with its position and recorded time (canonical JSON itself)."""
    return EVENT_LEAF_PREFIX + canonical + b',"position":' + str(position).encode() + b',"recorded_at":' + orjson.dumps(recorded_at) + b"}"


def event_leaf_hashes(events: Sequence[tuple[int, bytes]], recorded_at: str) -> list[bytes]:
    """The leaf hashes of (position, canonical bytes) events recorded at ``recorded_at``, in order.

    ``leaf_hash(event_leaf_input(...))`` of each, without building the inputs: the
    hash of the part every event's input starts with is taken once and copied, and
    the event's bytes are hashed where they are.
    """
    start = hashlib.sha256(LEAF_PREFIX + EVENT_LEAF_PREFIX)
    tail = b',"recorded_at":' + orjson.dumps(recorded_at) + b"}"
    hashes = []
    for position, canonical in events:
        digest = start.copy()
        digest.update(canonical)
        digest.update(b',"position":%d%b' % (position, tail))
        hashes.append(digest.digest())
    return hashes


def registry_leaf_input(kind: str, key: str, data: dict[str, Any], recorded_at: str) -> bytes:
    """The leaf input of a registry entry as added or changed at ``recorded_at``."""
    return canonical_bytes({"data": data, "entry": "registry", "id": key, "kind": kind, "recorded_at": recorded_at})


# --- SQLite -----------------------------------------------------------------------------------

RECORDED_AT = "(SELECT b.recorded_at FROM ledger_chain_batches b WHERE b.batch <= c.position ORDER BY b.batch DESC LIMIT 1) AS recorded_at"
"""The recorded time of the chain entry ``c`` (None without one): its append's, kept once per append."""

LOG_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_log (
    leaf INTEGER PRIMARY KEY,
    position INTEGER UNIQUE,
    input BLOB,
    hash BLOB NOT NULL
)
"""
"""One row per leaf: ``position`` for an event's leaf (its input is rebuilt from the stored event), ``input`` for a registry entry's."""
CHECKPOINTS_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    root TEXT NOT NULL,
    time TEXT NOT NULL,
    key_id TEXT,
    document TEXT NOT NULL
)
"""
"""Every checkpoint made of this ledger, as the file given out (``document``), in the order made."""

_REFUSE = "SELECT RAISE(ABORT, 'ledger entries are append-only: record a correction event instead')"
APPEND_ONLY_TRIGGERS = [
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN {_REFUSE}; END"
        for table in ("ledger_log", "ledger_checkpoints")
        for action in ("UPDATE", "DELETE")
    ),
    # REPLACE INTO deletes the row it conflicts with without firing DELETE triggers: refuse any insert
    # that would replace a row or does not come after the last one.
    "CREATE TRIGGER IF NOT EXISTS stored_events_append_only BEFORE INSERT ON stored_events "
    "WHEN (NEW.rowid >= 0 AND NEW.rowid <= (SELECT COALESCE(MAX(rowid), 0) FROM stored_events)) "
    "OR EXISTS (SELECT 1 FROM stored_events WHERE originator_id = NEW.originator_id AND originator_version = NEW.originator_version) "
    f"BEGIN {_REFUSE}; END",
    "CREATE TRIGGER IF NOT EXISTS ledger_chain_append_only BEFORE INSERT ON ledger_chain "
    "WHEN NEW.position <= (SELECT COALESCE(MAX(position), 0) FROM ledger_chain) "
    "OR NOT EXISTS (SELECT 1 FROM stored_events WHERE rowid = NEW.position) "
    f"BEGIN {_REFUSE}; END",
    "CREATE TRIGGER IF NOT EXISTS ledger_chain_batches_append_only BEFORE INSERT ON ledger_chain_batches "
    "WHEN NEW.batch <= (SELECT COALESCE(MAX(batch), 0) FROM ledger_chain_batches) "
    f"BEGIN {_REFUSE}; END",
    "CREATE TRIGGER IF NOT EXISTS ledger_log_append_only BEFORE INSERT ON ledger_log "
    "WHEN NEW.leaf IS NOT (SELECT COALESCE(MAX(leaf), -1) + 1 FROM ledger_log) "
    "OR (NEW.position IS NOT NULL AND NEW.position <= (SELECT COALESCE(MAX(position), 0) FROM ledger_log)) "
    f"BEGIN {_REFUSE}; END",
    "CREATE TRIGGER IF NOT EXISTS ledger_checkpoints_append_only BEFORE INSERT ON ledger_checkpoints "
    "WHEN NEW.id >= 0 AND NEW.id <= (SELECT COALESCE(MAX(id), 0) FROM ledger_checkpoints) "
    f"BEGIN {_REFUSE}; END",
    "CREATE TRIGGER IF NOT EXISTS ledger_codec_append_only BEFORE INSERT ON ledger_codec "
    "WHEN NEW.id <= (SELECT COALESCE(MAX(id), 0) FROM ledger_codec) "
    f"BEGIN {_REFUSE}; END",
]
SCHEMA = [LOG_TABLE, CHECKPOINTS_TABLE, *APPEND_ONLY_TRIGGERS]
SCHEMA_NAMES = {"ledger_log", "ledger_checkpoints", *(statement.split()[5] for statement in APPEND_ONLY_TRIGGERS)}
"""The tables and triggers :data:`SCHEMA` makes (a writer opening a store without them makes them)."""


def changed_registry(conn: sqlite3.Connection, entries: Sequence[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """The entries that are new or whose data differs from the registry's (read before they are written), last one of each key."""
    latest = {(kind, key): data for kind, key, data in entries}
    if not latest:
        return []
    current = {
        (kind, key): json.loads(data)
        for kind, key, data in conn.execute(
            "SELECT kind, id, data FROM ledger_registry WHERE kind || char(31) || id IN (SELECT value FROM json_each(?))",
            (json.dumps([f"{kind}\x1f{key}" for kind, key in latest]),),
        )
    }
    return [(kind, key, data) for (kind, key), data in latest.items() if current.get((kind, key)) != data]


def append_leaves(
    conn: sqlite3.Connection, registry: Sequence[tuple[str, str, dict[str, Any]]], events: Sequence[tuple[int, bytes]], recorded_at: str
) -> None:
    """Inside an append's transaction: add the leaves of these registry entries, then of these (position, canonical bytes) events."""
    if not registry and not events:
        return
    first = conn.execute("SELECT COALESCE(MAX(leaf), -1) + 1 FROM ledger_log").fetchone()[0]
    rows: list[tuple[int, int | None, bytes | None, bytes]] = []
    for kind, key, data in registry:
        leaf_input = registry_leaf_input(kind, key, data, recorded_at)
        rows.append((first + len(rows), None, leaf_input, leaf_hash(leaf_input)))
    leaf = first + len(rows)
    rows.extend(
        zip(range(leaf, leaf + len(events)), (position for position, _ in events), repeat(None), event_leaf_hashes(events, recorded_at))
    )
    conn.executemany("INSERT INTO ledger_log VALUES (?, ?, ?, ?)", rows)


def has_log(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_log'").fetchone() is not None


def build_log(conn: sqlite3.Connection, codec: StateCodec) -> None:
    """Inside a write transaction: make the log's tables and triggers, and for a store that had none, its leaves.

    A store written before the log existed gets leaves for its registry (in the
    order the entries were written) and then its events in position order, each at the time the
    ledger recorded it; checkpoints start from there.
    """
    existed = has_log(conn)
    for statement in SCHEMA:
        conn.execute(statement)
    if existed:
        return
    registry = [
        (kind, key, json.loads(data)) for kind, key, data in conn.execute("SELECT kind, id, data FROM ledger_registry ORDER BY rowid")
    ]
    append_leaves(conn, registry, [], _first_recorded_at(conn))
    cursor = conn.execute(
        f"SELECT c.position, {RECORDED_AT}, s.state FROM ledger_chain c JOIN stored_events s ON s.rowid = c.position ORDER BY c.position"
    )
    while page := cursor.fetchmany(5_000):
        by_time: dict[str, list[tuple[int, bytes]]] = {}
        for position, recorded_at, state in page:
            by_time.setdefault(recorded_at, []).append((position, codec.canonical(state)))
        for recorded_at, events in by_time.items():
            append_leaves(conn, [], events, recorded_at)


def _first_recorded_at(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT recorded_at FROM ledger_chain_batches ORDER BY batch LIMIT 1").fetchone()
    if row:
        return row[0]
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def log_size(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COALESCE(MAX(leaf), -1) + 1 FROM ledger_log").fetchone()[0]


def leaf_hashes(conn: sqlite3.Connection, size: int | None = None) -> list[bytes]:
    limit = -1 if size is None else size
    return [row[0] for row in conn.execute("SELECT hash FROM ledger_log ORDER BY leaf LIMIT ?", (limit,))]


def leaf_inputs(
    conn: sqlite3.Connection, codec: StateCodec, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int | None, bytes | None]]:
    """``(leaf, position, leaf input)`` for leaves ``start <= leaf < end``, rebuilt from the entries; input None when the entry is gone."""
    last = (2**63 - 1) if end is None else end - 1
    while start <= last:
        page = conn.execute(
            f"SELECT l.leaf, l.position, l.input, {RECORDED_AT}, s.state FROM ledger_log l "
            "LEFT JOIN ledger_chain c ON c.position = l.position LEFT JOIN stored_events s ON s.rowid = l.position "
            "WHERE l.leaf BETWEEN ? AND ? ORDER BY l.leaf LIMIT 5000",
            (start, last),
        ).fetchall()
        for leaf, position, stored_input, recorded_at, state in page:
            if position is None:
                yield leaf, None, stored_input
            elif state is None or recorded_at is None:
                yield leaf, position, None
            else:
                yield leaf, position, event_leaf_input(codec.canonical(state), position, recorded_at)
        if len(page) < 5000:
            return
        start = page[-1][0] + 1


def leaf_of(conn: sqlite3.Connection, event_id: str) -> int | None:
    row = conn.execute(
        "SELECT l.leaf FROM ledger_log l JOIN stored_events s ON s.rowid = l.position JOIN ledger_chain c ON c.position = l.position "
        "WHERE s.originator_id = ?",
        (entry_hex(event_id),),
    ).fetchone()
    return row[0] if row else None


def log_position(conn: sqlite3.Connection, size: int) -> int:
    row = conn.execute("SELECT MAX(position) FROM ledger_log WHERE leaf < ?", (size,)).fetchone()
    return row[0] or 0


def put_checkpoint(conn: sqlite3.Connection, size: int, root: str, time: str, key_id: str | None, document: str) -> None:
    conn.execute(
        "INSERT INTO ledger_checkpoints (size, root, time, key_id, document) VALUES (?, ?, ?, ?, ?)", (size, root, time, key_id, document)
    )


def checkpoints(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT document FROM ledger_checkpoints ORDER BY id")]
