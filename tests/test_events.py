"""The event vocabulary: six kinds on one envelope, strict fields, and an exported JSON Schema."""

import jsonschema
import pytest
from pydantic import ValidationError

from conftest import make_event
from ledger.events import KINDS, apply_amendment, json_schema, parse_event


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_validates(kind):
    event = parse_event(make_event(f"example-{kind.replace('_', '-')}", kind))
    assert event.kind == kind
    assert event.sources[0].outlet == "The Example Post"


def test_dates_are_parsed_to_bounds():
    event = parse_event(make_event(occurred="2024-08-09/2024-08-23"))
    assert (event.span.earliest.isoformat(), event.span.latest.isoformat()) == ("2024-08-09", "2024-08-23")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred": "2024-02-30"}, "occurred"),
        ({"sources": []}, "sources"),
        ({"actors": []}, "actors"),
        ({"id": "Not A Slug"}, "id"),
        ({"kind": "rumour"}, "kind"),
        ({"surprise": 1}, "surprise"),
        ({"position": {"question": "strikes-inside-russia", "stance": "maybe"}}, "stance"),
    ],
)
def test_broken_events_are_refused_naming_the_field(change, field):
    with pytest.raises(ValidationError) as caught:
        parse_event(make_event(**change))
    assert field in str(caught.value)


def test_a_source_needs_a_document_or_url_and_a_named_on_record_speaker():
    source = make_event()["sources"][0]
    with pytest.raises(ValidationError, match="document id or a url"):
        parse_event(make_event(sources=[{**source, "document": None}]))
    with pytest.raises(ValidationError, match="needs a speaker"):
        parse_event(make_event(sources=[{**source, "speaker": None}]))


def test_reliability_uses_the_admiralty_scales():
    source = make_event()["sources"][0]
    assert parse_event(make_event(sources=[{**source, "reliability": "B", "credibility": 2}]))
    for bad in ({"reliability": "G"}, {"credibility": 7}):
        with pytest.raises(ValidationError):
            parse_event(make_event(sources=[{**source, **bad}]))


def test_corrections_must_say_what_changes():
    with pytest.raises(ValidationError, match="amendment needs"):
        parse_event(make_event("fix", "correction", action="amend"))
    amendment = parse_event(make_event("fix", "correction", action="amend", amended={"occurred": "2024-05-29"}))
    assert amendment.amended == {"occurred": "2024-05-29"}


def test_an_amendment_merges_into_the_event_it_corrects():
    original = parse_event(make_event("decision", "policy_change"))
    amended = apply_amendment(original, {"restriction": {"status": "permitted"}, "occurred": "2024-05-29"})
    assert amended.restriction.status == "permitted"
    assert amended.restriction.issuer == "us"
    assert amended.occurred == "2024-05-29"


def test_the_json_schema_accepts_examples_and_rejects_broken_ones():
    validator = jsonschema.Draft202012Validator(json_schema())
    examples = [make_event(f"ex-{k.replace('_', '-')}", k) for k in KINDS]
    for example in examples:
        validator.validate(example)
    validator.validate(examples)  # a file may hold a list
    broken = [
        make_event(kind="statement", speaker=None),
        {k: v for k, v in make_event().items() if k != "sources"},
        make_event(kind="policy_change", restriction={"id": "x-1", "status": "banned"}),
        make_event(surprise=True),
        make_event(kind="mystery"),
    ]
    for event in broken:
        assert not validator.is_valid(event), event
