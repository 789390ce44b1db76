"""The paths every user takes: a fresh clone's first command, and `ledger ingest events` then anything,
with every command in every format it offers. No traceback on either path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from ledger.cli import main

ASKS = {
    "replay": (["replay", "--as-of", "2024-06-01"], ("table", "json", "markdown")),
    "replay-known": (["replay", "--as-of", "2024-05-31", "--known-at", "2024-05-29"], ("table", "json", "markdown")),
    "replay-recorded": (["replay", "--as-of", "2024-06-01", "--recorded-before", "40"], ("table", "json", "markdown")),
    "audit": (["audit", "us-weapons-strikes-inside-russia", "--as-of", "2024-08-20"], ("table", "json", "markdown")),
    "diff": (["diff", "2024-05-20", "2024-06-01"], ("table", "json", "markdown")),
    "diff-known": (
        ["diff", "--as-of", "2024-05-31", "--known-at", "2024-05-29", "--vs-known-at", "2024-06-05"],
        ("table", "json", "markdown"),
    ),
    "timeline": (["timeline"], ("table", "json", "markdown")),
    "timeline-entity": (["timeline", "kursk-incursion-zone"], ("table", "json", "markdown")),
    "log": (["log", "--kind", "policy_change"], ("table", "json")),
    "show": (["show", "biden-agrees-counter-fire-shift"], ("table", "json")),
    "verify": (["verify"], ("table", "json")),
    "project": (["project"], ("table", "json")),
}
CASES = [(name, fmt) for name, (_, formats) in ASKS.items() for fmt in formats]


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory of a fresh clone: the corpus in ./events, no ledger yet."""
    shutil.copytree(REPO / "events", tmp_path / "events")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEDGER_DB", raising=False)
    monkeypatch.delenv("LEDGER_VIEW_DB", raising=False)
    return tmp_path


def ask(args: list[str], fmt: str) -> str:
    result = CliRunner().invoke(main, [*args, "--format", fmt])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    if fmt == "json":
        json.loads(result.stdout)
    return result.stdout


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ingested")
    shutil.copytree(REPO / "events", folder / "events")
    return folder


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{name}-{fmt}" for name, fmt in CASES])
def test_after_ingest_every_command_answers_in_every_format(name, fmt, ingested, monkeypatch):
    monkeypatch.chdir(ingested)
    if not (ingested / "ledger.db").exists():
        assert CliRunner().invoke(main, ["ingest", "events"]).exit_code == 0
    assert (ingested / "ledger.view.db").exists()  # the read model answers from here on
    assert ask(ASKS[name][0], fmt).strip()


@pytest.mark.parametrize("name", list(ASKS))
def test_a_fresh_clones_first_command_builds_the_ledger_and_answers(name, clone):
    args, formats = ASKS[name]
    result = CliRunner().invoke(main, [*args, "--format", formats[-1]])
    assert result.exit_code == 0, result.output
    assert "building it from ./events" in result.stderr and (clone / "ledger.db").exists()


@pytest.mark.parametrize("name", ["replay", "audit", "diff", "timeline", "log", "show", "verify", "project"])
def test_a_read_command_given_a_db_that_does_not_exist_says_so(name, clone):
    result = CliRunner().invoke(main, [*ASKS[name][0], "--db", "elsewhere.db"])
    assert result.exit_code == 2
    assert "no ledger at elsewhere.db: run ledger ingest, or check --db" in result.output
    assert not (clone / "elsewhere.db").exists() and not (clone / "ledger.db").exists()


def test_the_fold_and_the_read_model_print_the_same_json_on_the_corpus(clone):
    assert CliRunner().invoke(main, ["ingest", "events", "--no-project"]).exit_code == 0
    folded = {name: ask(ASKS[name][0], "json") for name in ("replay", "replay-known", "diff", "timeline")}
    assert CliRunner().invoke(main, ["project"]).exit_code == 0
    for name, expected in folded.items():
        assert ask(ASKS[name][0], "json") == expected, name


def test_show_says_when_an_event_is_amended_and_names_the_correction(ingested, monkeypatch):
    monkeypatch.chdir(ingested)
    if not (ingested / "ledger.db").exists():
        assert CliRunner().invoke(main, ["ingest", "events"]).exit_code == 0
    shown = json.loads(ask(["show", "ukraine-launches-kursk-incursion"], "json"))
    assert shown["correction_status"]["status"] == "amended"
    assert shown["correction_status"]["amended_by"] == ["fix-kursk-incursion-public-as-it-began"]
    assert "AMENDED by fix-kursk-incursion-public-as-it-began" in ask(["show", "ukraine-launches-kursk-incursion"], "table")
    assert json.loads(ask(["show", "biden-agrees-counter-fire-shift"], "json"))["correction_status"]["status"] == "as_recorded"
