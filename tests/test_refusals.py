"""Bad input is refused with one clean line per problem, and whatever is accepted can be projected.

Every case goes through the command line a user runs: ``ledger ingest`` exits 2
with ``FILE: ID: FIELD: REASON``, appends nothing, and the ledger answers as before.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import REPO, make_event
from ledger.cli import main
from ledger.dates import DateError, parse_edtf
from ledger.projections.base import number


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus, ingested once; tests work on copies."""
    folder = tmp_path_factory.mktemp("corpus")
    db = folder / "ledger.db"
    result = CliRunner().invoke(main, ["ingest", str(REPO / "events"), "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def cli(corpus_db: Path, tmp_path: Path):
    """Run ``ledger`` on a copy of the corpus ledger; returns (exit code, output)."""
    for built in corpus_db.parent.glob("ledger*"):
        shutil.copy(built, tmp_path / built.name)
    db = tmp_path / "ledger.db"

    def run(*args: object) -> tuple[int, str]:
        result = CliRunner().invoke(main, [*map(str, args), "--db", str(db)])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        return result.exit_code, result.output

    return run


def recorded(cli) -> int:
    code, output = cli("log", "--format", "json")
    assert code == 0, output
    return len(json.loads(output))


def corpus_event(kind: str) -> dict:
    """A valid event of ``kind`` naming only actors and documents the corpus registers."""
    source = {"url": "https://example.org/a", "outlet": "Example", "published": "2024-06-01", "attribution": "journalist"}
    event = make_event(f"new-{kind.replace('_', '-')}", kind, actors=["us"], sources=[source])
    if kind == "statement":
        event.update(speaker="biden", position=None)
        del event["position"]
    elif kind == "policy_change":
        event["restriction"].update(issuer="us", restricted="ukraine")
    return event


def refused(cli, path: Path, *expected: str) -> str:
    before = recorded(cli)
    code, output = cli("ingest", path)
    assert code == 2, output
    assert "Traceback" not in output and all(text in output for text in expected), output
    assert recorded(cli) == before
    return output


RAW_BAD_FILES = {
    "unquoted impossible occurred": ("occurred: 2024-13-45", "occurred"),
    "unquoted impossible reported": ("reported: 2024-02-30", "reported: '2024-02-30' is not a calendar date"),
    "reported read as a timestamp": ("reported: '0'", "reported: '0' is not a date"),
    "approximate year at the calendar's end": ("occurred: '9999~'", "occurred"),
    "approximate day at the calendar's start": ("occurred: '0001-01-01~'", "occurred"),
    "one-of range with no ends": ("occurred: '[..]'", "neither a start nor an end"),
    "one-of range ending before it starts": ("occurred: '[2024-05-01..2024-04-01]'", "ends before it starts"),
    "interval ending before it starts": ("occurred: 2024-05-01/2024-04-01", "ends before it starts"),
}


@pytest.mark.parametrize("line, expected", RAW_BAD_FILES.values(), ids=list(RAW_BAD_FILES))
def test_bad_dates_are_refused_in_one_line_and_nothing_is_appended(cli, tmp_path: Path, line: str, expected: str) -> None:
    event = corpus_event("statement")
    text = yaml.safe_dump(event, sort_keys=False)
    field = line.split(":")[0]
    text = "\n".join(line if row.startswith(f"{field}:") else row for row in text.splitlines()) + "\n"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    refused(cli, path, f"{path}: new-statement: {field}:", expected)


def test_an_amount_beyond_any_budget_is_refused(cli, tmp_path: Path) -> None:
    event = corpus_event("aid_package") | {"value": {"amount": "1e999999999"}}
    path = tmp_path / "aid.yaml"
    path.write_text(yaml.safe_dump(event))
    refused(cli, path, "new-aid-package: value.amount: Input should be less than or equal to")


@pytest.mark.parametrize(
    "amended, expected",
    [
        ({"occurred": "0001-01-01~"}, "occurred: '0001-01-01~' is approximate"),
        ({"value": {"amount": "1e999999999"}}, "value: amount: Input should be less than or equal to"),
        ({"reported": "0"}, "reported: '0' is not a date"),
        ({"no_such_field": 1}, "no_such_field: not a field of any kind of event"),
    ],
)
def test_what_a_correction_amends_is_held_to_the_same_bounds(cli, tmp_path: Path, amended: dict, expected: str) -> None:
    correction = corpus_event("correction") | {
        "corrects": "counter-fire-guidance-takes-effect",
        "action": "amend",
        "amended": amended,
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(correction))
    refused(cli, path, "new-correction: amended:", expected)


def test_an_id_with_terminal_controls_is_shown_escaped_and_a_huge_one_cut(cli, tmp_path: Path) -> None:
    event = corpus_event("statement") | {"id": "\x1b]0;owned\x07\x1b[2J" + "x" * 10_000_000}
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(event))
    output = refused(cli, path, "\\x1b]0;owned\\x07\\x1b[2J")
    assert "\x1b" not in output and "\x07" not in output
    assert max(len(line) for line in output.splitlines()) < 2_000


def test_a_yaml_alias_bomb_inside_amended_is_refused_at_once(cli, tmp_path: Path) -> None:
    correction = corpus_event("correction") | {"corrects": "counter-fire-guidance-takes-effect", "action": "amend"}
    text = yaml.safe_dump(correction)
    bomb = ['  a0: &a0 ["xxxxxxxxxxxxxxxxxxxx"]'] + [
        f"  a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 40)
    ]
    path = tmp_path / "bomb.yaml"
    path.write_text(text + "amended:\n" + "\n".join(bomb) + "\n")
    refused(cli, path, f"{path}: cannot read the file: YAML aliases")


def test_json_nested_100000_deep_is_refused(cli, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    refused(cli, path, "nested more than")


def test_a_pipe_inside_an_ingested_folder_is_an_error_not_a_skip(cli, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "ok.yaml").write_text(yaml.safe_dump(corpus_event("statement")))
    os.mkfifo(folder / "stuck.yaml")
    refused(cli, folder, "stuck.yaml: cannot read the file: it is a pipe")


def test_a_chain_of_1200_corrections_each_correcting_the_one_before_replays(cli, tmp_path: Path) -> None:
    first = corpus_event("correction") | {
        "id": "fix-0000",
        "corrects": "counter-fire-guidance-takes-effect",
        "action": "amend",
        "amended": {"summary": "amended 0"},
    }
    chain = [first] + [
        first | {"id": f"fix-{n:04d}", "corrects": f"fix-{n - 1:04d}", "amended": {"summary": f"amended {n}"}} for n in range(1, 1200)
    ]
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(chain))
    code, output = cli("ingest", path)
    assert code == 0, output
    for command in (
        ["replay", "--as-of", "2024-06-01", "--format", "json"],
        ["audit", "us-weapons-strikes-inside-russia", "--format", "json"],
        ["timeline", "--format", "json"],
        ["diff", "2024-05-01", "2024-06-01", "--format", "json"],
    ):
        code, output = cli(*command)
        assert code == 0, (command, output[-2000:])


@pytest.mark.parametrize("text", ["9999~", "0001-01-01~", "9999-12~", "0001~", "[..]", "[2024-05-01..2024-04-01]", "0000-05", "0000-05~"])
def test_edge_dates_raise_only_date_errors(text: str) -> None:
    with pytest.raises(DateError):
        parse_edtf(text)


def test_query_dates_keep_the_whole_calendar() -> None:
    assert parse_edtf("9999-12-30").latest.year == 9999 and parse_edtf("0001-01-02").earliest.year == 1


@pytest.mark.parametrize("text, expected", [("1e999999999", float("inf")), ("1E-999999999", 0.0), ("1E+3", 1000), ("NaN", None)])
def test_amounts_render_without_building_huge_integers(text: str, expected: object) -> None:
    assert number(text) == expected


def test_a_registry_date_is_a_calendar_day_not_a_timestamp(cli, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "documents.yaml").write_text(yaml.safe_dump([{"id": "doc-new", "outlet": "Example", "published": "0"}]))
    refused(cli, folder, "documents.yaml: 0.published: '0' is not a date")


def test_a_moment_given_as_a_day_through_the_python_api_is_refused_not_raised(tmp_path: Path) -> None:
    from datetime import datetime

    from ledger.ingest import IngestError, ingest_dicts
    from ledger.store import open_store

    event = make_event(reported=datetime(2024, 5, 30, 10, 0))
    event["sources"][0]["document"] = None
    event["sources"][0]["url"] = "https://news.example/a"
    with open_store(str(tmp_path / "ledger.db")) as store:
        with pytest.raises(IngestError) as refused:
            ingest_dicts(store, [event])
        assert any(problem.field == "reported" and "is a moment, not a day" in problem.reason for problem in refused.value.problems), (
            refused.value.problems
        )
        assert store.count() == 0
