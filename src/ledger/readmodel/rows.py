"""Events and registry entries as read-model rows: plain tuples in the tables' column order."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import orjson

from ledger.dates import parse_edtf

EVENT_COLUMNS = (
    "id", "kind", "occurred", "occurred_earliest", "occurred_latest", "occurred_precision", "reported",
    "position", "batch", "recorded_at", "summary", "quote", "actors", "tags", "details",
)  # fmt: skip
SOURCE_COLUMNS = (
    "event_id", "seq", "document", "url", "outlet", "published", "quote", "attribution", "speaker", "count",
    "reliability", "credibility",
)  # fmt: skip
LINK_COLUMNS = ("event_id", "relation", "target_id")
ENTITY_EVENT_COLUMNS = ("projection", "entity", "position", "event_id", "role")

# Event fields that have columns (or tables) of their own; the rest goes to ``details`` as JSON.
OWN_COLUMNS = frozenset({"id", "kind", "occurred", "reported", "summary", "quote", "actors", "tags", "sources", "links"})

REGISTRY_TABLES = {
    "actor": ("actors", ("id", "name", "role", "type", "country", "organisation")),
    "document": ("sources", ("id", "outlet", "published", "published_note", "title", "url")),
    "question": ("questions", ("id", "text")),
}


def json_text(value: Any) -> str:
    """JSON as the read model stores it (keys sorted), so equal values give equal text."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


_json = json_text


def split_state(state: dict[str, Any]) -> tuple[str, str]:
    """A rendered state as the read model stores it: the JSON with an empty ``events`` list, and that list's JSON.

    The empty list keeps the key's place, so putting the list back (``json_set``
    in SQL, or setting the key after parsing) gives the state's JSON again.
    """
    return _json({**state, "events": []}), _json(state.get("events", []))


def whole_state(state: str, events: str) -> dict[str, Any]:
    """The rendered state from its stored text and its events list's JSON (see :func:`split_state`)."""
    found: dict[str, Any] = orjson.loads(state)
    found["events"] = orjson.loads(events)
    return found


STORED_EMPTY_EVENTS = '"events":[]'


def whole_state_json(state: str, events: str) -> str:
    """The rendered state as :func:`json_text` gives it, from its stored text and events list, unparsed.

    The events list goes back in as text, in the place :func:`split_state` kept
    for it. A text holding that key more than once (a nested ``events``) is
    parsed and dumped instead.
    """
    head, found, tail = state.partition(STORED_EMPTY_EVENTS)
    if found and STORED_EMPTY_EVENTS not in tail:
        return f'{head}"events":{events}{tail}'
    return json_text(whole_state(state, events))


@lru_cache(maxsize=100_000)
def occurred_bounds(occurred: str) -> tuple[str | None, str | None, str]:
    """An ``occurred`` text's earliest and latest days and its precision (a ledger repeats the same dates often)."""
    bounds = parse_edtf(occurred).to_dict()
    return bounds["earliest"], bounds["latest"], bounds["precision"]


def event_row(data: dict[str, Any], position: int, batch: int, recorded_at: str) -> tuple[Any, ...]:
    """One ``events`` row."""
    details = {key: value for key, value in data.items() if key not in OWN_COLUMNS}
    return (
        data["id"],
        data["kind"],
        data["occurred"],
        *occurred_bounds(data["occurred"]),
        data["reported"],
        position,
        batch,
        recorded_at,
        data["summary"],
        data.get("quote"),
        _json(data.get("actors", [])),
        _json(data.get("tags", [])),
        _json(details),
    )


def source_rows(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The ``event_sources`` rows of one event, in the order the event lists its sources."""
    event_id = data["id"]
    return [
        (
            event_id,
            seq,
            source.get("document"),
            source.get("url"),
            source["outlet"],
            source["published"],
            source.get("quote"),
            source["attribution"],
            source.get("speaker"),
            source.get("count"),
            source.get("reliability"),
            source.get("credibility"),
        )
        for seq, source in enumerate(data.get("sources", []), start=1)
    ]


def link_targets(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(relation, target id) for every link of the event.

    A correction also links to what it ``corrects``, and carries the links its
    amendment would give the corrected event (they can join it to another fact).
    """
    found = [(relation, target) for relation, targets in (data.get("links") or {}).items() for target in targets]
    if data["kind"] == "correction":
        found.append(("corrects", data["corrects"]))
        amended_links = (data.get("amended") or {}).get("links") or {}
        if isinstance(amended_links, dict):
            found += [
                (relation, target)
                for relation, targets in amended_links.items()
                if isinstance(targets, list)
                for target in targets
                if isinstance(target, str)
            ]
    return found


def link_rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The ``links`` rows of one event (duplicates dropped)."""
    event_id = data["id"]
    return list(dict.fromkeys((event_id, relation, target) for relation, target in link_targets(data)))


def registry_rows(entries: Iterable[tuple[str, str, dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Registry entries ``(kind, id, data)`` as rows by kind (see :data:`REGISTRY_TABLES` for table and columns)."""
    found: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in REGISTRY_TABLES}
    for kind, key, data in entries:
        if kind in REGISTRY_TABLES:
            columns = REGISTRY_TABLES[kind][1]
            found[kind].append(tuple(key if column == "id" else data.get(column) for column in columns))
    return found


def insert_sql(table: str, columns: Iterable[str], verb: str = "INSERT") -> str:
    columns = tuple(columns)
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
