"""The event vocabulary: what an analyst records, one immutable event at a time.

Six kinds share one envelope (id, dates, actors, summary, sources, links):

- ``policy_change``: a government creates or changes a restriction on the use of weapons;
- ``request``: one party asks another to change a restriction or provide something;
- ``statement``: someone says something on record, optionally taking a stance on a question;
- ``battlefield``: something happens on the ground, optionally a territory claim;
- ``aid_package``: a donor commits, allocates or delivers military aid;
- ``correction``: an earlier event is retracted or amended, with its own sources.

This module imports nothing from storage, projections or the command line.
"""

from __future__ import annotations

import functools
import math
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ledger.dates import DateError, DateSpan, parse_edtf, parse_iso_day, recordable_span

SCHEMA_VERSION = 2
"""The vocabulary's current version. An event that does not say ``schema_version`` is read as version 1,
so files written before version 2 keep their recorded content; a term added in version 2 needs
``schema_version: 2`` in the event that uses it (:data:`V2_TERMS`)."""

SLUG_PATTERN = r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$"
EDTF_PATTERN = r"^[0-9\[\]{}.,/~?%\- ]+$"

Slug = Annotated[str, Field(pattern=SLUG_PATTERN, min_length=2, max_length=200)]
"""A stable, human-readable identifier: lower case letters, digits and ``-``, ``_`` or ``.``."""

KINDS = ("policy_change", "request", "statement", "battlefield", "aid_package", "correction")
RESTRICTION_STATUSES = ("prohibited", "permitted", "conditional", "under_review")
STANCES = ("supports", "opposes", "mixed", "undecided")
ATTRIBUTIONS = (
    "on_record_official",
    "anonymous_official",
    "unnamed_source",
    "document",
    "journalist",
    "adversary_official",
    "on_record_expert",
)
AID_STATUSES = ("proposed", "approved", "announced", "in_delivery", "delivered")
V2_TERMS = {"attribution": ("unnamed_source",), "status": ("in_delivery",)}
"""Terms added in vocabulary version 2, by the field that takes them."""
QUALIFIERS = ("exact", "about", "nearly", "up_to", "at_least")
Qualifier = Literal["exact", "about", "nearly", "up_to", "at_least"]

RestrictionStatus = Literal["prohibited", "permitted", "conditional", "under_review"]
Stance = Literal["supports", "opposes", "mixed", "undecided"]


def _invalid(reason: str) -> PydanticCustomError:
    """A validation error whose message is ``reason`` alone (a ValueError's would start 'Value error, ')."""
    return PydanticCustomError("invalid", "{reason}", {"reason": reason})


DATES_KEPT = 8_192
"""Date texts whose check is remembered (per process): a ledger's events name far fewer distinct days than events."""


def _check_edtf(text: str) -> str:
    try:
        _recordable(text)
    except DateError as error:
        raise _invalid(str(error)) from None
    return text.strip()


@functools.lru_cache(maxsize=DATES_KEPT)
def _recordable(text: str) -> None:
    """:func:`ledger.dates.recordable_span` as a check, remembered for the texts that pass (a refusal raises every time)."""
    recordable_span(text)


EDTF = Annotated[
    str,
    Field(
        pattern=EDTF_PATTERN,
        description="An EDTF date: 2024-05-30, 2024-05, 2024-05-30~, 2024-05-30?, "
        "2024-08-09/2024-08-23, ../2024-05-31 or [2024-08-09,2024-08-23]",
        examples=["2024-05-30", "2024-05~", "[2024-08-09,2024-08-23]"],
    ),
    AfterValidator(_check_edtf),
]


def _check_day(value: object) -> date:
    try:
        return _iso_day(value) if type(value) is str else parse_iso_day(value)
    except DateError as error:
        raise _invalid(str(error)) from None


_iso_day = functools.lru_cache(maxsize=DATES_KEPT)(parse_iso_day)
""":func:`ledger.dates.parse_iso_day` of a text, remembered for the texts that pass (a date is immutable, so it can be shared)."""


