"""The commands as a person reads them in a terminal of 80 columns: no id or status folded, a line per
timeline event, colours only on a terminal, actors' names beside their ids; CSV and TSV for files;
shell completion of event and entity ids."""

from __future__ import annotations

import csv
import importlib
import io
import json
import re

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner
from rich.console import Console

from helpers import corpus_store
from ledger.cli import COMMANDS as COMMAND_MODULES
from ledger.cli import main, output

ANSI = re.compile(r"\x1b\[[0-9;]*m")

for module in sorted(set(COMMAND_MODULES.values())):  # loaded now, so no command keeps a console patched in below
    importlib.import_module(f"ledger.cli.{module}")


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("terminal") / "ledger.db")
    corpus_store(db)
    return db


def run(db, *args, terminal_width=None, monkeypatch=None):
    if terminal_width:
        monkeypatch.setattr(output, "console", lambda: Console(width=terminal_width, force_terminal=True, color_system="standard"))
    result = CliRunner().invoke(main, [*args, "--db", db])
    assert result.exit_code == 0, result.output
    return result.output


def json_of(db, *args):
    return json.loads(run(db, *args, "--format", "json"))


def not_whole(text: str, words: set[str]) -> list[str]:
    """The words no line of ``text`` holds whole."""
    lines = [ANSI.sub("", line) for line in text.splitlines()]
    return sorted(word for word in words if not any(word in line for line in lines))


COMMANDS = [
    ("replay", "--as-of", "2024-06-01"),
    ("replay", "--as-of", "2024-08-25", "--known-at", "2024-05-31"),
    ("audit", "us-weapons-strikes-inside-russia"),
    ("diff", "2024-05-20", "2024-06-01"),
    ("timeline",),
    ("log", "--kind", "policy_change"),
]


PROJECTIONS = ("restrictions", "aid_packages", "positions", "territory")


def shown_words(command: str, found) -> set[str]:
    """The ids, statuses and stances a command's table must show whole, from its JSON answer."""
    if command == "replay":
        states = [state for name in PROJECTIONS for state in found.get(name) or []]
        words = {state["id"] for state in states if ":" not in state["id"]}
        return words | {state.get("status") or state.get("stance") for state in states} - {None}
    if command == "audit":
        return {step["event"] for step in found["steps"]}
    if command == "diff":
        changes = [found[name] for name in PROJECTIONS if found.get(name)]
        return {item["id"] for change in changes for part in change.values() for item in part if ":" not in item["id"]}
    rows = found["events"] if command == "timeline" else found
    return {row["id"] for row in rows}


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args))
def test_at_80_columns_no_id_status_or_date_is_folded(corpus_db, monkeypatch, args):
    text = run(corpus_db, *args, terminal_width=80, monkeypatch=monkeypatch)
    words = shown_words(args[0], json_of(corpus_db, *args))
    assert len(words) > 3
    assert not_whole(text, words) == []
    assert max(len(ANSI.sub("", line)) for line in text.splitlines()) <= 80


def test_the_timeline_is_one_line_per_event_at_80_and_100_columns(corpus_db, monkeypatch):
    events = json_of(corpus_db, "timeline")["events"]
    for width in (80, 100):
        text = ANSI.sub("", run(corpus_db, "timeline", terminal_width=width, monkeypatch=monkeypatch))
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) == len(events) + 3  # heading, count, column names
        assert all(any(event["id"] in line for line in lines) for event in events)


def test_statuses_and_stances_are_coloured_on_a_terminal_and_not_when_piped(corpus_db, monkeypatch):
    coloured = run(corpus_db, "replay", "--as-of", "2024-06-01", terminal_width=100, monkeypatch=monkeypatch)
    assert re.search(r"\x1b\[[0-9;]*mconditional", coloured) and re.search(r"\x1b\[[0-9;]*msupports", coloured)
    monkeypatch.undo()
    assert "\x1b[" not in run(corpus_db, "replay", "--as-of", "2024-06-01")


def test_positions_show_the_actors_name_beside_the_id(corpus_db):
    text = run(corpus_db, "replay", "--as-of", "2024-06-01", "--only", "positions")
    assert "biden (Joe Biden)" in text
    assert "biden (Joe Biden)" in run(corpus_db, "show", "biden-agrees-counter-fire-shift")


@pytest.mark.parametrize("fmt, delimiter", [("csv", ","), ("tsv", "\t")])
def test_tables_come_as_csv_and_tsv(corpus_db, fmt, delimiter):
    restrictions = json_of(corpus_db, "replay", "--as-of", "2024-06-01", "--only", "restrictions")["restrictions"]
    rows = list(
        csv.reader(
            io.StringIO(run(corpus_db, "replay", "--as-of", "2024-06-01", "--only", "restrictions", "--format", fmt)), delimiter=delimiter
        )
    )
    assert rows[0][:3] == ["restriction", "status", "since"]
    assert [(row[0], row[1]) for row in rows[1:]] == [(state["id"], state["status"]) for state in restrictions]
    events = json_of(corpus_db, "timeline")["events"]
    timeline = list(csv.reader(io.StringIO(run(corpus_db, "timeline", "--format", fmt)), delimiter=delimiter))
    assert [row[3] for row in timeline[1:]] == [event["id"] for event in events]
    logged = list(csv.reader(io.StringIO(run(corpus_db, "log", "--kind", "request", "--format", fmt)), delimiter=delimiter))
    assert logged[0] == ["occurred", "kind", "id", "summary"] and all(row[1] == "request" for row in logged[1:])


def completions(db, args, incomplete):
    found = ShellComplete(main, {}, "ledger", "_LEDGER_COMPLETE").get_completions([*args, "--db", db], incomplete)
    return [item.value for item in found]


def test_the_shell_completes_event_and_entity_ids(corpus_db):
    assert "biden-agrees-counter-fire-shift" in completions(corpus_db, ["show"], "biden-a")
    assert completions(corpus_db, ["audit"], "us-weapons-s") == ["us-weapons-strikes-inside-russia"]
    assert "kursk-incursion-zone" in completions(corpus_db, ["timeline"], "kursk")
    assert "biden:us-troops-in-ukraine" in completions(corpus_db, ["chart", "-o", "x.svg"], "biden:")
