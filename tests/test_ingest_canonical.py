"""What validation hands on for a valid event is what its pydantic dump says.

The canonical bytes (what the hash chain covers) are written straight from the
validated models, and the actors, documents, questions and events an event names are read from
its fields; both must be what the dump to JSON-ready data gives, for events of
every kind, as generated for the benchmarks and with fields pushed to their bounds.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from benchmarks.generate import LedgerSpec, generate_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import make_event
from helpers import hostile_events
from ledger.events import Envelope, parse_event
from ledger.ingest import ACTOR_FIELDS, CheckedChunk, ChunkTask, _dig, _links, check_chunk, event_canonical
from ledger.store.codec import canonical_bytes

SAMPLE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dumped(event: Envelope) -> bytes:
    return canonical_bytes(event.model_dump(mode="json", exclude_none=True))


def named(data: dict[str, Any]) -> tuple[set[Any], set[Any], set[Any], set[Any]]:
    """What an event dump names, read as the walk that names reference problems reads it."""
    actors = set(data.get("actors", ())) | {_dig(data, path) for path in ACTOR_FIELDS[data["kind"]]}
    actors |= {source.get("speaker") for source in data["sources"]}
    documents = {source.get("document") for source in data["sources"]}
    questions = {data["position"]["question"]} if "position" in data else set()
    return actors - {None}, documents - {None}, questions, {target for _, target in _links(data)}


def checked(events: list[dict[str, Any]]) -> CheckedChunk:
    (chunk,) = check_chunk(ChunkTask("items", "events", events, whole=len(events)))
    return chunk


def assert_as_dumped(events: list[dict[str, Any]]) -> None:
    chunk = checked(events)
    valid = []
    for data in events:
        try:
            valid.append(parse_event(data))
        except ValidationError:
            continue
    assert chunk.canonical == [dumped(event) for event in valid]
    found: tuple[set[Any], ...] = (set(), set(), set(), set())
    for event in valid:
        found = tuple(mine | theirs for mine, theirs in zip(found, named(event.model_dump(mode="json", exclude_none=True))))
    assert (chunk.actors, chunk.documents, chunk.questions, chunk.targets) == found
    assert chunk.self_link == any(event.id in named(event.model_dump(mode="json", exclude_none=True))[3] for event in valid)


def test_generated_events_of_every_kind_are_written_as_their_dump() -> None:
    events = list(islice(generate_events(LedgerSpec(events=200_000, seed=5)), 0, 200_000, 40))
    assert {data["kind"] for data in events} >= {"policy_change", "request", "statement", "battlefield", "aid_package", "correction"}
    assert_as_dumped(events)


def test_an_amendment_is_written_as_its_dump_whatever_its_values() -> None:
    amendment = make_event(
        "amends", kind="correction", corrects="other", action="amend", reason="r", amended={"summary": " s ", "value": {"amount": 1.5}}
    )
    event = parse_event(amendment)
    assert event_canonical(event) == dumped(event)
    assert b'"amount":1.5' in event_canonical(event)


def test_figures_dates_and_unset_fields_are_written_as_the_dump_writes_them() -> None:
    package = make_event("pkg", kind="aid_package", package="pkg-1", donor="us", authority="PDA", measure="commitment")
    for amount in ("100.0", "1E+3", "0.000001", 125_000_000, 0.5, "12345678901234.5"):
        event = parse_event({**package, "value": {"amount": amount, "qualifier": "up_to"}})
        assert event_canonical(event) == dumped(event)
    assert b'"recipient"' not in event_canonical(event) and b'"links":{"alternative_account_of":[]' in event_canonical(event)


def test_an_event_linking_to_itself_is_flagged() -> None:
    assert checked([make_event("self", links={"part_of": ["self"]})]).self_link
    assert checked([make_event("self", kind="correction", corrects="self", action="retract", reason="r")]).self_link
    assert not checked([make_event("other", links={"part_of": ["self"]})]).self_link


@SAMPLE
@given(events=st.lists(st.integers(0, 10**6).flatmap(hostile_events), min_size=1, max_size=4))
def test_any_valid_event_is_written_as_its_dump_and_names_what_it_names(events: list[dict[str, Any]]) -> None:
    assert_as_dumped(events)
