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
        assert "recorded_through" in answered  # came from the read model
        assert {k: answered[k] for k in CONTRACT} == {k: expected[k] for k in CONTRACT}
    answered = replay(db, "--as-of", "2024-05-31", "--known-at", "2024-05-29")
    assert {k: answered[k] for k in CONTRACT} == {k: known[k] for k in CONTRACT}
