"""Projections: the ledger's state at any date, as known at any date, as pure folds over event dicts.

Four projections (:mod:`.restrictions`, :mod:`.aid_packages`, :mod:`.positions`,
:mod:`.territory`) share one fold (:mod:`.fold`) and one reading of corrections
and alternative accounts (:mod:`.visibility`). Nothing here does I/O: the store
side lives in :mod:`ledger.timetravel`.

- :func:`state_at` (events, as_of, known_at=None, only=None): all four lists;
- :func:`entity_state` (events, entity, as_of, known_at=None): one entity;
- :func:`history` (entity_events, entity): one entity's bitemporal versions;
- :func:`group_by_entity` (events): the events each entity's history needs.
"""

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
