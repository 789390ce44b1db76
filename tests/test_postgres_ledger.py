"""A ledger on PostgreSQL answers every command exactly as the same ledger on SQLite does.

The corpus is ingested into SQLite, copied to PostgreSQL (so both hold the
same events recorded at the same times), and every command's JSON is compared,
with each backend's own read model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO, make_event
from ledger.cli import main
from ledger.store import open_store

QUESTIONS = [
    ["log"],
    ["log", "--kind", "policy_change"],
    ["verify"],
    ["replay", "--as-of", "2024-06-01"],
    ["replay", "--as-of", "2024-06-01", "--known-at", "2024-05-29"],
    ["replay", "--as-of", "2024-09-01", "--recorded-before", "40"],
    ["audit", "us-weapons-strikes-inside-russia"],
    ["diff", "2024-05-20", "2024-06-01"],
    ["timeline"],
]


def ledger(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def both(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The corpus in a SQLite file and, copied, in a PostgreSQL database; the working directory is an analyst's own folder."""
    sqlite_db = str(tmp_path / "ledger.db")
    ledger("ingest", str(REPO / "events"), "--db", sqlite_db)
    ledger("copy", sqlite_db, postgres_url)
    analyst = tmp_path / "analyst"
    analyst.mkdir()
    monkeypatch.chdir(analyst)
    monkeypatch.delenv("LEDGER_VIEW_DB", raising=False)
    return sqlite_db, postgres_url


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda question: " ".join(question))
def test_every_answer_from_postgresql_is_the_answer_from_sqlite(both: tuple[str, str], question: list[str]) -> None:
    sqlite_db, postgres_url = both
    ledger("project", "--db", postgres_url)
    assert json.loads(ledger(*question, "--db", postgres_url)) == json.loads(ledger(*question, "--db", sqlite_db))


def test_show_gives_the_same_event_with_the_same_position_and_time(both: tuple[str, str]) -> None:
    sqlite_db, postgres_url = both
    for event in json.loads(ledger("log", "--db", sqlite_db))[:5]:
        event_id = event["id"]
        assert ledger("show", event_id, "--db", postgres_url) == ledger("show", event_id, "--db", sqlite_db)


def test_the_read_model_of_a_postgresql_ledger_is_a_local_file_caught_up_incrementally(both: tuple[str, str], tmp_path: Path) -> None:
    _, postgres_url = both
    first = json.loads(ledger("project", "--db", postgres_url))
    assert Path("ledger.view.db").is_file()  # in the working directory, not beside the (remote) store
    assert json.loads(ledger("project", "--db", postgres_url))["events"] == 0
    with open_store(postgres_url) as store:
        store.append([make_event("one-more-statement")])
    assert json.loads(ledger("project", "--db", postgres_url))["events"] == 1
    assert first["events"] > 80


def answer(result: object) -> object:
    """A result as its documented JSON (pydantic models), else its fields."""
    dump = getattr(result, "model_dump", None)
    return dump(mode="json") if dump else vars(result)


def test_the_ledger_api_gives_the_same_answers_on_both_backends(both: tuple[str, str]) -> None:
    from ledger import Ledger

    sqlite_db, postgres_url = both
    questions = [
        lambda ledger: ledger.replay(as_of="2024-06-01"),
        lambda ledger: ledger.replay(as_of="2024-06-01", known_at="2024-05-29"),
        lambda ledger: ledger.replay(as_of="2024-09-01", recorded_before=40),
        lambda ledger: ledger.audit("us-weapons-strikes-inside-russia"),
        lambda ledger: ledger.audit("us-weapons-strikes-inside-russia", as_of="2024-06-01", known_at="2024-05-29"),
        lambda ledger: ledger.diff("2024-05-20", "2024-06-01"),
        lambda ledger: ledger.timeline(),
        lambda ledger: ledger.show("us-rules-out-intel-sharing-for-kursk"),
        lambda ledger: ledger.verify(),
    ]
    with Ledger(sqlite_db) as on_sqlite, Ledger(postgres_url) as on_postgres:
        on_postgres.project()
        for question in questions:
            assert answer(question(on_postgres)) == answer(question(on_sqlite))


def test_ingest_into_a_postgresql_ledger_does_not_print_the_password(postgres_server, postgres_url: str) -> None:
    result = CliRunner().invoke(main, ["ingest", str(REPO / "events"), "--db", postgres_url, "--no-project"])
    assert result.exit_code == 0, result.output
    assert "appended" in result.output
    assert postgres_server.password not in result.output
