"""The answers of :class:`ledger.Ledger`, typed: one shape whichever engine or backend computed them.

``result.model_dump(mode="json")`` is the documented JSON contract (docs/timetravel.md);
``ledger ... --format json`` prints exactly that. Entity states are dicts with the
fields each projection documents (id, status or stance or holder, since,
since_text, certainty, disputed, events, ...), sorted by id.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, SerializerFunctionWrapHandler, model_serializer

EntityState = dict[str, Any]
StateList = list[InstanceOf[dict]]  # the bare class: isinstance cannot check dict[str, Any]
"""A replay's states: each checked to be a dict and kept as given, never copied key by key.

Both engines build these dicts with string keys; copying each (what validating
``dict[str, Any]`` does) was a third of the typed answer's cost for one entity.
"""
PROJECTION_LISTS = ("restrictions", "aid_packages", "positions", "territory")


class Result(BaseModel):
    """A typed answer; extra fields are refused, so both engines must agree on the shape."""

    model_config = ConfigDict(extra="forbid")


class State(Result):
    """The state of every restriction, aid package, position and territory on a date (``replay``)."""

    as_of: str
    known_at: str | None = None
    recorded_before: int | str | None = Field(None, description="As asked: a store position or an ISO timestamp")
    recorded_through: int = Field(description="The last store position the answer uses (0: an empty ledger)")
    event_count: int = Field(description="How many recorded events the answer was computed from")
    restrictions: StateList | None = None
    aid_packages: StateList | None = None
    positions: StateList | None = None
    territory: StateList | None = None

    @model_serializer(mode="wrap")
    def _only_what_was_asked(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Lists not asked for (``only``) are left out of the JSON, not shown as null."""
        data = handler(self)
        for name in PROJECTION_LISTS:
            if data.get(name) is None:
                data.pop(name, None)
        return data

    def lists(self) -> dict[str, list[EntityState]]:
        """The projections answered, by name, in the documented order."""
        return {name: found for name in PROJECTION_LISTS if (found := getattr(self, name)) is not None}


class AuditStep(Result):
    """One event in the fold that reached an entity's state, with its evidence and the state after it."""

    model_config = ConfigDict(extra="allow")

    event: str
    occurred: str
    precision: str
    earliest: str | None
    latest: str | None
    effective: str | None = None
    reported: str
    kind: str
    stage: str | None = None
    summary: str
    role: str
    sources: list[dict[str, Any]]
    amended_by: list[dict[str, Any]]
    state_after: EntityState
    links: list[dict[str, Any]]


class Audit(Result):
    """How an entity's state was reached, step by step (``audit``)."""

    entity: str
    kind: str
    as_of: str | None = None
    known_at: str | None = None
    steps: list[AuditStep]


class EntityChange(Result):
    """An entity present on both sides whose state differs: the fields that changed, before and after."""

    id: str
    fields: list[str]
    before: dict[str, Any]
    after: dict[str, Any]
    new_events: list[str]
    dropped_events: list[str]


class ProjectionChanges(Result):
    added: list[EntityState]
    removed: list[EntityState]
    changed: list[EntityChange]


class Diff(Result):
    """What changed between two states: two dates (``from``/``to``) or two known-at dates about one as-of date."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(None, alias="from")
    to: str | None = None
    as_of: str | None = None
    known_at: str | None = None
    vs_known_at: str | None = None
    restrictions: ProjectionChanges | None = None
    aid_packages: ProjectionChanges | None = None
    positions: ProjectionChanges | None = None
    territory: ProjectionChanges | None = None

    @model_serializer(mode="wrap")
    def _by_alias(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if "from_" in data:
            data = {"from": data.pop("from_"), **data}
        for name in PROJECTION_LISTS:
            if data.get(name) is None:
                data.pop(name, None)
        return data

    def lists(self) -> dict[str, ProjectionChanges]:
        return {name: found for name in PROJECTION_LISTS if (found := getattr(self, name)) is not None}


class TimelineEvent(Result):
    """One dated event as the timeline lists it."""

    occurred: str
    earliest: str | None
    latest: str | None
    precision: str
    reported: str
    kind: str
    id: str
    entity: str | None
    summary: str
    relation: str | None = Field(None, description="With an entity: state, correction, alternative account, request or linked")


class Timeline(Result):
    """Dated events in the order they occurred (``timeline``); for one entity, the events that tell its story."""

    entity: str | None = None
    events: list[TimelineEvent]


class EventRecord(Result):
    """One recorded event whole (``show``, ``log``): the event, its occurred bounds and where the store holds it."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    occurred: str
    reported: str
    summary: str
    occurred_bounds: dict[str, Any]
    recorded: dict[str, Any]


class Verification(Result):
    """The hash chain recomputed (``verify``): ok, or the first position that does not match."""

    ok: bool
    count: int
    head: str | None = None
    first_bad_position: int | None = None
    reason: str | None = None
