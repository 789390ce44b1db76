"""The command line over the store: ingest, log, show, verify, schema."""

import json
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import make_event, write_events
from ledger.cli import main
from ledger.store import codec_of


@pytest.fixture
def run(db):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [*map(str, args)], env={"LEDGER_DB": db}, catch_exceptions=False)

    return invoke


@pytest.fixture
def filled(run, ledger_dir):
    write_events(
        ledger_dir / "2024" / "05" / "events.yaml",
        [
            make_event("ukraine-asks", "request", occurred="2024-05-10", reported="2024-05-20", summary="Kyiv asked."),
            make_event(
                "biden-decides",
                "policy_change",
                occurred="2024-05-15~",
                summary="Biden agreed.",
                links={"in_response_to": ["ukraine-asks"]},
            ),
            make_event("kirby-says-no-change", occurred="2024-08-20"),
        ],
    )
    result = run("ingest", ledger_dir, "--no-project")
    assert result.exit_code == 0, result.output
    return ledger_dir


def test_ingest_reports_what_it_appended_and_a_rerun_appends_nothing(run, filled):
    assert "appended 0 event(s), skipped 3" in run("ingest", filled, "--no-project").output
    data = json.loads(run("ingest", filled, "--no-project", "--format", "json").output)
    assert data["appended"] == 0 and data["skipped"] == 3


def test_ingest_errors_name_file_id_and_field_and_exit_2(run, ledger_dir):
    bad = write_events(ledger_dir / "bad.yaml", make_event("broken-date", occurred="2024-02-30"))
    result = run("ingest", ledger_dir)
    assert result.exit_code == 2
    assert f"error: {bad}: broken-date: occurred:" in result.output
    assert "Traceback" not in result.output


def test_log_filters_by_kind_actor_dates_and_text(run, filled):
    def ids(*args):
        result = run("log", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [event["id"] for event in json.loads(result.output)]

    assert ids() == ["ukraine-asks", "biden-decides", "kirby-says-no-change"]
    assert ids("--kind", "request") == ["ukraine-asks"]
    assert ids("--actor", "biden") == ["biden-decides"]
    assert ids("--from", "2024-05-16", "--to", "2024-05-31") == ["biden-decides"]  # 05-15~ may be as late as 05-18
    assert ids("--text", "GUIDANCE") == ["kirby-says-no-change"]
    assert "kirby-says-no-change" in run("log").output


def test_log_with_a_bad_date_is_a_clear_error(run, filled):
    result = run("log", "--from", "yesterday-ish")
    assert result.exit_code == 2 and "not an EDTF date" in result.output


def test_show_gives_the_whole_event_with_sources(run, filled):
    data = json.loads(run("show", "biden-decides", "--format", "json").output)
    assert data["restriction"]["status"] == "conditional"
    assert data["sources"][0]["outlet"] == "The Example Post"
    assert data["occurred_bounds"] == {
        "text": "2024-05-15~",
        "earliest": "2024-05-12",
        "latest": "2024-05-18",
        "precision": "day",
        "approximate": True,
        "uncertain": False,
    }
    assert data["recorded"]["position"] == 2
    table = run("show", "biden-decides").output
    assert "The Example Post" in table and "in_response_to" in table


def test_show_an_unknown_id_exits_2(run, filled):
    result = run("show", "no-such-event")
    assert result.exit_code == 2 and "no event with id 'no-such-event'" in result.output


def test_reading_without_a_database_says_how_to_make_one(run):
    result = run("log")
    assert result.exit_code == 2 and "ledger ingest" in result.output


def test_verify_ok_then_mismatch_after_tampering(run, filled, db):
    result = run("verify")
    assert result.exit_code == 0 and result.output.startswith("ok, 3 events, head ")
    with sqlite3.connect(db) as raw:  # edit the event as someone with the file could: decode, change, re-encode
        codec = codec_of(raw)
        (state,) = raw.execute("SELECT state FROM stored_events WHERE rowid = 2").fetchone()
        dictionary_id, recorded_us = codec.header(state)
        forged = codec.encode(codec.canonical(state).replace(b"Example", b"Exemplary"), recorded_us, dictionary_id)
        raw.execute("DROP TRIGGER stored_events_no_update")
        raw.execute("UPDATE stored_events SET state = ? WHERE rowid = 2", (forged,))
    result = run("verify")
    assert result.exit_code == 1 and "mismatch at position 2" in result.output


def test_schema_is_written_as_json(run, tmp_path):
    schema = json.loads(run("schema").output)
    assert "Event" in schema["$defs"]
    target = tmp_path / "event.schema.json"
    assert run("schema", "-o", target).exit_code == 0
    assert json.loads(target.read_text()) == schema


def test_python_dash_m_ledger_works():
    result = subprocess.run([sys.executable, "-m", "ledger", "--help"], capture_output=True, text=True, check=True)
    assert "decision ledger" in result.stdout
