"""An event given as JSON text (a JSON Lines line, a stream's item) is validated from its text in one step.

Whatever that way accepts must be recorded with the bytes the event gets when
its text is parsed first and the dict validated (numbers, duplicate keys,
strings read alike), and whatever it refuses must be refused with the problems
the loader and the validation name; these tests compare the two ways.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_event
from helpers import hostile_events
from ledger.ingest import CheckedChunk, ChunkTask, check_chunk
from ledger.loading import MAX_DEPTH, MAX_LINE_BYTES, IngestProblem, LoadError, parse_json_line

SAMPLE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def from_texts(texts: Sequence[str | bytes]) -> CheckedChunk:
    (chunk,) = check_chunk(ChunkTask("json", "stream", list(texts), whole=-1))
    return chunk


def parsed_first(texts: Sequence[str | bytes]) -> CheckedChunk:
    """What ingest gave before validating from text: each text parsed by the loader, then the dict validated."""
    items: list[Any] = []
    failed: dict[int, IngestProblem] = {}
    for index, text in enumerate(texts):
        try:
            items.append(parse_json_line(text))
        except LoadError as error:
            failed[index] = IngestProblem(f"stream[{index}]", None, None, str(error))
            items.append(None)
    (chunk,) = check_chunk(ChunkTask("items", "stream", [item for item in items if item is not None], whole=-1))
    # put the load problems back among the validation problems, in the order of the texts
    problems, kept = [], iter(chunk.problems)
    renumber = [index for index in range(len(texts)) if index not in failed]
    by_index: dict[int, list[IngestProblem]] = {}
    for problem in kept:
        index = renumber[int(problem.file.rsplit("[", 1)[1].rstrip("]"))]
        by_index.setdefault(index, []).append(IngestProblem(f"stream[{index}]", problem.event_id, problem.field, problem.reason))
    for index in range(len(texts)):
        problems.extend([failed[index]] if index in failed else by_index.get(index, []))
    chunk.problems = problems
    chunk.indexes = [renumber[k] for k in chunk.indexes]
    return chunk


def assert_same(texts: Sequence[str | bytes]) -> CheckedChunk:
    fast, slow = from_texts(texts), parsed_first(texts)
    assert fast.problems == slow.problems
    assert fast.canonical == slow.canonical
    assert (fast.ids, fast.entries, fast.indexes) == (slow.ids, slow.entries, slow.indexes)
    assert (fast.actors, fast.documents, fast.questions, fast.targets) == (slow.actors, slow.documents, slow.questions, slow.targets)
    return fast


@pytest.mark.parametrize("amount", ["100.0", "1e2", "1E2", "1.10", "125000000", "0.5", "123456.123456", "1e-7", "1e16", '"100.0"'])
def test_a_figure_written_as_a_number_is_recorded_as_when_parsed_first(amount: str) -> None:
    data = make_event("pkg", "aid_package", package="pkg-1", donor="us", authority="PDA", measure="commitment")
    data["value"] = {"amount": "PLACEHOLDER"}
    text = json.dumps(data).replace('"PLACEHOLDER"', amount)
    chunk = assert_same([text])
    if amount == "100.0":
        assert b'"amount":"100.0"' in chunk.canonical[0]


def test_a_repeated_key_counts_once_its_last_value_as_when_parsed_first() -> None:
    text = json.dumps(make_event("dup")).replace('"summary": ', '"summary": "first", "summary": ', 1)
    chunk = assert_same([text])
    assert not chunk.problems and b'"summary":"first"' not in chunk.canonical[0]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(make_event("bad-date", occurred="2024-02-30")),
        json.dumps({**make_event("typo"), "sumary": "x"}),
        json.dumps(make_event("surrogate", summary="\ud800")),
        json.dumps(make_event("control")).replace('"summary": "', '"summary": "\t', 1),
        json.dumps(make_event("nan-count", sources=[{"outlet": "X", "published": "2024-05-30", "attribution": "anonymous_official", "url": "u", "count": float("nan")}])),
        json.dumps(make_event("big-count", sources=[{"outlet": "X", "published": "2024-05-30", "attribution": "anonymous_official", "url": "u", "count": 10**30}])),
        "\ufeff" + json.dumps(make_event("bom")),
        json.dumps(make_event("utf16")).encode("utf-16"),
        json.dumps(make_event("latin1", summary="café")).encode("latin-1"),
        json.dumps(make_event("deep", kind="correction", corrects="x", action="amend", reason="r", amended={"summary": "s", "tags": [[[1]]] * 1})),
        json.dumps(make_event("too-deep", kind="correction", corrects="x", action="amend", reason="r", amended={"summary": "[" * MAX_DEPTH})),
        json.dumps(make_event("nested", kind="correction", corrects="x", action="amend", reason="r", amended={"x": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)})),
        json.dumps(make_event("long", summary="x" * MAX_LINE_BYTES)),
        "[1, 2]",
        "not json",
        "",
    ],
)  # fmt: skip
def test_texts_the_loader_or_the_validation_refuse_get_the_same_problems(text: str | bytes) -> None:
    assert_same([text])


def test_a_json_lines_file_with_a_line_that_does_not_parse_is_still_one_read_error() -> None:
    lines = [json.dumps(make_event("good")), "{broken", json.dumps(make_event("bad-date", occurred="2024-02-30"))]
    (chunk,) = check_chunk(ChunkTask("lines", "events.jsonl", lines, whole=len(lines)))
    assert chunk.read_error is not None and chunk.read_error.startswith("line 2: not valid JSON") and not chunk.canonical


def test_a_json_lines_file_of_valid_lines_gives_what_its_parsed_lines_give() -> None:
    lines = [json.dumps(make_event(f"event-{n}", summary=f" said {n} ")) for n in range(5)]
    (texts,) = check_chunk(ChunkTask("lines", "events.jsonl", lines, whole=len(lines)))
    (dicts,) = check_chunk(ChunkTask("items", "events.jsonl", [json.loads(line) for line in lines], whole=len(lines)))
    assert texts.canonical == dicts.canonical and texts.problems == dicts.problems == [] and texts.read_error is None


@SAMPLE
@given(events=st.lists(st.integers(0, 10**6).flatmap(hostile_events), min_size=1, max_size=4), as_bytes=st.booleans())
def test_any_event_text_is_recorded_or_refused_as_when_parsed_first(events: list[dict[str, Any]], as_bytes: bool) -> None:
    texts = [json.dumps(data) for data in events]  # NaN and Infinity included, as Python writes them
    assert_same([text.encode() for text in texts] if as_bytes else texts)
