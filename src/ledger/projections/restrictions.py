"""Restrictions: what a government allows another to do with its weapons, from ``policy_change`` events.

One entity per ``restriction.id``. A change's fields replace the state's when
given (a field left out keeps its value); ``status`` is always set. A change
takes effect on ``restriction.effective`` when given, else when it occurred.
"""

from __future__ import annotations

from typing import Any

from ledger.dates import DateSpan, parse_edtf
from ledger.projections.base import EntityView, Projection, common_fields, day_span, since_fields

FIELDS = ("status", "issuer", "restricted", "weapons", "area", "targets", "purpose", "conditions")


def restriction_key(data: dict[str, Any]) -> str | None:
    """The restriction a policy change concerns."""
    return data["restriction"]["id"] if data.get("kind") == "policy_change" else None


def restriction_span(data: dict[str, Any]) -> DateSpan:
    """When the change takes effect: its ``effective`` day if given, else its ``occurred`` span."""
    effective = data["restriction"].get("effective")
    return day_span(effective) if effective else parse_edtf(data["occurred"])


def restriction_effect(data: dict[str, Any]) -> dict[str, Any]:
    """The fields the change sets: every field it gives (empty lists included), and its stage."""
    change = data["restriction"]
    effect = {name: change[name] for name in FIELDS if change.get(name) is not None}
    if data.get("stage"):
        effect["stage"] = data["stage"]
    return effect


def render_restriction(view: EntityView) -> dict[str, Any]:
    """A restriction as the replay JSON gives it."""
    fields = view.fields
    return {
        "id": view.key,
        "issuer": fields.get("issuer"),
        "subject": fields.get("restricted"),
        "weapons": list(fields.get("weapons") or []),
        "area": fields.get("area"),
        "targets": list(fields.get("targets") or []),
        "purpose": fields.get("purpose"),
        "status": fields.get("status"),
        "conditions": list(fields.get("conditions") or []),
        "stage": fields.get("stage"),
        **since_fields(view),
        **common_fields(view),
    }


RESTRICTIONS = Projection(
    name="restrictions",
    key=restriction_key,
    span=restriction_span,
    effect=restriction_effect,
    render=render_restriction,
    tracked="status",
    decided={name: "subject" if name == "restricted" else name for name in FIELDS},
)
