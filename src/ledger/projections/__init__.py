"""Projections: the ledger's state at any date, as known at any date, as pure folds over event dicts.

Four projections (:mod:`.restrictions`, :mod:`.aid_packages`, :mod:`.positions`,
:mod:`.territory`) share one fold (:mod:`.fold`) and one reading of corrections
and alternative accounts (:mod:`.visibility`). Nothing here does I/O: the store
side lives in :mod:`ledger.timetravel`.

- :func:`state_at` (events, as_of, known_at=None, only=None): all four lists;
- :func:`entity_state` (events, entity, as_of, known_at=None): one entity;
- :func:`history` (entity_events, entity): one entity's bitemporal versions;
- :func:`group_by_entity` (events): the events each entity's history needs.

The folds load on first use of a name below: a question the read model
answers reads only :mod:`.selection`, and importing it runs this file first.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.projections.base import EntityKey
    from ledger.projections.history import Version, group_by_entity, history
    from ledger.projections.state import PROJECTIONS, entity_of, entity_state, entity_units, state_at

__all__ = [
    "PROJECTIONS",
    "EntityKey",
    "Version",
    "entity_of",
    "entity_state",
    "entity_units",
    "group_by_entity",
    "history",
    "state_at",
]

HOMES = {
    "EntityKey": "base",
    "Version": "history",
    "group_by_entity": "history",
    "history": "history",
    "PROJECTIONS": "state",
    "entity_of": "state",
    "entity_state": "state",
    "entity_units": "state",
    "state_at": "state",
}
"""The module each public name is defined in."""


def __getattr__(name: str) -> Any:
    home = HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ledger.projections' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ledger.projections.{home}"), name)
    globals()[name] = value  # found once: later look-ups never come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class Package(types.ModuleType):
    """This package, whose name ``history`` stays the function when the module of that name loads.

    Importing a submodule sets it as an attribute of its package: loaded first,
    :mod:`.history` would take the place of :func:`history`, which this file
    used to import eagerly over it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in HOMES and HOMES[name] == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = Package
