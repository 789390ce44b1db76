"""The SQLite read model: schema by migrations, a catch-up projector that applies each append batch exactly once,
history rows on three time axes, and as-of answers that are the same as ``ledger replay``'s."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from benchmarks.generate import LedgerSpec, generate_events
from click.testing import CliRunner

from conftest import REPO, make_event
from helpers import (
    MIGRATION_NAMES,
    PROJECTIONS,
    SMALL,
    VIEW_TABLES,
    corpus_store,
    registry_of,
    replay,
    sample_questions,
    synthetic_store,
    table_contents,
    view_replay,
)
from ledger.cli import main
from ledger.ingest import ingest_dicts
from ledger.readmodel import Projector, ReadModelError, migrate, project, status, view_path_for
from ledger.readmodel.query import as_of_condition, latest_state_sql, stored_states
from ledger.readmodel.schema import MIGRATIONS_DIR
from ledger.readmodel.versions import HISTORY_TABLES
from ledger.store import open_store


def comparable(result: dict) -> dict:
    return {name: result[name] for name in PROJECTIONS}


# --- schema ---------------------------------------------------------------------------------------


def test_ledger_migrate_creates_every_table_and_a_second_run_applies_nothing(tmp_path):
    view = str(tmp_path / "ledger.view.db")
    applied = migrate(view)
    assert applied == MIGRATION_NAMES
    assert migrate(view) == []
    conn = sqlite3.connect(view)
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    assert set(VIEW_TABLES) | {"projector_state", "events_fts", "event_sources_fts", "restriction_current", "all_versions"} <= names
    assert status(view).pending == []


def test_sqlite_utils_migrate_finds_the_same_migrations_and_ledger_agrees_they_are_applied(tmp_path):
    view = str(tmp_path / "plain.view.db")
    result = subprocess.run(
        [sys.executable, "-m", "sqlite_utils", "migrate", view, str(REPO / "migrations")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert status(view).applied == MIGRATION_NAMES
    assert migrate(view) == []


def test_the_package_finds_its_migrations_in_the_top_level_folder():
    assert MIGRATIONS_DIR.is_dir()
    assert (MIGRATIONS_DIR / "migrations.py").read_bytes() == (REPO / "migrations" / "migrations.py").read_bytes()
    assert sorted(p.name for p in MIGRATIONS_DIR.glob("m*.py")) == sorted(p.name for p in (REPO / "migrations").glob("m*.py"))


def test_the_view_sits_beside_the_store_unless_named(monkeypatch):
    monkeypatch.delenv("LEDGER_VIEW_DB", raising=False)
    assert view_path_for("data/ledger.db") == "data/ledger.view.db"
    assert view_path_for("x.sqlite") == "x.sqlite.view.db"
    assert view_path_for("ledger.db", "/tmp/v.db") == "/tmp/v.db"
    monkeypatch.setenv("LEDGER_VIEW_DB", "/tmp/env.db")
    assert view_path_for("ledger.db") == "/tmp/env.db"


# --- the projector --------------------------------------------------------------------------------


def test_projecting_after_each_ingest_gives_the_same_tables_as_a_rebuild(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db, batches=6, after_each=lambda: project(db, view))
    incremental = table_contents(view)
    report = project(db, view, rebuild=True)
    assert report.rebuilt and report.batches == 6 and report.events == SMALL.events
    assert table_contents(view) == incremental
    assert len(incremental["events"]) == SMALL.events
    # history was really rewritten on the recorded axis, not only appended to
    conn = sqlite3.connect(view)
    assert conn.execute("SELECT COUNT(*) FROM restriction_versions WHERE recorded_to IS NOT NULL").fetchone()[0] > 0


def test_the_open_rows_are_the_history_of_all_events(db, tmp_path):
    from ledger.projections.history import group_by_entity, history

    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db, batches=4, after_each=lambda: project(db, view))
    with open_store(db, create=False) as store:
        events = [recorded.data for recorded in store.iter_events()]
    conn = sqlite3.connect(view)
    for entity, members in group_by_entity(events).items():
        table = HISTORY_TABLES[entity.projection].table
        expected = sorted(
            ((iso(v.valid_from), iso(v.valid_to), iso(v.known_from), iso(v.known_to), v.event_id) for v in history(members, entity)),
            key=repr,
        )
        found = conn.execute(
            f"SELECT valid_from, valid_to, known_from, known_to, event_id FROM {table} WHERE entity = ? AND recorded_to IS NULL",
            (entity.key,),
        ).fetchall()
        assert sorted(found, key=repr) == expected, entity


def iso(day):
    return None if day is None else day.isoformat()


def test_a_kept_history_extended_batch_by_batch_gives_the_rows_of_the_whole_history(db):
    from ledger.projections.history import group_by_entity, history
    from ledger.readmodel.histories import EntityHistory

    synthetic_store(db, batches=1)
    with open_store(db, create=False) as store:
        events = [recorded.data for recorded in store.iter_events()]
    rng = random.Random(4)
    for entity, members in group_by_entity(events).items():
        ordered = sorted(members, key=lambda data: (data["reported"], data["id"]))
        dates = sorted({data["reported"] for data in ordered})
        cuts = sorted(rng.sample(dates, k=min(3, len(dates))))
        kept, rows, open_rows = EntityHistory(entity), [], {}
        for start, end in zip(["", *cuts], [*cuts, "9999"]):
            part = [data for data in ordered if start <= data["reported"] < end]
            if not part:
                continue
            assert kept.accepts(part)
            delta = kept.add(part)
            for ended in delta.ended:
                del open_rows[ended]
            for version in delta.added:
                key = (iso(version.valid_from), iso(version.valid_to), iso(version.known_from))
                (rows.append(version) if version.known_to else open_rows.__setitem__(key, version))
        assert not kept.accepts(ordered[:1]) or len(dates) == 1
        expected = history(members, entity)
        assert sorted([*rows, *open_rows.values()], key=repr) == sorted(expected, key=repr), entity


def test_a_backdated_event_rewrites_only_its_entitys_rows(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db)
    project(db, view)
    before = table_contents(view)
    conn = sqlite3.connect(view)
    entity, first = conn.execute(
        "SELECT entity, MIN(valid_from) FROM restriction_versions GROUP BY entity ORDER BY entity LIMIT 1"
    ).fetchone()
    late = make_event(
        "late-report-of-an-old-change",
        "policy_change",
        occurred=(date.fromisoformat(first) + timedelta(days=1)).isoformat(),
        reported="2025-06-01",
        actors=["actor-00001"],
        sources=[{"url": "https://example.org/late", "outlet": "Reuters", "published": "2025-06-01", "attribution": "journalist"}],
        restriction={"id": entity, "status": "permitted"},
    )
    with open_store(db) as store:
        batch = store.append([late])[0]
    report = project(db, view)
    assert report.batches == 1 and report.entities == 1 and report.closed > 0
    after = table_contents(view)
    changed = conn.execute(
        "SELECT DISTINCT entity FROM restriction_versions WHERE recorded_from = ? OR recorded_to = ?", (batch, batch)
    ).fetchall()
    assert changed == [(entity,)]
    for table in ("aid_package_versions", "position_versions", "territory_versions", "actors"):
        assert after[table] == before[table], table
    for table in ("events", "event_sources"):
        assert after[table][:-1] == before[table] and after[table][-1][1 if table == "event_sources" else 0] == late["id"]
    # the ledger as recorded before the late event still answers as it did
    old = view_replay(view, first, recorded_through=batch - 1, only="restrictions", entity=entity)["restrictions"]
    new = view_replay(view, (date.fromisoformat(first) + timedelta(days=2)).isoformat(), only="restrictions", entity=entity)
    assert new["restrictions"][0]["status"] == "permitted" and "late-report-of-an-old-change" in new["restrictions"][0]["events"]
    assert all("late-report-of-an-old-change" not in state["events"] for state in old)


def test_backdated_events_caught_up_one_append_at_a_time_give_the_tables_of_a_rebuild(db, tmp_path):
    """Each late report is caught up by a new projector, which takes its entity's history up from the stored rows."""
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db)
    project(db, view)
    conn = sqlite3.connect(view)
    starts = conn.execute(
        "SELECT entity, MIN(valid_from), MAX(valid_from) FROM restriction_versions GROUP BY entity ORDER BY entity"
    ).fetchall()
    conn.close()
    status = ["permitted", "prohibited", "conditional"]
    for number, (entity, first, last) in enumerate(starts[:6]):
        span = (date.fromisoformat(last) - date.fromisoformat(first)).days
        late = make_event(
            f"late-report-{number}",
            "policy_change",
            occurred=(date.fromisoformat(first) + timedelta(days=1 + span * number // 6)).isoformat(),
            reported=f"2025-07-{number + 1:02d}",
            actors=["actor-00001"],
            sources=[
                {"url": f"https://example.org/late/{number}", "outlet": "Reuters", "published": "2025-07-01", "attribution": "journalist"}
            ],
            restriction={"id": entity, "status": status[number % 3]},
        )
        with open_store(db) as store:
            store.append([late])
        report = project(db, view)
        assert report.entities == 1 and report.closed > 0
    caught_up = table_contents(view)
    project(db, view, rebuild=True)
    assert table_contents(view) == caught_up


def test_catch_ups_in_one_process_follow_the_read_model_as_other_projectors_leave_it(db, tmp_path):
    """The read model kept open between catch-ups is the file at the path: moved on by another projector,
    rebuilt into a new file, or removed, each next catch-up gives the tables of a rebuild."""
    view = str(tmp_path / "ledger.view.db")
    events = list(generate_events(SMALL))
    parts = [events[start : start + 120] for start in range(0, len(events), 120)]
    with open_store(db) as store:
        ingest_dicts(store, parts[0], registry_of(SMALL))
        project(db, view)
        ingest_dicts(store, parts[1])
        with Projector(db, view) as other:
            assert other.run().events == len(parts[1])
        ingest_dicts(store, parts[2])
        assert project(db, view).events == len(parts[2])
        ingest_dicts(store, parts[3])
        with Projector(db, view) as other:
            other.rebuild()  # a new file renamed over the read model
        ingest_dicts(store, parts[4])
        assert project(db, view).events == len(parts[4])
        caught_up = table_contents(view)
        for suffix in ("", "-wal", "-shm"):
            Path(view + suffix).unlink(missing_ok=True)
        report = project(db, view)
    assert report.events == sum(map(len, parts[:5])) and table_contents(view) == caught_up
    project(db, view, rebuild=True)
    assert table_contents(view) == caught_up


def test_a_crash_before_the_tracking_write_loses_and_duplicates_nothing(db, tmp_path, monkeypatch):
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db, batches=2)
    with open_store(db) as store:
        first_batch_end = store.batch_start(store.max_position()) - 1
    with Projector(db, view) as projector:
        projector.copy_registry(projector.tracking())
        projector.apply_batch(projector.pending_batches(0)[0])
    before = table_contents(view)

    def crash(self, batch, chain_hash):
        raise RuntimeError("power cut between the view rows and the tracking row")

    with Projector(db, view) as projector:
        monkeypatch.setattr(Projector, "write_tracking", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            projector.run()
        assert table_contents(view) == before
        monkeypatch.undo()
        report = projector.run()  # the same projector goes on: what it kept of the failed batch is forgotten
    assert report.batches == 1 and report.events == SMALL.events - first_batch_end
    once = table_contents(view)
    assert len(once["events"]) == len({row[0] for row in once["events"]}) == SMALL.events
    project(db, view, rebuild=True)
    assert table_contents(view) == once


def test_a_view_of_another_ledger_is_refused(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db, batches=1)
    project(db, view)
    other = str(tmp_path / "other.db")
    with open_store(other) as store:
        ingest_dicts(
            store,
            [make_event()],
            {
                "actor": [{"id": "kirby", "name": "Kirby", "role": "spokesman"}],
                "document": [{"id": "doc-a", "outlet": "Post", "published": "2024-05-30"}],
                "question": [{"id": "strikes-inside-russia", "text": "May Ukraine strike?"}],
            },
        )
    with pytest.raises(ReadModelError, match="different ledger"):
        project(other, view)


def test_ingest_brings_the_read_model_up_to_date(db, ledger_dir):
    from conftest import write_events

    runner = CliRunner()
    write_events(ledger_dir / "a.yaml", [make_event()])
    assert runner.invoke(main, ["ingest", str(ledger_dir), "--db", db], catch_exceptions=False).exit_code == 0
    view = view_path_for(db)
    assert Path(view).exists()
    assert view_replay(view, "2024-06-01", only="positions")["positions"][0]["stance"] == "opposes"
    write_events(
        ledger_dir / "b.yaml",
        [
            make_event(
                "kirby-changes-his-mind",
                occurred="2024-06-10",
                reported="2024-06-10",
                position={"question": "strikes-inside-russia", "stance": "supports"},
            )
        ],
    )
    assert runner.invoke(main, ["ingest", str(ledger_dir), "--db", db], catch_exceptions=False).exit_code == 0
    assert view_replay(view, "2024-06-11", only="positions")["positions"][0]["stance"] == "supports"
    assert view_replay(view, "2024-06-11", known_at="2024-06-01", only="positions")["positions"][0]["stance"] == "opposes"


def test_project_and_migrate_commands(db, tmp_path):
    synthetic_store(db, batches=3)
    runner = CliRunner()
    view = str(tmp_path / "cli.view.db")
    result = runner.invoke(main, ["migrate", "--db", db, "--view", view], catch_exceptions=False)
    assert f"applied {', '.join(MIGRATION_NAMES)}" in result.output
    result = runner.invoke(main, ["project", "--db", db, "--view", view, "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0 and f"projected {SMALL.events} event(s) in 3 batch(es)" in result.output
    result = runner.invoke(main, ["project", "--db", db, "--view", view, "--rebuild", "--format", "json"], catch_exceptions=False)
    assert '"rebuilt": true' in result.output and '"batches": 3' in result.output
    result = runner.invoke(main, ["project", "--db", str(tmp_path / "missing.db"), "--view", view])
    assert result.exit_code == 2 and "no ledger at" in result.output


# --- one truth: the read model answers what replay answers ---------------------------------------


@pytest.mark.parametrize(
    "spec", [SMALL, LedgerSpec(events=400, seed=5, actors=12, questions=3, restrictions=6, packages=6, areas=5, documents=20)]
)
def test_read_model_replay_equals_ledger_replay_on_synthetic_ledgers(db, tmp_path, spec):
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db, spec, batches=4, after_each=lambda: project(db, view))
    with open_store(db, create=False) as store:
        for as_of, known_at, recorded_before in sample_questions(store.max_position(), count=16):
            expected = replay(store, as_of, known_at, recorded_before)
            found = view_replay(view, as_of, known_at, expected["recorded_through"] if recorded_before else None)
            assert comparable(found) == comparable(expected), (as_of, known_at, recorded_before)


def test_read_model_replay_equals_ledger_replay_on_the_corpus(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    corpus_store(db)
    project(db, view)
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(0, 366, 9)]
    with open_store(db, create=False) as store:
        for as_of in days:
            for known_at in (None, as_of, as_of + timedelta(days=20)):
                expected = replay(store, as_of, known_at)
                assert comparable(view_replay(view, as_of, known_at)) == comparable(expected), (as_of, known_at)


def test_one_entity_can_be_asked_for_alone(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db)
    project(db, view)
    everything = view_replay(view, "2020-06-01")
    some = everything["positions"][0]
    alone = view_replay(view, "2020-06-01", entity=some["id"])
    assert alone["positions"] == [some] and alone["restrictions"] == []
    assert view_replay(view, "2020-06-01", entity=f"positions:{some['id']}")["positions"] == [some]


# --- indexes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("known_at", [False, True])
@pytest.mark.parametrize("recorded", [False, True])
def test_as_of_lookups_are_index_range_scans(tmp_path, known_at, recorded):
    view = str(tmp_path / "ledger.view.db")
    migrate(view)
    conn = sqlite3.connect(view)
    params = {"as_of": "2024-06-01", "known_at": "2024-06-01", "recorded_through": 10, "entity": "x"}
    for table in HISTORY_TABLES.values():
        condition = as_of_condition(known_at, recorded)
        one = conn.execute(f"EXPLAIN QUERY PLAN {stored_states(table)} WHERE {condition} AND h.entity = :entity", params).fetchall()
        assert one[0][3].startswith(f"SEARCH h USING COVERING INDEX {table.history}_entity (entity=?"), one
        assert "entity=?" in one[0][3]
        if not recorded:
            every = conn.execute(f"EXPLAIN QUERY PLAN {stored_states(table)} WHERE {condition} ORDER BY h.entity", params).fetchall()
            # in entity order, no sorting; as known and recorded now, only the rows held now are read
            index = f"{table.history}_entity" if known_at else f"{table.history}_now"
            assert every[0][3] == f"SCAN h USING COVERING INDEX {index}", every
            assert not any("TEMP B-TREE" in step[3] for step in every)
        # the state and the events list are then fetched by their ids
        assert all("USING INTEGER PRIMARY KEY" in step[3] for step in one[1:])


def test_one_entity_now_is_two_index_probes(tmp_path):
    view = str(tmp_path / "ledger.view.db")
    migrate(view)
    conn = sqlite3.connect(view)
    for table in HISTORY_TABLES.values():
        plan = [step[3] for step in conn.execute(f"EXPLAIN QUERY PLAN {latest_state_sql(table)}", ("x", "2024-06-01")).fetchall()]
        searches = [step for step in plan if step.startswith("SEARCH")]
        for probe, fetches in zip(("valid_from<?", "valid_from=?"), (searches[:3], searches[3:]), strict=True):
            assert fetches[0].startswith(f"SEARCH h USING COVERING INDEX {table.history}_") and probe in fetches[0], plan
            assert all("USING INTEGER PRIMARY KEY" in step for step in fetches[1:]) and not any("TEMP B-TREE" in step for step in plan)


def test_full_text_search_finds_summaries_and_quotes(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    corpus_store(db)
    project(db, view)
    conn = sqlite3.connect(view)
    hits = conn.execute("SELECT e.id FROM events_fts JOIN events e ON e.rowid = events_fts.rowid WHERE events_fts MATCH 'kursk'").fetchall()
    assert hits
    quotes = conn.execute(
        "SELECT s.event_id FROM event_sources_fts JOIN event_sources s ON s.id = event_sources_fts.rowid WHERE event_sources_fts MATCH 'quote:question*'"
    ).fetchall()
    assert quotes
    assert conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")
