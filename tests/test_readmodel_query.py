"""As-of lookups of the read model: one entity in one statement of index probes, the whole state inside the index, raw JSON out."""

from __future__ import annotations

import random
import sqlite3
from datetime import date, timedelta

import orjson
import pytest

from helpers import SMALL, synthetic_store, view_replay
from ledger.readmodel import project
from ledger.readmodel.query import as_of_condition, latest_state, latest_state_sql, open_view, replay, stored_states
from ledger.readmodel.rows import whole_state
from ledger.readmodel.versions import HISTORY_TABLES

PROJECTIONS = ("restrictions", "aid_packages", "positions", "territory")


@pytest.fixture
def view(db, tmp_path):
    path = str(tmp_path / "ledger.view.db")
    synthetic_store(db, SMALL, batches=4, after_each=lambda: project(db, path))
    return path


def test_known_now_rows_of_an_entity_never_overlap_in_valid_time(view):
    """What the one-row lookup relies on: as known and recorded now, an entity's rows are one valid-time line."""
    conn = sqlite3.connect(view)
    for table in HISTORY_TABLES.values():
        rows = conn.execute(
            f"SELECT entity, COALESCE(valid_from, ''), COALESCE(valid_to, '9999-12-31') FROM {table.table} "
            "WHERE recorded_to IS NULL AND known_to IS NULL ORDER BY entity, 2"
        ).fetchall()
        assert rows, table.table
        for (entity, _, end), (next_entity, start, _) in zip(rows, rows[1:]):
            if entity == next_entity:
                assert end <= start, (table.table, entity)


def test_one_entity_lookup_equals_the_whole_state_filtered_to_it(view):
    rng = random.Random(7)
    conn = sqlite3.connect(f"file:{view}?mode=ro", uri=True)
    entities = {
        name: [row[0] for row in conn.execute(f"SELECT DISTINCT entity FROM {table.table}")] for name, table in HISTORY_TABLES.items()
    }
    asked = found_some = 0
    for _ in range(15):
        day = date(2015, 1, 1) + timedelta(days=rng.randrange(3700))
        everything = view_replay(view, day)
        for name in PROJECTIONS:
            by_id = {state["id"]: state for state in everything[name]}
            for key in rng.sample(entities[name], min(6, len(entities[name]))):
                alone = view_replay(view, day, entity=f"{name}:{key}")[name]
                assert alone == ([by_id[key]] if key in by_id else []), (name, key, day)
                asked += 1
                found_some += bool(alone)
    assert asked > 200 and found_some > 20


def test_one_entity_lookup_agrees_with_the_range_condition_on_every_row_boundary(view):
    """Dates on which rows start and end are where an off-by-one would show."""
    conn = sqlite3.connect(f"file:{view}?mode=ro", uri=True)
    condition = as_of_condition(known_at=False, recorded_through=False)
    for table in HISTORY_TABLES.values():
        sample = conn.execute(
            f"SELECT entity, valid_from, valid_to FROM {table.table} WHERE recorded_to IS NULL AND known_to IS NULL ORDER BY id LIMIT 40"
        ).fetchall()
        for entity, start, end in sample:
            for day in {d for d in (start, end) if d} | {"0001-01-02", "9999-12-30"}:
                shifted = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
                for as_of in (day, shifted):
                    expected = conn.execute(
                        f"SELECT state FROM {table.table} WHERE {condition} AND entity = :entity",
                        {"as_of": as_of, "entity": entity},
                    ).fetchall()
                    found = [whole_state(state, events) for state, events in latest_state(conn, table, entity, as_of)]
                    assert found == [orjson.loads(state) for (state,) in expected], (table.table, entity, as_of)


def test_the_one_entity_lookup_is_one_statement_of_two_index_ranges_the_second_run_only_when_needed(view):
    conn = sqlite3.connect(view)
    for table in HISTORY_TABLES.values():
        plan = [step[3] for step in conn.execute(f"EXPLAIN QUERY PLAN {latest_state_sql(table)}", ("x", "2020-01-01"))]
        index = f"SEARCH h USING COVERING INDEX {table.history}_entity (entity=? AND recorded_to=? AND known_to=?"
        assert [step for step in plan if step.startswith("SEARCH")] == [
            f"{index} AND valid_from<?)",
            "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)",
            "SEARCH l USING INTEGER PRIMARY KEY (rowid=?)",
            f"{index} AND valid_from=?)",
            "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)",
            "SEARCH l USING INTEGER PRIMARY KEY (rowid=?)",
        ]
        assert "UNION ALL" in plan
        before_any = conn.execute(
            f"SELECT entity, MIN(valid_from) FROM {table.history} WHERE recorded_to IS NULL AND known_to IS NULL AND valid_from IS NOT NULL "
            "GROUP BY entity LIMIT 1"
        ).fetchone()
        if before_any:  # a date before the entity's first dated row: the open-start row (if it has one) answers
            day = (date.fromisoformat(before_any[1]) - timedelta(days=1)).isoformat()
            expected = conn.execute(
                f"SELECT state FROM {table.table} WHERE {as_of_condition(False, False)} AND entity = :entity",
                {"as_of": day, "entity": before_any[0]},
            ).fetchall()
            assert [whole_state(*row) for row in latest_state(conn, table, before_any[0], day)] == [orjson.loads(s) for (s,) in expected]


def test_the_whole_state_lookup_tests_the_dates_inside_the_index(view):
    conn = sqlite3.connect(view)
    columns = {
        table.history: [row[2] for row in conn.execute(f"PRAGMA index_info({table.history}_entity)")] for table in HISTORY_TABLES.values()
    }
    assert set(map(tuple, columns.values())) == {
        (
            "entity",
            "recorded_to",
            "known_to",
            "valid_from",
            "valid_to",
            "known_from",
            "recorded_from",
            "state_id",
            "events_list",
            "events_end",
        )
    }
    for table in HISTORY_TABLES.values():
        now = [row[2] for row in conn.execute(f"PRAGMA index_info({table.history}_now)")]
        assert now == ["entity", "valid_from", "valid_to", "state_id", "events_list", "events_end", "recorded_to", "known_to"]
        partial = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (f"{table.history}_now",)).fetchone()[0]
        assert partial.endswith("WHERE recorded_to IS NULL AND known_to IS NULL")
        for known_at, index in ((False, "now"), (True, "entity")):  # as known now, only the rows held now are read
            plan = conn.execute(
                f"EXPLAIN QUERY PLAN {stored_states(table)} WHERE {as_of_condition(known_at, False)} ORDER BY h.entity",
                {"as_of": "2020-01-01", "known_at": "2020-01-01"},
            ).fetchall()
            assert [step[3] for step in plan] == [
                f"SCAN h USING COVERING INDEX {table.history}_{index}",
                "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)",
                "SEARCH l USING INTEGER PRIMARY KEY (rowid=?)",
            ]


def test_read_connections_are_read_only_and_not_memory_mapped(view):
    conn = open_view(view)
    assert conn.execute("PRAGMA mmap_size").fetchone()[0] == 0  # mapped pages touched would count as the process's memory
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM events")
    assert replay(conn, date(2020, 6, 1), None, ["positions"], entity="positions:no-such-entity") == {"positions": []}
