"""Aid packages: what a donor committed, allocated or delivered, from ``aid_package`` events.

One entity per ``package``. Later events' fields replace earlier ones when
given (an empty ``items`` list means "not stated"); ``announced`` is the date
of the first event; ``status`` and ``measure`` come from the latest.
"""

from __future__ import annotations

from typing import Any

from ledger.projections.base import EntityView, Projection, common_fields, given, iso_or_none, number, since_fields


def package_key(data: dict[str, Any]) -> str | None:
    """The package an aid event concerns."""
    return data["package"] if data.get("kind") == "aid_package" else None


def package_effect(data: dict[str, Any]) -> dict[str, Any]:
    """The fields the event sets."""
    return given(data, "donor", "recipient", "authority", "tranche", "value", "items", "measure", "status")


def render_package(view: EntityView) -> dict[str, Any]:
    """An aid package as the replay JSON gives it; amounts are JSON numbers."""
    fields = view.fields
    value = fields.get("value") or {}
    return {
        "id": view.key,
        "donor": fields.get("donor"),
        "recipient": fields.get("recipient"),
        "authority": fields.get("authority"),
        "tranche": fields.get("tranche"),
        "announced": iso_or_none(view.first.span.earliest),
        "announced_text": view.first.span.text,
        "value": {
            "amount": number(value.get("amount")),
            "currency": value.get("currency"),
            "qualifier": value.get("qualifier"),
        },
        "items": list(fields.get("items") or []),
        "measure": fields.get("measure"),
        "status": fields.get("status"),
        **since_fields(view),
        **common_fields(view),
    }


AID_PACKAGES = Projection(
    name="aid_packages",
    key=package_key,
    effect=package_effect,
    render=render_package,
    tracked="status",
    decided={name: name for name in ("donor", "recipient", "authority", "tranche", "value", "items", "measure", "status")},
)
