"""State at a date: the four projections folded over event dicts, as known on a date.

The functions here are pure: they take the events (already chosen by the
caller, e.g. by recorded position) and dates, and return plain JSON-ready data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from ledger.projections.aid_packages import AID_PACKAGES
from ledger.projections.base import EntityKey, Projection
from ledger.projections.fold import Unit, build_units, state_of_units
from ledger.projections.positions import POSITIONS
from ledger.projections.restrictions import RESTRICTIONS
from ledger.projections.territory import TERRITORY
from ledger.projections.visibility import alternative_groups, known_resolved

PROJECTIONS: dict[str, Projection] = {p.name: p for p in (RESTRICTIONS, AID_PACKAGES, POSITIONS, TERRITORY)}
"""The projections by the name of their list in a replay."""


def entity_of(data: dict[str, Any]) -> EntityKey | None:
    """The entity an event concerns as written (corrections aside), or None."""
    for projection in PROJECTIONS.values():
        key = projection.key(data)
        if key is not None:
            return EntityKey(projection.name, key)
    return None


def state_at(
    events: Iterable[dict[str, Any]],
    as_of: date,
    known_at: date | None = None,
    only: Sequence[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every entity's state on ``as_of``, using only what was reported by ``known_at``.

    Returns ``{"restrictions": [...], "aid_packages": [...], "positions": [...],
    "territory": [...]}`` (or only the lists named in ``only``), each sorted by
    id. Entities with no event applying by ``as_of`` are absent.
    """
    resolved = known_resolved(events, known_at)
    groups = alternative_groups(resolved)
    result: dict[str, list[dict[str, Any]]] = {}
    for name in only or PROJECTIONS:
        projection = PROJECTIONS[name]
        states = (state_of_units(projection, key, units, as_of) for key, units in build_units(projection, resolved, groups).items())
        result[name] = sorted((state for state in states if state), key=lambda state: state["id"])
    return result


def entity_units(events: Iterable[dict[str, Any]], entity: EntityKey, known_at: date | None = None) -> list[Unit]:
    """The entity's units in fold order, as known at ``known_at``."""
    projection = PROJECTIONS[entity.projection]
    return build_units(projection, known_resolved(events, known_at)).get(entity.key, [])


def entity_state(
    events: Iterable[dict[str, Any]], entity: EntityKey | tuple[str, str], as_of: date, known_at: date | None = None
) -> dict[str, Any] | None:
    """One entity's state on ``as_of`` as known at ``known_at``, or None when nothing applies yet.

    ``events`` may hold other entities' events too; those only matter as
    alternative accounts or corrections.
    """
    entity = EntityKey(*entity)
    units = entity_units(events, entity, known_at)
    return state_of_units(PROJECTIONS[entity.projection], entity.key, units, as_of)