Day = Annotated[date, BeforeValidator(_check_day)]
"""A calendar day as ``YYYY-MM-DD`` (never a number read as a Unix timestamp), within the ledger's years."""

MAX_AMOUNT = Decimal(10) ** 15
"""Largest money value: a thousand trillion, far above any aid package."""

MAX_SIZE = Decimal(10) ** 9
"""Largest territory size: more square kilometres than the Earth's surface."""

MAX_PLACES = 6
"""Most decimal places a figure may have."""

MAX_TEXT = 100_000
"""Longest text field, in characters."""


def _few_places(value: Decimal) -> Decimal:
    if value and value.normalize().as_tuple().exponent < -MAX_PLACES:  # type: ignore[operator]  # finite: pydantic refuses NaN and infinity
        raise _invalid(f"a figure has at most {MAX_PLACES} decimal places")
    return value


def _float_as_written(value: object) -> object:
    """A finite float as the decimal its shortest text says (``100.0`` stays ``100.0``), whatever the input's form.

    What pydantic does itself for a Python float; from JSON text it would read the
    number's digits instead (``100.0`` becoming ``100``), so without this the same
    event would be recorded with other bytes when validated from its text (:func:`parse_event_json`).
    """
    return Decimal(repr(value)) if isinstance(value, float) and math.isfinite(value) else value


Figure = Annotated[Decimal, BeforeValidator(_float_as_written), AfterValidator(_few_places)]
"""A finite decimal with at most :data:`MAX_PLACES` places (its range is set where it is used)."""


class Model(BaseModel):
    """Strict base: unknown fields are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, str_max_length=MAX_TEXT, defer_build=True)


# --- evidence --------------------------------------------------------------------------


class Source(Model):
    """Where a fact comes from: a document or URL, its outlet and date, who said it, and how reliable."""

    document: Slug | None = Field(None, description="Id of a document in the sources registry")
    url: str | None = Field(None, description="URL of the source, when there is no registry document")
    outlet: str = Field(min_length=1, description="Publisher, e.g. 'The Washington Post'")
    published: Day = Field(description="Publication date of the source")
    quote: str | None = Field(None, description="Verbatim words of an official or actor, as printed")
    attribution: Literal[
        "on_record_official", "anonymous_official", "unnamed_source", "document", "journalist", "adversary_official", "on_record_expert"
    ] = Field(
        description="Who the source attributes the fact to: a named official, anonymous officials, an unnamed source the "
        "article does not call an official ('a source familiar with the decision', 'one participant'; version 2), "
        "a document, the journalist, an adversary official, or a named non-official expert (analyst, former official)"
    )
    speaker: Slug | None = Field(None, description="Actor id of a named speaker (on-record or adversary official)")
    count: int | None = Field(None, ge=1, le=1_000_000, description="How many anonymous officials or unnamed sources, when stated")
    reliability: Literal["A", "B", "C", "D", "E", "F"] | None = Field(
        None, description="Admiralty code source reliability, A (reliable) to F (cannot be judged)"
    )
    credibility: int | None = Field(
        None, ge=1, le=6, description="Admiralty code information credibility, 1 (confirmed) to 6 (cannot be judged)"
    )

    @model_validator(mode="after")
    def _document_or_url(self) -> Source:
        if not (self.document or self.url):
            raise ValueError("a source needs a document id or a url")
        if self.attribution in ("on_record_official", "on_record_expert") and not self.speaker:
            raise ValueError(f"an {self.attribution.replace('_', '-')} source needs a speaker")
        return self


class Links(Model):
    """How this event relates to others, by event id."""

    in_response_to: list[Slug] = Field(default_factory=list)
    part_of: list[Slug] = Field(default_factory=list)
    alternative_account_of: list[Slug] = Field(default_factory=list)

    def all(self) -> list[tuple[str, str]]:
        """Every link as (relation, target id)."""
        return [
            (relation, target) for relation in ("in_response_to", "part_of", "alternative_account_of") for target in getattr(self, relation)
        ]


NO_LINKS = Links()
"""The links of an event that gives none: one instance for them all (frozen, and never changed), not one model built per event."""


class Envelope(Model):
    """What every event carries, whatever its kind."""

    id: Slug = Field(description="Stable, human-readable id, unique in the ledger")
    occurred: EDTF = Field(description="When it happened in the world (EDTF; often uncertain)")
    reported: Day = Field(description="When it first became public")
    actors: list[Slug] = Field(min_length=1, description="Actor ids from the actors registry")
    summary: str = Field(min_length=1, description="What happened, in the ledger's own words")
    sources: list[Source] = Field(min_length=1, description="The evidence: at least one source")
    links: Links = Field(default_factory=lambda: NO_LINKS)
    tags: list[str] = Field(default_factory=list)
    schema_version: Literal[1, 2] = Field(
        1, description="Vocabulary version the event is written in; 1 when not given. Terms added in version 2 need 2"
    )
    cameo: str | None = Field(None, pattern=r"^\d{2,4}$", description="CAMEO event code, e.g. 0832")
    acled_event_type: (
        Literal["Battles", "Explosions/Remote violence", "Violence against civilians", "Protests", "Riots", "Strategic developments"] | None
    ) = None
    acled_sub_event_type: str | None = None

    @model_validator(mode="after")
    def _version_covers_terms(self) -> Envelope:
        if self.schema_version < 2:
            used = self.v2_terms()
            if used:
                raise ValueError(f"{', '.join(used)} came with vocabulary version 2: add 'schema_version: 2'")
        return self

    def v2_terms(self) -> list[str]:
        """The version-2 terms this event uses, as ``field: term``."""
        used = [f"attribution: {s.attribution}" for s in self.sources if s.attribution in V2_TERMS["attribution"]]
        if isinstance(self, AidPackage) and self.status in V2_TERMS["status"]:
            used.append(f"status: {self.status}")
        return used

    @property
    def span(self) -> DateSpan:
        return parse_edtf(self.occurred)

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON-ready data, without defaults that were not set."""
        return self.model_dump(mode="json", exclude_none=True)


