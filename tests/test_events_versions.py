"""Vocabulary version 2: new terms for what the articles say, without changing a recorded event.

Version 2 adds an aid status for deliveries under way (``in_delivery``) and an attribution for an
unnamed source the article does not call an official (``unnamed_source``: "a source familiar with
the decision"). An event that does not name its version is read as version 1, so every file written
before keeps its recorded bytes; an event that uses a version-2 term must say ``schema_version: 2``.
"""

import jsonschema
import pytest
from pydantic import ValidationError

from conftest import make_event
from ledger.events import SCHEMA_VERSION, apply_amendment, json_schema, parse_event
from ledger.store import canonical_bytes

FAMILIAR = {"document": "doc-a", "outlet": "The Example Post", "published": "2024-05-30", "attribution": "unnamed_source", "count": 2}


def aid(**fields):
    return make_event("supplemental", "aid_package", **fields)


def test_the_current_vocabulary_is_version_2_and_an_unversioned_event_is_read_as_version_1():
    assert SCHEMA_VERSION == 2
    assert parse_event(make_event()).schema_version == 1


def test_an_event_written_before_version_2_keeps_its_recorded_bytes():
    event = make_event()
    assert canonical_bytes(parse_event(event).to_dict()) == canonical_bytes(parse_event({**event, "schema_version": 1}).to_dict())


def test_deliveries_under_way_are_a_status_of_their_own():
    package = parse_event(aid(status="in_delivery", measure="delivery", schema_version=2))
    assert package.status == "in_delivery"


def test_a_source_familiar_with_the_decision_is_not_an_official():
    event = parse_event(make_event(sources=[FAMILIAR], schema_version=2))
    assert event.sources[0].attribution == "unnamed_source" and event.sources[0].count == 2


@pytest.mark.parametrize(
    "fields",
    [{"kind": "aid_package", "status": "in_delivery"}, {"sources": [FAMILIAR]}],
    ids=["in_delivery", "unnamed_source"],
)
def test_a_version_2_term_in_a_version_1_event_is_refused_saying_what_to_add(fields):
    kind = fields.pop("kind", "statement")
    event = make_event("x-event", kind, **fields) if kind == "statement" else aid(**fields)
    with pytest.raises(ValidationError, match="schema_version: 2"):
        parse_event(event)


def test_an_amendment_can_move_an_event_to_version_2():
    recorded = parse_event(aid(status="delivered", measure="delivery"))
    amended = apply_amendment(recorded, {"status": "in_delivery", "schema_version": 2})
    assert (amended.status, amended.schema_version) == ("in_delivery", 2)
    with pytest.raises(ValidationError, match="schema_version: 2"):
        apply_amendment(recorded, {"status": "in_delivery"})


def test_the_json_schema_knows_the_version_2_terms():
    validator = jsonschema.Draft202012Validator(json_schema())
    validator.validate(aid(status="in_delivery", measure="delivery", schema_version=2))
    assert not validator.is_valid(aid(schema_version=3))
