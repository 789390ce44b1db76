"""Whatever the validator accepts can be projected: on top of the corpus, every command answers.

For any event (or short batch) that ``ledger ingest`` accepts, ``project``,
``replay``, ``audit``, ``diff`` and ``timeline`` answer without an exception:
an event that passes validation can never break the ledger for good, since it
can never be removed. A modest sample runs by default; the stress run takes more.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from helpers import hostile_events
from ledger.cli import main
from ledger.dates import LAST_DAY, parse_edtf

SAMPLE = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("accepted-corpus")
    db = folder / "ledger.db"
    result = CliRunner().invoke(main, ["ingest", str(REPO / "events"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


def invoke(db: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, [*args, "--db", str(db)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"ledger {' '.join(args)} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output
    return result


def entity_of(event: dict[str, Any]) -> str:
    """The entity an audit of this event's story names (a corpus one for kinds without their own)."""
    kind = event["kind"]
    if kind == "policy_change":
        return event["restriction"]["id"]
    if kind == "aid_package":
        return event["package"]
    if kind == "battlefield" and event.get("territory"):
        return event["territory"]["area"]
    return "us-weapons-strikes-inside-russia"


def days_of(event: dict[str, Any]) -> list[str]:
    """Query dates at the edges of the event's own dates, clamped to the calendar the queries accept."""
    try:
        span = parse_edtf(str(event.get("occurred", "")))
    except ValueError:
        return ["2024-06-01"]
    days = {min(max(day, parse_edtf("1000-01-01").earliest), LAST_DAY).isoformat() for day in (span.earliest, span.latest)}
    return sorted(days | {"2024-06-01"})


def check_commands(db: Path, batch: list[dict[str, Any]], folder: Path, tally: Counter) -> None:
    tally["cases"] += 1
    path = folder / "batch.json"
    path.write_text(json.dumps(batch))
    result = invoke(db, "ingest", str(path))
    if result.exit_code != 0:
        assert result.exit_code == 2 and "error: " in result.output, result.output
        tally["refused"] += 1
        return
    tally["accepted"] += 1
    for event in batch:
        days = days_of(event)
        assert invoke(db, "project").exit_code == 0
        assert invoke(db, "project", "--rebuild").exit_code == 0
        for day in days:
            assert invoke(db, "replay", "--as-of", day, "--format", "json").exit_code == 0
            assert invoke(db, "replay", "--as-of", day, "--known-at", event["reported"], "--format", "json").exit_code == 0
        assert invoke(db, "diff", days[0], days[-1], "--format", "json").exit_code == 0
        assert invoke(db, "timeline", "--format", "json").exit_code == 0
        assert invoke(db, "timeline", entity_of(event), "--format", "json").exit_code in (0, 2)
        audit = invoke(db, "audit", entity_of(event), "--format", "json")
        assert audit.exit_code in (0, 2), audit.output  # 2: an entity the ledger does not know (retracted, say), said in one line
        assert invoke(db, "verify").exit_code == 0


batches = st.lists(st.integers(0, 10**6).flatmap(hostile_events), min_size=1, max_size=3)


@SAMPLE
@given(batch=batches)
def test_every_command_answers_after_any_accepted_batch(corpus_db: Path, tmp_path: Path, batch: list[dict[str, Any]]) -> None:
    db = tmp_path / "ledger.db"
    for built in corpus_db.parent.glob("ledger*"):
        shutil.copy(built, tmp_path / built.name)
    check_commands(db, batch, tmp_path, Counter())


@pytest.mark.stress
def test_stress_every_command_answers_after_accepted_batches(corpus_db: Path, tmp_path: Path) -> None:
    """Batches pile up on one ledger, so later ones meet earlier generated events too."""
    for built in corpus_db.parent.glob("ledger*"):
        shutil.copy(built, tmp_path / built.name)
    db, tally = tmp_path / "ledger.db", Counter()

    @settings(SAMPLE, max_examples=60)
    @given(batch=batches)
    def run(batch: list[dict[str, Any]]) -> None:
        check_commands(db, batch, tmp_path, tally)

    run()
    print(
        f"STRESS accepted events through every command: cases={tally['cases']}, accepted={tally['accepted']}, refused={tally['refused']}, tracebacks=0"
    )
    assert tally["accepted"] > 0