# --- kinds -------------------------------------------------------------------------------


class RestrictionChange(Model):
    """The restriction a policy change creates or changes, and its new status."""

    id: Slug = Field(description="Restriction id, e.g. us-weapons-strikes-inside-russia")
    status: RestrictionStatus
    issuer: Slug | None = Field(None, description="Actor who imposes the restriction")
    restricted: Slug | None = Field(None, description="Actor whose use is restricted")
    weapons: list[str] | None = None
    area: str | None = None
    targets: list[str] | None = None
    purpose: str | None = None
    conditions: list[str] | None = None
    effective: Day | None = Field(None, description="When the change takes effect, if not when it was decided")


class PolicyChange(Envelope):
    kind: Literal["policy_change"]
    restriction: RestrictionChange
    stage: Literal["standing", "recommended", "agreed", "approved", "signed", "in_effect", "clarified", "reaffirmed"] | None = Field(
        None, description="Where in the decision chain this change sits"
    )


class Request(Envelope):
    kind: Literal["request"]
    requester: Slug
    addressee: Slug
    asks: str = Field(min_length=1, description="The change asked for")
    restriction: Slug | None = Field(None, description="The restriction the request asks to change")
    desired_status: RestrictionStatus | None = None
    channel: Literal["public", "private"]


class Position(Model):
    question: Slug = Field(description="Question id from the questions registry")
    stance: Stance


class Statement(Envelope):
    kind: Literal["statement"]
    speaker: Slug
    office: str | None = None
    venue: str | None = None
    quote: str | None = None
    position: Position | None = Field(None, description="The stance the statement expresses, if any")


class Size(Model):
    value: Figure = Field(gt=0, le=MAX_SIZE)
    unit: Literal["sq_km", "sq_mi", "settlements"]
    qualifier: Qualifier = Field("exact", description="How the source hedges the figure: 'nearly 500' is nearly")


