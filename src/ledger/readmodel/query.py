"""As-of answers from the read model: indexed lookups of history rows, no folding.

:func:`replay` answers what :func:`ledger.timetravel.replay` answers (the same
JSON contract), but reads only the read model: each projection's state on a
date is the set of history rows whose valid-time, known-time and recorded
ranges contain the asked dates, and each row already holds the rendered state.

The SQL is the same the Datasette canned queries run (see ``metadata.yml``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from datetime import date
from typing import Any

import orjson

from ledger.dates import parse_day
from ledger.readmodel.schema import ReadModelError
from ledger.readmodel.versions import HISTORY_TABLES
from ledger.timetravel import optional_day, projection_names

PROJECTIONS = tuple(HISTORY_TABLES)

VALID = "(valid_from IS NULL OR valid_from <= :as_of) AND (valid_to IS NULL OR valid_to > :as_of)"
KNOWN_LATEST = "known_to IS NULL"
KNOWN_AT = "(known_from IS NULL OR known_from <= :known_at) AND (known_to IS NULL OR known_to > :known_at)"
RECORDED_NOW = "recorded_to IS NULL"
RECORDED_THROUGH = "recorded_from <= :recorded_through AND (recorded_to IS NULL OR recorded_to > :recorded_through)"


def as_of_condition(known_at: bool, recorded_through: bool) -> str:
    """The WHERE condition for rows holding at ``:as_of`` (as known at ``:known_at``, as recorded through a position)."""
    return " AND ".join((RECORDED_THROUGH if recorded_through else RECORDED_NOW, KNOWN_AT if known_at else KNOWN_LATEST, VALID))


def open_view(view_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to the read model."""
    path = os.fspath(view_path)
    if not os.path.exists(path):
        raise ReadModelError(f"no read model at {path}; run 'ledger project' to build it")
    return sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True, check_same_thread=False)


def replay(
    view_db_path: str | os.PathLike[str] | sqlite3.Connection,
    as_of: str | date,
    known_at: str | date | None = None,
    recorded_through: int | None = None,
    only: str | Iterable[str] | None = None,
    *,
    recorded_before: int | None = None,
    entity: str | None = None,
    raw: bool = False,
) -> dict[str, Any]:
    """The state of every restriction, aid package, position and territory on ``as_of``, from the read model.

    - ``known_at``: only what had been reported by then (None: everything known);
    - ``recorded_through`` P: the read model as it stood after store position P
      (``recorded_before`` N is accepted too and means P = first position of N's batch − 1,
      as ``ledger replay --recorded-before N``);
    - ``only``: ``restrictions,aid,positions,territory`` or a list of them;
    - ``entity``: one entity only (``ID`` or ``projection:ID``), for millisecond lookups;
    - ``raw``: states as :class:`orjson.Fragment` (their stored JSON, unparsed), for
      writing the answer straight out as JSON.

    ``view_db_path`` may also be an open connection (reused across queries).
    """
    day, known = parse_day(as_of), optional_day(known_at)  # type: ignore[arg-type]
    names = projection_names(only) or list(PROJECTIONS)
    conn = view_db_path if isinstance(view_db_path, sqlite3.Connection) else open_view(view_db_path)
    try:
        if recorded_before is not None and recorded_through is None:
            recorded_through = batch_start(conn, recorded_before) - 1
        params = {"as_of": day.isoformat(), "known_at": known.isoformat() if known else None, "recorded_through": recorded_through}
        condition = as_of_condition(known is not None, recorded_through is not None)
        result: dict[str, Any] = {
            "as_of": params["as_of"],
            "known_at": params["known_at"],
            "recorded_before": recorded_before
            if recorded_before is not None
            else (recorded_through + 1 if recorded_through is not None else None),
            "recorded_through": recorded_through,
        }
        decode = orjson.Fragment if raw else orjson.loads
        for name in names:
            table = HISTORY_TABLES[name].table
            if entity is None:
                states = conn.execute(f"SELECT state FROM {table} WHERE {condition} ORDER BY entity", params).fetchall()
            else:
                projection, _, key = entity.partition(":") if entity.split(":", 1)[0] in PROJECTIONS else ("", "", entity)
                if projection and projection != name:
                    result[name] = []
                    continue
                if known is None and recorded_through is None:
                    states = latest_state(conn, table, key, day.isoformat())
                else:
                    sql = f"SELECT state FROM {table} WHERE {condition} AND entity = :entity"
                    states = conn.execute(sql, {**params, "entity": key}).fetchall()
            result[name] = [decode(state) for (state,) in states]
        return result
    finally:
        if conn is not view_db_path:
            conn.close()


def latest_state(conn: sqlite3.Connection, table: str, entity: str, as_of: str) -> list[tuple[str]]:
    """One entity's state on ``as_of`` as known and recorded now: at most one row, found in O(log n).

    The rows an entity holds as known and recorded now are the segments of one
    valid-time line: they never overlap. So the row holding on a date is the
    last one starting on or before it (or the open-start row), if it has not
    ended by then. Two index probes, however long the entity's history.
    """
    now = f"SELECT state, valid_to FROM {table} WHERE entity = ? AND recorded_to IS NULL AND known_to IS NULL"
    row = conn.execute(f"{now} AND valid_from <= ? ORDER BY valid_from DESC LIMIT 1", (entity, as_of)).fetchone()
    if row is None:
        row = conn.execute(f"{now} AND valid_from IS NULL LIMIT 1", (entity,)).fetchone()
    if row is None or (row[1] is not None and row[1] <= as_of):
        return []
    return [(row[0],)]


def batch_start(conn: sqlite3.Connection, position: int) -> int:
    """The first position of the append batch holding ``position`` (``position`` itself past the end)."""
    row = conn.execute("SELECT batch FROM events WHERE position >= ? ORDER BY position LIMIT 1", (int(position),)).fetchone()
    return row[0] if row else int(position)


def current_view(db: str | os.PathLike[str], view: str | os.PathLike[str] | None = None) -> str | None:
    """The read model's path if it exists and has caught up with the store's last event, else None.

    Caught up means its tracking position and chain hash are the store's head, so
    its answers are exactly what folding the store would give.
    """
    from ledger.readmodel.schema import up_to_date, view_path_for
    from ledger.store import read_head

    path = view_path_for(db, view)
    if not (os.path.exists(path) and os.path.exists(os.fspath(db))):
        return None
    try:
        with sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True) as conn:
            tracked = conn.execute("SELECT position, chain_hash FROM projector_state WHERE name = 'ledger-view'").fetchone()
            tracked = tracked if up_to_date(conn) else None  # a pending migration may change what rows hold
        head = read_head(db)
    except sqlite3.Error:
        return None
    return path if tracked and head and head.position and tuple(tracked) == tuple(head) else None


def caught_up_view(db: str | os.PathLike[str], view: str | os.PathLike[str] | None = None) -> str | None:
    """The read model's path, first catching it up with the store when it exists but is behind.

    None when there is no read model yet, or it cannot be brought up to date
    (built from another store, unreadable): callers then fold the store instead.
    A read model that is behind usually lacks a few late events, which the
    projector applies in milliseconds.
    """
    from ledger.readmodel.schema import view_path_for

    current = current_view(db, view)
    if current or not os.path.exists(view_path_for(db, view)):
        return current
    from ledger.readmodel.projector import project

    try:
        project(db, view)
    except (ReadModelError, sqlite3.Error, OSError):
        return None
    return current_view(db, view)
