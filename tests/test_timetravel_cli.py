"""The time-travel commands: replay, audit, diff and timeline through the command line."""

import json

import pytest
import yaml
from click.testing import CliRunner

from conftest import ACTORS, write_events, write_registry
from helpers import PACKAGE_KEYS, POSITION_KEYS, REPLAY_KEYS, RESTRICTION_KEYS, TERRITORY_KEYS, story
from ledger.cli import main


@pytest.fixture
def corpus(tmp_path):
    folder = write_registry(tmp_path / "events")
    (folder / "actors.yaml").write_text(
        yaml.safe_dump([*ACTORS, {"id": "russia", "name": "Russia", "role": "state", "type": "government"}])
    )
    write_events(folder / "2024" / "story.yaml", story())
    return folder


@pytest.fixture
def run(corpus, db):
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(corpus), "--no-project", "--db", db]).exit_code == 0

    def invoke(*args):
        return runner.invoke(main, [*map(str, args)], env={"LEDGER_DB": db})

    return invoke


def json_of(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_replay_json_is_the_documented_contract(run):
    data = json_of(run("replay", "--as-of", "2024-08-20", "--format", "json"))
    assert set(data) >= REPLAY_KEYS
    for name, keys in [
        ("restrictions", RESTRICTION_KEYS),
        ("aid_packages", PACKAGE_KEYS),
        ("positions", POSITION_KEYS),
        ("territory", TERRITORY_KEYS),
    ]:
        assert data[name] and keys <= set(data[name][0]), name


def test_replay_prints_readable_tables_with_certainty(run):
    result = run("replay", "--as-of", "2024-05-28")
    assert result.exit_code == 0
    assert "us-strikes" in result.output and "conditional" in result.output and "possible" in result.output
    assert "As of 2024-05-28" in result.output


def test_replay_markdown_and_only(run):
    result = run("replay", "--as-of", "2024-08-20", "--only", "aid,territory", "--format", "markdown")
    assert result.exit_code == 0
    assert "## aid packages" in result.output and "| package |" in result.output and "up to 125,000,000 USD" in result.output
    assert "## restrictions" not in result.output


def test_replay_known_at_and_recorded_before(run):
    data = json_of(run("replay", "--as-of", "2024-05-31", "--known-at", "2024-05-29", "--recorded-before", "100", "--format", "json"))
    assert data["restrictions"][0]["status"] == "prohibited"
    assert data["known_at"] == "2024-05-29" and data["recorded_before"] == 100


@pytest.mark.parametrize(
    "args",
    [
        ["replay", "--as-of", "2024-02-30"],
        ["replay", "--as-of", "yesterday-ish"],
        ["replay", "--as-of", "2024-06-01", "--known-at", "2024-13-01"],
        ["replay", "--as-of", "2024-06-01", "--only", "weather"],
        ["audit", "us-strikes", "--as-of", "2024-02-30"],
        ["diff", "2024-05-01", "2024-02-30"],
    ],
)
def test_impossible_input_is_one_line_and_exit_2(run, args):
    result = run(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_an_unknown_entity_is_one_line_with_suggestions_and_exit_2(run):
    for command in ("audit", "timeline"):
        result = run(command, "us-strike")
        assert result.exit_code == 2 and "did you mean us-strikes" in result.output


def test_audit_json_and_table_and_markdown(run):
    data = json_of(run("audit", "us-strikes", "--as-of", "2024-06-10", "--format", "json"))
    assert {"entity", "steps"} <= set(data)
    assert {"event", "occurred", "kind", "summary", "sources", "state_after", "links"} <= set(data["steps"][0])
    table = run("audit", "us-strikes").output
    assert "biden-decides" in table and "kyiv-asks" in table
    notes = run("audit", "us-strikes", "--format", "markdown").output
    assert "# Audit of restrictions `us-strikes`" in notes and '"no change"' in notes


def test_diff_between_dates_and_between_knowledge(run):
    data = json_of(run("diff", "2024-05-20", "2024-06-10", "--format", "json"))
    assert data["restrictions"]["changed"][0]["after"]["status"] == "conditional"
    assert "changed" in run("diff", "2024-05-20", "2024-06-10").output
    known = json_of(run("diff", "--as-of", "2024-05-31", "--known-at", "2024-05-29", "--vs-known-at", "2024-05-30", "--format", "json"))
    assert known["restrictions"]["changed"][0]["before"]["status"] == "prohibited"


def test_diff_needs_two_dates_or_the_three_knowledge_options(run):
    assert run("diff", "2024-05-20").exit_code == 2
    assert run("diff", "--as-of", "2024-05-31", "--known-at", "2024-05-29").exit_code == 2


def test_timeline_one_line_per_event(run):
    result = run("timeline", "--format", "markdown")
    rows = [line for line in result.output.splitlines() if line.startswith("| ") and "occurred" not in line]
    assert result.exit_code == 0 and len(rows) == 7
    assert [row["id"] for row in json_of(run("timeline", "us-strikes", "--format", "json"))["events"]][0] == "standing-ban"


def test_help_teaches_with_examples():
    for command in ("replay", "audit", "diff", "timeline"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output and "ledger " + command in result.output


def test_replay_on_a_fresh_clone_builds_the_ledger_from_the_events_folder(corpus, monkeypatch):
    monkeypatch.chdir(corpus.parent)
    result = CliRunner().invoke(main, ["replay", "--as-of", "2024-06-01"], env={"LEDGER_DB": None})
    assert result.exit_code == 0, result.output
    assert "building it from ./events" in result.stderr
    assert "us-strikes" in result.stdout and (corpus.parent / "ledger.db").exists()
    again = CliRunner().invoke(main, ["replay", "--as-of", "2024-06-01"], env={"LEDGER_DB": None})
    assert "building" not in again.stderr