class TerritoryClaim(Model):
    area: Slug = Field(description="Territory id, e.g. kursk-incursion-zone")
    holder: Slug = Field(description="Actor said to hold the area")
    size: Size | None = None
    claimed_by: Slug | None = Field(None, description="Actor making the claim, if not the source")


class Battlefield(Envelope):
    kind: Literal["battlefield"]
    place: str = Field(min_length=1)
    what: str = Field(min_length=1, description="What happened, briefly: offensive, strike, incursion...")
    territory: TerritoryClaim | None = None


class Value(Model):
    amount: Figure = Field(ge=0, le=MAX_AMOUNT)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    qualifier: Qualifier = Field("exact", description="How the announcement hedges the value: 'up to $125 million' is up_to")


class AidPackage(Envelope):
    kind: Literal["aid_package"]
    package: Slug = Field(description="Package id; several events may concern one package")
    donor: Slug
    recipient: Slug | None = None
    authority: Literal["PDA", "USAI", "supplemental", "other"]
    tranche: str | None = None
    value: Value | None = None
    measure: Literal["commitment", "allocation", "delivery"]
    status: Literal["proposed", "approved", "announced", "in_delivery", "delivered"] = Field(
        "announced",
        description="Where the package stands: proposed, approved (e.g. voted), announced, in_delivery "
        "(deliveries under way, not complete; version 2) or delivered",
    )
    items: list[str] = Field(default_factory=list)


class Correction(Envelope):
    kind: Literal["correction"]
    corrects: Slug = Field(description="Id of the event corrected")
    action: Literal["retract", "amend"]
    amended: dict[str, Any] | None = Field(
        None, description="For an amendment: the fields of the corrected event that change, with their new values"
    )
    reason: str = Field(min_length=1)

    @field_validator("amended")
    @classmethod
    def _amended_values_valid(cls, amended: dict[str, Any] | None) -> dict[str, Any] | None:
        for problem in amendment_problems(amended or {}):
            raise _invalid(problem)
        return amended

    @model_validator(mode="after")
    def _amendment_has_fields(self) -> Correction:
        if self.action == "amend" and not self.amended:
            raise ValueError("an amendment needs 'amended': the fields that change")
        if self.action == "retract" and self.amended:
            raise ValueError("a retraction takes no 'amended' fields")
        if self.amended and {"id", "kind"} & set(self.amended):
            raise ValueError("an amendment cannot change an event's id or kind")
        return self


Event = Annotated[
    PolicyChange | Request | Statement | Battlefield | AidPackage | Correction,
    Field(discriminator="kind"),
]
EVENT_CLASSES = {
    cls.model_fields["kind"].annotation.__args__[0]: cls  # type: ignore[union-attr]  # every kind field is a Literal
    for cls in (PolicyChange, Request, Statement, Battlefield, AidPackage, Correction)
}


# --- what an amendment may say ---------------------------------------------------------------


def amendment_problems(amended: dict[str, Any]) -> list[str]:
    """Why an amendment's values could not be part of any event (empty when they could).

    An amendment names fields of the event it corrects, which may be of any
    kind; each value must be valid for that field in at least one kind, with the
    same bounds as the event's own fields (so an amended date or amount is as
    safe to project as a recorded one). A mapping merges into a nested object
    (:func:`apply_amendment`), so each of its keys is checked against that object's fields.
    """
    problems = []
    fields = _amendable_fields()
    for name, value in amended.items():
        if name in ("id", "kind"):
            continue  # refused with its own message by the correction's own check
        if name not in fields:
            problems.append(f"{name}: not a field of any kind of event")
            continue
        reason = _field_problem(fields[name], value)
        if reason:
            problems.append(f"{name}: {reason}")
    return problems


def _field_problem(candidates: list[tuple[TypeAdapter, type[Model] | None]], value: Any) -> str | None:
    reasons, nested_reasons = [], []
    for adapter, nested in candidates:
        try:
            adapter.validate_python(value)
            return None
        except ValidationError as error:
            reasons.append(_first_error(error))
        if nested is not None and isinstance(value, dict) and value:
            inner = _nested_problem(nested, value)
            if inner is None:
                return None
            nested_reasons.append(inner)  # a mapping for an object: what its keys got wrong says the most
    return (nested_reasons or reasons or ["not a valid value"])[0]


