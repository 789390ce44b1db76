"""`ledger replay` answers from the read model when it has caught up, and from the store's fold otherwise."""

import json
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import main
from ledger.readmodel.query import current_view

EVENTS = Path(__file__).resolve().parents[1] / "events"
CONTRACT = ("restrictions", "aid_packages", "positions", "territory")


def replay(db, *args):
    result = CliRunner().invoke(main, ["replay", "--db", db, "--format", "json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_replay_reads_the_read_model_only_when_it_is_current_and_both_agree(tmp_path):
    db = str(tmp_path / "ledger.db")
    assert CliRunner().invoke(main, ["ingest", str(EVENTS), "--db", db, "--no-project"]).exit_code == 0
    assert current_view(db) is None  # no read model yet: the fold answers
    folded = {date: replay(db, "--as-of", date) for date in ("2024-05-20", "2024-06-01", "2024-08-25")}
    known = replay(db, "--as-of", "2024-05-31", "--known-at", "2024-05-29")

    assert CliRunner().invoke(main, ["project", "--db", db]).exit_code == 0
    assert current_view(db) == str(tmp_path / "ledger.view.db")
    for date, expected in folded.items():
        answered = replay(db, "--as-of", date)
        assert answered["recorded_through"] == answered["event_count"] == len(list(EVENTS.rglob("2*.yaml")))
        assert {k: answered[k] for k in CONTRACT} == {k: expected[k] for k in CONTRACT}
    answered = replay(db, "--as-of", "2024-05-31", "--known-at", "2024-05-29")
    assert {k: answered[k] for k in CONTRACT} == {k: known[k] for k in CONTRACT}


def test_a_read_model_that_is_behind_is_caught_up_before_it_answers(tmp_path, ledger_dir):
    from conftest import make_event, write_events

    db = str(tmp_path / "ledger.db")
    write_events(ledger_dir / "a.yaml", make_event("ban", "policy_change", restriction={"id": "r-1", "status": "prohibited"}))
    assert CliRunner().invoke(main, ["ingest", str(ledger_dir), "--db", db]).exit_code == 0
    write_events(
        ledger_dir / "b.yaml",
        make_event(
            "lifted", "policy_change", occurred="2024-06-01", reported="2024-06-01", restriction={"id": "r-1", "status": "permitted"}
        ),
    )
    assert CliRunner().invoke(main, ["ingest", str(ledger_dir), "--db", db, "--no-project"]).exit_code == 0
    assert current_view(db) is None  # behind by one event
    answered = replay(db, "--as-of", "2024-06-02")
    assert "recorded_through" in answered and answered["restrictions"][0]["status"] == "permitted"
    assert current_view(db) is not None
    earlier = replay(db, "--as-of", "2024-06-02", "--recorded-before", "2")
    assert earlier["restrictions"][0]["status"] == "prohibited"
