"""Each entity's states stored once, and its events lists as prefixes of a few stored lists.

An entity's version rows repeat the same state whenever only their known or
recorded range differs, and each row's ``events`` list (every event folded
into its state) is mostly the start of a longer row's list: stored in every
row, they made the read model grow with the square of an entity's history.
:class:`EntityStates` gives a row's state an id in ``<name>_states`` (one per
distinct state of the entity) and its list a place in ``event_lists``: the
id of a stored list and how many characters of it the row's list takes
(``events_end``); a list that extends a stored one replaces it, which leaves
the rows that end earlier as they were.

States and lists are shared within an entity only (a state names its entity,
so no two entities have one in common), so an entity's rows can be written
knowing nothing of the others: a rebuild numbers them per group of entities
and shifts the numbers when it writes the group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Row = tuple[Any, ...]


class Ids:
    """The next free id of a table."""

    def __init__(self, first: int = 1) -> None:
        self.next = first

    def take(self) -> int:
        self.next += 1
        return self.next - 1


class EntityStates:
    """One entity's stored states (text → id) and events lists (id → JSON text without its closing bracket)."""

    def __init__(
        self, state_ids: Ids, list_ids: Ids, states: Iterable[tuple[int, str]] = (), lists: Iterable[tuple[int, str]] = ()
    ) -> None:
        self.state_ids, self.list_ids = state_ids, list_ids
        self.states = {text: state_id for state_id, text in states}
        self.lists = {list_id: text[:-1] for list_id, text in lists}
        self.new_states: list[tuple[int, str]] = []
        self.changed_lists: set[int] = set()

    def stored(self, row: Row) -> Row:
        """The history table's row for a :data:`~ledger.readmodel.versions.Row` (``STORED_COLUMNS``)."""
        return (*row[:10], self.state_id(row[10]), *self.events_place(row[11]))

    def state_id(self, text: str) -> int:
        found = self.states.get(text)
        if found is None:
            found = self.states[text] = self.state_ids.take()
            self.new_states.append((found, text))
        return found

    def events_place(self, events: str) -> tuple[int, int]:
        """(stored list, characters) for an events list: a stored list it starts, or one it extends, or a new one."""
        body = events[:-1]
        end = len(body)
        for list_id, stored in self.lists.items():
            if stored.startswith(body) and (len(stored) == end or stored[end] == ","):
                return list_id, end
        for list_id, stored in self.lists.items():
            if body.startswith(stored) and body[len(stored)] == ",":
                return self._keep(list_id, body), end
        return self._keep(self.list_ids.take(), body), end

    def _keep(self, list_id: int, body: str) -> int:
        self.lists[list_id] = body
        self.changed_lists.add(list_id)
        return list_id

    def written_lists(self) -> list[tuple[int, str]]:
        """The lists made or extended, as ``event_lists`` rows."""
        return [(list_id, self.lists[list_id] + "]") for list_id in sorted(self.changed_lists)]
