"""Which events are in which entity's history, gathered while streaming the store.

An entity's history needs its own events, the corrections of them and their
alternative accounts (:func:`ledger.projections.history.group_by_entity`). Over
a whole ledger that grouping would need every event in memory; but only events
joined by a correction or an alternative account can belong to an entity other
than their own. :class:`Membership` therefore keeps, while the store streams
past, each event's position under its own entity and the ids of the linked
events only; :meth:`Membership.add_linked_groups` then reads those back a few
groups at a time (events joined by links, which group independently of the rest)
and adds what :func:`~ledger.projections.history.group_by_entity` gives for them.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ledger.projections.base import EntityKey
from ledger.projections.history import group_by_entity
from ledger.projections.state import entity_of
from ledger.readmodel import rows

CLOSURE_RELATIONS = ("alternative_account_of", "corrects")
GROUP_EVENTS = 2_000  # linked events read back at a time

Members = tuple[dict[EntityKey, "array[int]"], list[tuple[str, str]]]
"""What a :class:`Membership` gathered, as plain data (to send between processes): positions by entity, links."""

ReadEvents = Callable[[list[int]], dict[int, dict[str, Any]]]
"""Events read from the store by position: ``{position: event}``."""


def closure_links(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The links that can put two events in one entity's history: corrections and alternative accounts."""
    return [(relation, target) for relation, target in rows.link_targets(data) if relation in CLOSURE_RELATIONS]


def role(data: dict[str, Any], entity: EntityKey) -> str:
    """Why an event is in an entity's history: its subject, a correction, or a related account."""
    if data["kind"] == "correction":
        return "correction"
    return "subject" if entity_of(data) == entity else "related"


class Membership:
    """Every entity's events as store positions, gathered one event at a time (bodies are not kept)."""

    def __init__(self) -> None:
        self.positions: defaultdict[EntityKey, array[int]] = defaultdict(lambda: array("q"))
        self.links: list[tuple[str, str]] = []

    def add(self, data: dict[str, Any], position: int) -> None:
        """Count one event (in position order): under its own entity, and among the linked ones if it links."""
        entity = entity_of(data)
        if entity is not None:
            self.positions[entity].append(position)
        for _, target in closure_links(data):
            self.links.append((data["id"], target))

    def merge(self, positions: dict[EntityKey, array[int]], links: list[tuple[str, str]]) -> None:
        """Count what another membership gathered (its positions and links) from the events after this one's."""
        for entity, found in positions.items():
            self.positions[entity].extend(found)
        self.links.extend(links)

    def add_linked_groups(self, positions_of: Callable[[list[str]], dict[str, int]], read: ReadEvents) -> None:
        """Add the members that links bring: each group of linked events is read back and grouped by entity.

        ``positions_of`` maps event ids to store positions (ids not in the ledger are left out).
        """
        groups = linked_groups(self.links)
        self.links = []
        for chunk in gather(groups, GROUP_EVENTS):
            found = positions_of(chunk)
            events = read(sorted(found.values()))
            for entity, members in group_by_entity(events.values()).items():
                self.positions[entity].extend(found[data["id"]] for data in members)

    def entities(self) -> Iterator[tuple[EntityKey, list[int]]]:
        """Each entity (in key order) with its members' positions, ascending, each once."""
        for entity in sorted(self.positions):
            yield entity, sorted(set(self.positions[entity]))

    def __len__(self) -> int:
        return len(self.positions)


def linked_groups(links: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The ids joined by links, in connected groups (each sorted; groups by their smallest id)."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        root = key
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[key] != root:
            parent[key], key = root, parent[key]
        return root

    for one, other in links:
        low, high = sorted((find(one), find(other)))
        parent[high] = low
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for key in parent:
        groups[find(key)].append(key)
    return [sorted(groups[root]) for root in sorted(groups)]


def gather(groups: list[list[str]], size: int) -> Iterator[list[str]]:
    """Whole groups, several at a time, about ``size`` ids per chunk."""
    chunk: list[str] = []
    for group in groups:
        chunk.extend(group)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
