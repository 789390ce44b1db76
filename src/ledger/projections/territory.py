"""Territory: who holds an area and how large it is, from ``battlefield`` events with a territory claim.

One entity per ``territory.area``. A claim sets the holder, and the size and
claimant when given.
"""

from __future__ import annotations

from typing import Any

from ledger.projections.base import EntityView, Projection, common_fields, given, number, since_fields


def territory_key(data: dict[str, Any]) -> str | None:
    """The area a battlefield event makes a claim about."""
    if data.get("kind") != "battlefield" or not data.get("territory"):
        return None
    return data["territory"]["area"]


def territory_effect(data: dict[str, Any]) -> dict[str, Any]:
    """The holder, and the size and claimant when the claim gives them."""
    return given(data["territory"], "holder", "size", "claimed_by")


def render_territory(view: EntityView) -> dict[str, Any]:
    """A territory as the replay JSON gives it; sizes are JSON numbers."""
    size = view.fields.get("size") or {}
    return {
        "id": view.key,
        "area": view.key,
        "holder": view.fields.get("holder"),
        "size": {"value": number(size.get("value")), "unit": size.get("unit"), "qualifier": size.get("qualifier")},
        "claimed_by": view.fields.get("claimed_by"),
        **since_fields(view),
        **common_fields(view),
    }


TERRITORY = Projection(
    name="territory",
    key=territory_key,
    effect=territory_effect,
    render=render_territory,
    tracked="holder",
    decided={name: name for name in ("holder", "size", "claimed_by")},
)
