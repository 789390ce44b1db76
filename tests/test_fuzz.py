"""Fuzzing dates, file loading and event files: every input is answered or refused cleanly, never with a traceback.

The default suite runs a small sample; ``python -m pytest -m stress -s`` runs at
least 10,000 cases of each and prints a tally (cases, tracebacks, partial
appends, losses) for docs/robustness.md.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from helpers import date_texts, day_values, hostile_events
from ledger.cli import main
from ledger.dates import DateError, parse_day, parse_edtf, parse_iso_day, recordable_span
from ledger.loading import LoadError, load_file
from ledger.store import read_head

SAMPLE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
STRESS = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
EVENT_SAMPLE = settings(SAMPLE, max_examples=15)
YAML_ALPHABET = "abc019-:[]{},&*!|>'\"#%@`?~ \n\t"


def tally_line(name: str, tally: Counter) -> str:
    fields = ("cases", "accepted", "refused", "tracebacks", "partial_appends", "losses")
    return f"STRESS {name}: " + ", ".join(f"{field}={tally[field]}" for field in fields)


# --- dates ------------------------------------------------------------------------------------


def check_date_text(text: str, tally: Counter) -> None:
    tally["cases"] += 1
    for parse in (parse_edtf, recordable_span, parse_day):
        try:
            span = parse(text)
        except DateError:
            tally["refused"] += 1
            continue
        tally["accepted"] += 1
        if parse is recordable_span:
            assert span.earliest <= span.latest  # type: ignore[union-attr]  # parse is a span parser here


def check_day_value(value: Any, tally: Counter) -> None:
    tally["cases"] += 1
    try:
        parse_iso_day(value)
        tally["accepted"] += 1
    except DateError:
        tally["refused"] += 1


date_inputs = st.one_of(date_texts(), st.text(max_size=40))


@SAMPLE
@given(text=date_inputs, value=day_values())
def test_any_date_text_parses_or_is_refused_with_a_date_error(text: str, value: Any) -> None:
    tally: Counter = Counter()
    check_date_text(text, tally)
    check_day_value(value, tally)


@pytest.mark.stress
def test_stress_dates() -> None:
    tally: Counter = Counter()

    @STRESS
    @given(text=date_inputs, value=day_values())
    def run(text: str, value: Any) -> None:
        check_date_text(text, tally)
        check_day_value(value, tally)

    run()
    print(tally_line("dates", tally))
    assert tally["cases"] >= 10_000


# --- loading files ----------------------------------------------------------------------------

file_contents = st.one_of(
    st.binary(max_size=300),
    st.text(YAML_ALPHABET, max_size=300).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=20).map(
        lambda value: json.dumps(value).encode()
    ),
    st.integers(1, 200_000).map(lambda depth: ("[" * depth + "]" * depth).encode()),
    st.integers(1, 30).map(lambda n: "\n".join(["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, n)]).encode()),
)  # fmt: skip


def check_file(folder: Path, suffix: str, content: bytes, tally: Counter) -> None:
    tally["cases"] += 1
    path = folder / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        load_file(path)
        tally["accepted"] += 1
    except LoadError as error:
        assert "\n" not in str(error)
        tally["refused"] += 1


suffixes = st.sampled_from([".yaml", ".json", ".jsonl"])


@SAMPLE
@given(suffix=suffixes, content=file_contents)
def test_any_file_loads_or_is_refused_with_a_one_line_load_error(tmp_path: Path, suffix: str, content: bytes) -> None:
    check_file(tmp_path, suffix, content, Counter())


@pytest.mark.stress
def test_stress_loading(tmp_path: Path) -> None:
    tally: Counter = Counter()

    @STRESS
    @given(suffix=suffixes, content=file_contents)
    def run(suffix: str, content: bytes) -> None:
        check_file(tmp_path, suffix, content, tally)

    run()
    print(tally_line("loading", tally))
    assert tally["cases"] >= 10_000


# --- event files through `ledger ingest` --------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-corpus")
    db = folder / "ledger.db"
    result = CliRunner().invoke(main, ["ingest", str(REPO / "events"), "--db", str(db), "--no-project"])
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def ledger_copy(corpus_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "ledger.db"
    shutil.copy(corpus_db, db)
    return db


def event_files() -> st.SearchStrategy[tuple[str, bytes]]:
    events = st.lists(st.integers(0, 10**6).flatmap(hostile_events), min_size=1, max_size=3)
    return st.tuples(st.sampled_from([".yaml", ".json"]), events).map(
        lambda pair: (pair[0], (yaml.safe_dump(pair[1], allow_unicode=True) if pair[0] == ".yaml" else json.dumps(pair[1])).encode())
    )


def ingest_checked(db: Path, folder: Path, suffix: str, content: bytes, tally: Counter) -> None:
    """Ingest one file; a refusal must be clean, appending nothing; an acceptance must append exactly what it reports."""
    tally["cases"] += 1
    path = folder / f"batch{suffix}"
    path.write_bytes(content)
    before = read_head(db)
    result = CliRunner().invoke(main, ["ingest", str(path), "--db", str(db), "--no-project", "--format", "json"])
    after = read_head(db)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tally["tracebacks"] += 1
        raise result.exception
    appended = after.position - before.position if after and before else 0
    if result.exit_code == 2:
        tally["refused"] += 1
        tally["partial_appends"] += appended != 0
        assert appended == 0, "a refused batch appended events"
        assert all(line.startswith(("error: ", "warning: ", "ingest: ")) or not line.strip() for line in result.output.splitlines()), (
            result.output
        )
        assert "\x1b" not in result.output and max(map(len, result.output.splitlines() or [""])) < 2_000
        return
    assert result.exit_code == 0, result.output
    tally["accepted"] += 1
    reported = json.loads(result.stdout)["appended"]
    tally["losses"] += appended != reported
    assert appended == reported, f"reported {reported} appended, the store grew by {appended}"


@EVENT_SAMPLE
@given(file=event_files())
def test_any_event_file_is_appended_whole_or_refused_in_clean_lines(ledger_copy: Path, tmp_path: Path, file: tuple[str, bytes]) -> None:
    ingest_checked(ledger_copy, tmp_path, *file, Counter())


def stress_events(db: Path, folder: Path, cases: int, check: Callable[..., None]) -> Counter:
    tally: Counter = Counter()

    @settings(STRESS, max_examples=cases)
    @given(file=event_files())
    def run(file: tuple[str, bytes]) -> None:
        check(db, folder, *file, tally)

    run()
    return tally


@pytest.mark.stress
def test_stress_event_files(ledger_copy: Path, tmp_path: Path) -> None:
    tally = stress_events(ledger_copy, tmp_path, 10_000, ingest_checked)
    print(tally_line("event files", tally))
    assert tally["cases"] >= 10_000 and tally["tracebacks"] == tally["partial_appends"] == tally["losses"] == 0