def _nested_problem(model: type[Model], value: dict[str, Any]) -> str | None:
    for key, item in value.items():
        info = model.model_fields.get(key)
        if info is None:
            return f"{key}: unknown field"
        try:
            _field_adapter(model, key).validate_python(item)
        except ValidationError as error:
            return f"{key}: {_first_error(error)}"
    return None


def _first_error(error: ValidationError) -> str:
    item = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in item["loc"])
    message = item["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


@functools.cache
def _field_adapter(model: type[Model], name: str) -> TypeAdapter:
    info = model.model_fields[name]
    if not info.metadata:
        return TypeAdapter(info.annotation)
    return TypeAdapter(Annotated[(info.annotation, *info.metadata)])


@functools.cache
def _amendable_fields() -> dict[str, list[tuple[TypeAdapter, type[Model] | None]]]:
    found: dict[str, list[tuple[TypeAdapter, type[Model] | None]]] = {}
    for cls in EVENT_CLASSES.values():
        for name, info in cls.model_fields.items():
            nested = next(
                (t for t in (info.annotation, *getattr(info.annotation, "__args__", ())) if isinstance(t, type) and issubclass(t, Model)),
                None,
            )
            found.setdefault(name, []).append((_field_adapter(cls, name), nested))
    return found


@functools.cache
def _adapters() -> tuple[TypeAdapter, TypeAdapter]:
    # Built on first use (models use defer_build): commands that only read never pay for it.
    return TypeAdapter(Event), TypeAdapter(list[Event])


def __getattr__(name: str) -> Any:
    if name == "event_adapter":
        return _adapters()[0]
    if name == "event_list_adapter":
        return _adapters()[1]
    raise AttributeError(name)


def parse_event(data: Any) -> Envelope:
    """Validate one event from plain data; raise pydantic's ValidationError if it is invalid."""
    return _validator().validate_python(data)


def parse_event_json(text: str | bytes) -> Envelope:
    """Validate one event from its JSON text in one step; raise pydantic's ValidationError if it is invalid.

    Gives the same event as :func:`parse_event` of the parsed text whenever it
    succeeds (numbers, duplicate keys and strings are read alike), in about half
    the time. Its errors are worded for JSON, and it knows no nesting limit: callers
    that report problems or bound nesting (:mod:`ledger.ingest`) check those and
    fall back to parse-then-validate for their messages.
    """
    return _validator().validate_json(text)


@functools.cache
def _validator() -> Any:
    # pydantic-core's validator itself: the TypeAdapter wrapper costs a fifth of the time on bulk ingests.
    return _adapters()[0].validator


def apply_amendment(event: Envelope, amended: dict[str, Any]) -> Envelope:
    """The event as an amendment says it should read: nested objects merge, other fields replace."""
    data = event.model_dump(mode="json")
    for key, value in amended.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_event(data)


def json_schema() -> dict[str, Any]:
    """JSON Schema for an event file: one event, or a list of events."""
    one = _adapters()[0].json_schema(ref_template="#/$defs/{model}")
    defs = one.pop("$defs", {})
    defs["Event"] = one
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ledger event file",
        "description": "One ledger event, or a list of events, as written in events/*.yaml",
        "oneOf": [{"$ref": "#/$defs/Event"}, {"type": "array", "items": {"$ref": "#/$defs/Event"}}],
        "$defs": defs,
    }


__all__ = [
    "AidPackage",
    "Battlefield",
    "Correction",
    "Envelope",
    "Event",
    "Links",
    "PolicyChange",
    "Position",
    "Request",
    "RestrictionChange",
    "Source",
    "Statement",
    "TerritoryClaim",
    "ValidationError",
    "Value",
    "apply_amendment",
    "event_adapter",  # noqa: F822 - built on first use by the module __getattr__
    "json_schema",
    "parse_event",
    "parse_event_json",
]
