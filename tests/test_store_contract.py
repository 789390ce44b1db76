"""The store contract (ledger.store.interface), checked on every backend: SQLite and PostgreSQL.

Each test runs once per backend through the ``store`` fixture, as eventsourcing's
recorder test cases are subclassed once per database. A backend passes when it
gives the same positions, the same chain, the same refusals and the same answers.
"""

from __future__ import annotations

import hashlib
import importlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import make_event
from ledger.store import open_reader, prepare_event
from ledger.store.interface import Appended, DuplicateEvent, Head, PreparedEvent, StoreBackend, StoreError

BACKENDS = {"sqlite": "ledger.store.recorder", "postgres": "ledger.store.postgres"}
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def events(*ids: str, **fields: Any) -> list[PreparedEvent]:
    return [prepare_event(make_event(event_id, **fields)) for event_id in ids]


def expected_chain(prepared: list[PreparedEvent]) -> list[str]:
    """The chain the contract defines: SHA-256 over the previous hash and each event's canonical bytes."""
    previous, chain = bytes(32), []
    for event in prepared:
        previous = hashlib.sha256(previous + event.canonical).digest()
        chain.append(previous.hex())
    return chain


@pytest.fixture(params=list(BACKENDS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def location(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a new, empty ledger of this kind goes."""
    if kind == "postgres":
        return request.getfixturevalue("postgres_url")
    return str(tmp_path / "ledger.db")


@pytest.fixture
def open_backend(kind: str) -> Callable[..., StoreBackend]:
    return importlib.import_module(BACKENDS[kind]).open_backend


@pytest.fixture
def store(open_backend: Callable[..., StoreBackend], location: str) -> Iterator[StoreBackend]:
    backend = open_backend(location)
    yield backend
    backend.close()


@pytest.fixture
def raw(kind: str, location: str, store: StoreBackend) -> Iterator[Callable[[str], Any]]:
    """Run one SQL statement straight against the database, as someone with a SQL prompt would."""
    if kind == "postgres":
        conn: Any = psycopg.connect(location, autocommit=True)
    else:
        conn = sqlite3.connect(location, isolation_level=None)
    yield lambda sql: conn.execute(sql)
    conn.close()


@pytest.fixture
def tamper(kind: str, location: str, store: StoreBackend) -> Iterator[Callable[[str], None]]:
    """Run a statement the triggers would refuse, with them out of the way (what an attacker with file or superuser access does)."""
    if kind == "postgres":
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # triggers off for this session (superuser only)
            yield lambda sql: None if conn.execute(sql) else None
        return
    conn = sqlite3.connect(location, isolation_level=None)
    names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in names:
        conn.execute(f"DROP TRIGGER {name}")
    yield lambda sql: None if conn.execute(sql) else None
    conn.close()


# -- positions and the chain ---------------------------------------------------------------


def test_an_empty_store_has_no_head_no_events_and_verifies(store: StoreBackend) -> None:
    assert store.head() == Head(0, None)
    assert store.count() == 0
    assert store.batches() == []
    assert list(store.events(1)) == []
    assert store.get("anything") is None
    assert store.position_at(T0.isoformat()) == 1
    verification = store.verify()
    assert (verification.ok, verification.count, verification.head) == (True, 0, None)


def test_appends_take_consecutive_positions_from_one_and_each_is_a_batch(store: StoreBackend) -> None:
    first = store.append(events("a", "b", "c"), recorded_at=T0)
    second = store.append(events("d", "e"), recorded_at=T0 + timedelta(hours=1))
    assert first == Appended([1, 2, 3], [])
    assert second == Appended([4, 5], [])
    assert [(batch.start, batch.end, batch.size) for batch in store.batches()] == [(1, 3, 3), (4, 5, 2)]
    assert store.batches(after=3) == [(4, 5)]
    assert [store.batch_start(position) for position in (1, 3, 4, 5, 6)] == [1, 1, 4, 4, None]
    assert store.count() == 5


def test_the_chain_is_sha256_over_the_previous_hash_and_the_canonical_bytes(store: StoreBackend) -> None:
    prepared = events("a", "b", "c", "d")
    store.append(prepared[:1])
    store.append(prepared[1:])
    chain = expected_chain(prepared)
    assert store.head() == Head(4, chain[-1])
    assert [store.chain_hash(position) for position in range(1, 6)] == [*chain, None]
    assert [event.chain_hash for event in store.events(1)] == chain
    verification = store.verify()
    assert (verification.ok, verification.count, verification.head) == (True, 4, chain[-1])


def test_an_event_recorded_again_with_the_same_content_is_skipped(store: StoreBackend) -> None:
    store.append(events("a", "b"))
    appended = store.append(events("b", "c", "c"))
    assert appended == Appended([3], ["b", "c"])
    assert store.count() == 3


def test_an_id_recorded_with_other_content_refuses_the_whole_append(store: StoreBackend) -> None:
    store.append(events("a"))
    head = store.head()
    with pytest.raises(DuplicateEvent) as refused:
        store.append(events("new-one") + events("a", summary="Something else."), registry=[("actors", "x", {"id": "x"})])
    assert refused.value.event_ids == ["a"]
    assert store.head() == head
    assert store.get("new-one") is None
    assert store.registry() == {}


# -- reading -------------------------------------------------------------------------------


def test_reads_by_position_by_id_and_by_recorded_time(store: StoreBackend) -> None:
    store.append(events("a", "b"), recorded_at=T0)
    store.append(events("c"), recorded_at=T0 + timedelta(days=1))
    recorded = store.get("c")
    assert recorded is not None
    assert (recorded.position, recorded.batch, recorded.id) == (3, 3, "c")
    assert recorded.data == make_event("c")
    assert recorded.recorded_at == (T0 + timedelta(days=1)).isoformat()
    assert [event.id for event in store.events(2)] == ["b", "c"]
    assert [event.id for event in store.events(1, 2)] == ["a", "b"]
    assert {position: data["id"] for position, data in store.events_at([3, 1, 99]).items()} == {1: "a", 3: "c"}
    assert store.positions_of(["c", "a", "missing"]) == {"a": 1, "c": 3}
    assert store.positions_of(["c", "a"], up_to=2) == {"a": 1}
    assert store.content_hashes(["b", "missing"]) == {"b": hashlib.sha256(events("b")[0].canonical).hexdigest()}
    assert store.position_at(T0.isoformat()) == 3
    assert store.position_at((T0 - timedelta(seconds=1)).isoformat()) == 1
    assert store.position_at((T0 + timedelta(days=2)).isoformat()) == 4


def test_recorded_times_are_utc_iso_strings_whatever_zone_they_were_given_in(store: StoreBackend) -> None:
    store.append(events("naive"), recorded_at=datetime(2024, 6, 1, 12, 0))
    store.append(events("zoned"), recorded_at=datetime(2024, 6, 1, 14, 30, tzinfo=UTC).astimezone().astimezone(UTC))
    assert [event.recorded_at for event in store.events(1)] == ["2024-06-01T12:00:00+00:00", "2024-06-01T14:30:00+00:00"]


def test_a_reader_opened_on_the_location_sees_what_the_backend_wrote(store: StoreBackend, location: str) -> None:
    store.append(events("a", "b"), registry=[("actors", "kirby", {"id": "kirby"})])
    with open_reader(location) as reader:
        assert reader.head() == store.head()
        assert [event.id for event in reader.events(1)] == ["a", "b"]
        assert reader.registry() == {"actors": {"kirby": {"id": "kirby"}}}
        assert reader.verify().head == store.head().chain_hash


def test_states_compressed_with_the_ledgers_trained_dictionary_read_back_exactly(store: StoreBackend) -> None:
    many = [make_event(f"event-{i:04}", summary=f"Statement number {i} on the guidance.") for i in range(1100)]
    store.append([prepare_event(data) for data in many[:600]])
    store.append([prepare_event(data) for data in many[600:]])
    assert [event.data for event in store.events(1)] == many
    verification = store.verify()
    assert (verification.ok, verification.count) == (True, 1100)


# -- the registry --------------------------------------------------------------------------


def test_registry_entries_are_written_with_an_append_and_replaced_by_kind_and_id(store: StoreBackend) -> None:
    store.append([], registry=[("actors", "kirby", {"id": "kirby", "name": "John Kirby"}), ("documents", "doc-a", {"id": "doc-a"})])
    mark = store.registry_mark()
    assert store.head() == Head(0, None)
    store.append(events("a"), registry=[("actors", "kirby", {"id": "kirby", "name": "J. Kirby"})])
    assert store.registry() == {"actors": {"kirby": {"id": "kirby", "name": "J. Kirby"}}, "documents": {"doc-a": {"id": "doc-a"}}}
    assert store.registry("documents") == {"documents": {"doc-a": {"id": "doc-a"}}}
    assert store.registry_ids() == {"actors": {"kirby"}, "documents": {"doc-a"}}
    assert store.registry_mark() != mark


# -- the Merkle log ------------------------------------------------------------------------


def test_the_log_has_a_leaf_per_changed_registry_entry_then_per_event_and_keeps_checkpoints(store: StoreBackend) -> None:
    from ledger.merkle import leaf_hash

    store.append(events("a", "b"), registry=[("actors", "kirby", {"id": "kirby"})], recorded_at=T0)
    store.append(events("c"), registry=[("actors", "kirby", {"id": "kirby"}), ("actors", "biden", {"id": "biden"})], recorded_at=T0)
    inputs = list(store.leaf_inputs())
    assert [(leaf, position) for leaf, position, _ in inputs] == [(0, None), (1, 1), (2, 2), (3, None), (4, 3)]
    assert store.log_size() == 5
    assert store.leaf_hashes() == [leaf_hash(leaf_input) for _, _, leaf_input in inputs if leaf_input is not None]
    assert store.leaf_hashes(2) == store.leaf_hashes()[:2]
    assert (store.leaf_of("c"), store.leaf_of("missing")) == (4, None)
    assert [store.log_position(size) for size in (0, 1, 3, 4, 5)] == [0, 0, 2, 2, 3]
    assert store.leaf_input(1).startswith(b'{"entry":"event","event":')
    store.put_checkpoint(5, "ab" * 32, T0.isoformat(), None, "checkpoint one")
    store.put_checkpoint(5, "ab" * 32, T0.isoformat(), "key", "checkpoint two")
    assert store.checkpoints() == ["checkpoint one", "checkpoint two"]


# -- guarantees at the database ------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE stored_events SET topic = 'changed'",
        "DELETE FROM stored_events",
        "UPDATE ledger_chain SET chain_hash = 'x'",
        "DELETE FROM ledger_chain",
        "UPDATE ledger_log SET hash = hash",
        "DELETE FROM ledger_log",
    ],
)
def test_stored_events_and_the_chain_cannot_be_updated_or_deleted(store: StoreBackend, raw: Callable[[str], Any], statement: str) -> None:
    store.append(events("a", "b"))
    head = store.head()
    with pytest.raises((sqlite3.DatabaseError, psycopg.DatabaseError), match="immutable|append-only"):
        raw(statement)
    assert store.head() == head
    assert store.verify().ok


def test_verify_names_the_first_position_where_a_tampered_chain_breaks(store: StoreBackend, tamper: Callable[[str], None]) -> None:
    store.append(events("a", "b", "c"))
    tamper(f"UPDATE ledger_chain SET chain_hash = '{'0' * 64}' WHERE position = 2")
    verification = store.verify()
    assert (verification.ok, verification.first_bad_position, verification.reason) == (False, 2, "the hash chain breaks here")


def test_opening_a_missing_ledger_without_create_says_so(open_backend: Callable[..., StoreBackend], location: str) -> None:
    with pytest.raises(StoreError, match="no ledger"):
        open_backend(location, create=False)


# -- the backends side by side -------------------------------------------------------------


def test_both_backends_keep_the_same_bytes_the_same_chain_and_give_the_same_answers(tmp_path: Path, postgres_url: str) -> None:
    sqlite_path = str(tmp_path / "ledger.db")
    stores = [importlib.import_module(module).open_backend(where) for module, where in zip(BACKENDS.values(), (sqlite_path, postgres_url))]
    many = [make_event(f"event-{i:04}", summary=f"Statement {i}.") for i in range(1200)]
    appends = [(many[:400], T0), (many[400:1100], T0 + timedelta(hours=2)), (many[1000:], T0 + timedelta(days=3, microseconds=7))]
    for store in stores:
        for batch, when in appends:
            store.append([prepare_event(data) for data in batch], registry=[("actors", "kirby", {"id": "kirby"})], recorded_at=when)

    def answers(store: StoreBackend) -> list[Any]:
        return [
            store.head(),
            store.count(),
            store.batches(),
            list(store.events(1)),
            store.events_at([1, 500, 1200]),
            store.positions_of(["event-0003", "event-1199"]),
            store.get("event-0999"),
            [store.position_at((T0 + timedelta(hours=hours)).isoformat()) for hours in (-1, 0, 1, 2, 80)],
            store.registry(),
            store.verify(),
            store.leaf_hashes(),
            list(store.leaf_inputs()),
        ]

    sqlite_store, postgres_store = stores
    assert answers(sqlite_store) == answers(postgres_store)
    with sqlite3.connect(sqlite_path) as conn:
        sqlite_rows = conn.execute("SELECT state FROM stored_events ORDER BY rowid").fetchall()
        sqlite_codec = conn.execute("SELECT * FROM ledger_codec").fetchall()
    with psycopg.connect(postgres_url) as pg:
        postgres_rows = pg.execute("SELECT state FROM stored_events ORDER BY notification_id").fetchall()
        postgres_codec = pg.execute("SELECT * FROM ledger_codec").fetchall()
    assert sqlite_codec == postgres_codec and len(sqlite_codec) == 1
    assert [bytes(row[0]) for row in sqlite_rows] == [bytes(row[0]) for row in postgres_rows]
    for store in stores:
        store.close()
