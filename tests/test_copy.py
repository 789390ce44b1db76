"""ledger copy: a ledger moved between SQLite and PostgreSQL keeps its events, positions, times and head."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from conftest import make_event
from helpers import corpus_store
from ledger.cli import main
from ledger.store import open_reader, open_store, prepare_event
from ledger.store.copy import copy_ledger
from ledger.store.interface import StoreError


def everything(location: str) -> tuple:
    """All a reader can say about a ledger, for comparing two of them."""
    with open_reader(location) as reader:
        return reader.head(), reader.batches(), list(reader.events(1)), reader.registry(), reader.verify(), reader.leaf_hashes()


def test_the_corpus_goes_to_postgresql_and_back_with_identical_events_positions_times_and_head(tmp_path: Path, postgres_url: str) -> None:
    original, back = str(tmp_path / "ledger.db"), str(tmp_path / "back.db")
    corpus_store(original)
    with open_store(original) as store:  # later appends, so batches, times and registry changes are worth checking
        store.record(
            [prepare_event(make_event("late-statement"))], [("actors", "kirby", {"id": "kirby"})], datetime(2030, 1, 1, tzinfo=UTC)
        )
        store.record([], [("actors", "kirby", {"id": "kirby", "name": "John Kirby"})], datetime(2030, 1, 2, tzinfo=UTC))
        store.record([prepare_event(make_event("later-statement"))], [], datetime(2030, 1, 3, tzinfo=UTC))

    there = copy_ledger(original, postgres_url)
    again = copy_ledger(postgres_url, back)

    assert there.head == again.head == open_reader(original).head().chain_hash
    assert there.copied == again.copied == there.count > 80
    assert everything(original) == everything(postgres_url) == everything(back)
    with sqlite3.connect(original) as first, sqlite3.connect(back) as last, psycopg.connect(postgres_url) as middle:
        states = [
            first.execute("SELECT state FROM stored_events ORDER BY rowid").fetchall(),
            [(bytes(state),) for (state,) in middle.execute("SELECT state FROM stored_events ORDER BY notification_id")],
            last.execute("SELECT state FROM stored_events ORDER BY rowid").fetchall(),
        ]
    assert states[0] == states[1] == states[2]


def test_copying_again_brings_the_destination_up_to_date_with_only_the_new_appends(tmp_path: Path, postgres_url: str) -> None:
    source = str(tmp_path / "ledger.db")
    with open_store(source) as store:
        store.append([make_event("first")])
    copy_ledger(source, postgres_url)
    with open_store(source) as store:
        store.append([make_event("second"), make_event("third")])
    report = copy_ledger(source, postgres_url)
    assert (report.copied, report.batches, report.count) == (2, 1, 3)
    assert everything(source) == everything(postgres_url)


def test_a_destination_holding_other_events_is_refused_and_left_as_it_was(tmp_path: Path, postgres_url: str) -> None:
    source = str(tmp_path / "ledger.db")
    with open_store(source) as store:
        store.append([make_event("first")])
    with open_store(postgres_url) as store:
        store.append([make_event("something-else")])
    before = everything(postgres_url)
    with pytest.raises(StoreError, match="holds other entries"):
        copy_ledger(source, postgres_url)
    assert everything(postgres_url) == before


def test_a_ledger_is_not_copied_onto_itself(tmp_path: Path) -> None:
    source = tmp_path / "ledger.db"
    with open_store(str(source)) as store:
        store.append([make_event("first")])
    with pytest.raises(StoreError, match="both the source and the destination"):
        copy_ledger(str(source), str(tmp_path / "." / "ledger.db"))


def test_ledger_copy_reports_in_json_without_the_password(tmp_path: Path, postgres_server, postgres_url: str) -> None:
    source = str(tmp_path / "ledger.db")
    with open_store(source) as store:
        store.append([make_event("first")])
    result = CliRunner().invoke(main, ["copy", source, postgres_url, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["copied"], report["count"], report["destination"]) == (1, 1, postgres_url.replace(postgres_server.password, "***"))
    refused = CliRunner().invoke(main, ["copy", source, source])
    assert refused.exit_code == 2
    assert "both the source and the destination" in refused.output
