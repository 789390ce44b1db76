"""A store whose hash chain was written in the earlier layout is upgraded once, checked before and after, and reads the same."""

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from conftest import make_event
from ledger.events import parse_event
from ledger.store import StoreError, codec_of, open_reader, open_store, read_head

EARLIER_CHAIN = """
CREATE TABLE ledger_chain (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    chain_hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    batch INTEGER NOT NULL
)
"""
EARLIER_TRIGGERS = [
    f"CREATE TRIGGER ledger_chain_no_{action.lower()} BEFORE {action} ON ledger_chain "
    "BEGIN SELECT RAISE(ABORT, 'ledger events are immutable: record a correction event instead'); END"
    for action in ("UPDATE", "DELETE")
] + [
    "CREATE TRIGGER ledger_chain_append_only BEFORE INSERT ON ledger_chain "
    "WHEN NEW.position <= (SELECT COALESCE(MAX(position), 0) FROM ledger_chain) "
    "OR EXISTS (SELECT 1 FROM ledger_chain WHERE event_id = NEW.event_id) "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: record a correction event instead'); END"
]
T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)


def events(count, start=0):
    kinds = ["statement", "policy_change", "request", "battlefield", "aid_package"]
    made = [make_event(f"event-{n:05d}", kinds[n % len(kinds)], summary=f"Summary {n}.") for n in range(start, start + count)]
    return [parse_event(data).model_dump(mode="json", exclude_none=True) for data in made]


def written_in_the_earlier_layout(db):
    """Rewrite a store's chain as the earlier version kept it: per position the id, both hashes in hex, the time and the batch."""
    conn = sqlite3.connect(db, isolation_level=None)
    codec = codec_of(conn)
    rows = conn.execute(
        "SELECT c.position, c.chain_hash, s.state, "
        "(SELECT batch FROM ledger_chain_batches WHERE batch <= c.position ORDER BY batch DESC LIMIT 1) AS batch "
        "FROM ledger_chain c JOIN stored_events s ON s.rowid = c.position ORDER BY c.position"
    ).fetchall()
    times = dict(conn.execute("SELECT batch, recorded_at FROM ledger_chain_batches").fetchall())
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'ledger_chain%'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE ledger_chain")
    conn.execute("DROP TABLE ledger_chain_batches")
    conn.execute(EARLIER_CHAIN)
    for position, chain_hash, state, batch in rows:
        canonical = codec.canonical(state)
        conn.execute(
            "INSERT INTO ledger_chain VALUES (?, ?, ?, ?, ?, ?)",
            (position, codec.event(state)["id"], hashlib.sha256(canonical).hexdigest(), chain_hash.hex(), times[batch], batch),
        )
    for statement in EARLIER_TRIGGERS:
        conn.execute(statement)
    conn.close()


def chain_columns(db):
    with sqlite3.connect(db) as conn:
        return [row[1] for row in conn.execute("PRAGMA table_info(ledger_chain)")]


@pytest.fixture
def earlier(tmp_path):
    """A store of three appends (the second trains the dictionary) and what it answers, then rewritten in the earlier layout."""
    db = str(tmp_path / "ledger.db")
    with open_store(db) as store:
        store.put_registry([("actor", "us", {"name": "United States"})])
        for n, (start, count) in enumerate([(0, 10), (10, 1_200), (1_210, 5)]):
            store.append(events(count, start), recorded_at=T0 + timedelta(hours=n))
        answers = answers_of(store)
    written_in_the_earlier_layout(db)
    assert "event_id" in chain_columns(db)
    return db, answers


def answers_of(store):
    return {
        "head": store.head(),
        "verify": store.verify(),
        "batches": store.batches(),
        "events": list(store.events(1)),
        "get": store.get("event-00500"),
        "positions": store.positions_of(["event-00003", "event-01214", "nothing"]),
        "hashes": store.content_hashes(["event-00003", "event-01214"]),
        "at": store.position_at((T0 + timedelta(minutes=30)).isoformat()),
        "batch_start": store.batch_start(600),
        "leaves": list(store.leaf_inputs()),
        "leaf_of": store.leaf_of("event-01000"),
    }


def test_a_writer_upgrades_the_earlier_chain_once_and_every_answer_stays_the_same(earlier):
    db, answers = earlier
    assert read_head(db) == answers["head"]  # read as it is, before any upgrade
    with open_store(db) as store:
        assert answers_of(store) == answers
        assert store.verify().count == 1_215
    assert chain_columns(db) == ["position", "chain_hash"]
    with open_store(db) as store:  # the next writer finds nothing to do, and appends after the head
        assert store.append(events(2, 5_000), recorded_at=T0 + timedelta(days=1)) == [1_216, 1_217]
        assert store.verify().ok and store.batches()[-1].start == 1_216


def test_a_reader_opening_the_earlier_layout_has_it_upgraded_first(earlier):
    db, answers = earlier
    with open_reader(db) as reader:
        assert answers_of(reader) == answers
    assert chain_columns(db) == ["position", "chain_hash"]


def test_the_upgraded_chain_refuses_edits_like_the_earlier_one(earlier):
    db, _ = earlier
    open_store(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    for statement in (
        "UPDATE ledger_chain SET chain_hash = zeroblob(32) WHERE position = 3",
        "DELETE FROM ledger_chain WHERE position = 1215",
        "INSERT INTO ledger_chain VALUES (2000, zeroblob(32))",
        "REPLACE INTO ledger_chain SELECT * FROM ledger_chain WHERE position = 3",
        "UPDATE ledger_chain_batches SET recorded_at = 'x'",
        "DELETE FROM ledger_chain_batches",
        "INSERT INTO ledger_chain_batches VALUES (1, 'x')",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only|immutable"):
            conn.execute(statement)
    conn.close()


def test_an_earlier_chain_that_does_not_verify_is_not_rewritten(earlier):
    db, _ = earlier
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER ledger_chain_no_update")
    conn.execute(f"UPDATE ledger_chain SET chain_hash = '{'0' * 64}' WHERE position = 7")
    conn.close()
    with pytest.raises(StoreError, match="breaks at position 7"):
        open_store(db)
    assert "event_id" in chain_columns(db)


def test_a_store_in_the_earlier_layout_that_cannot_be_written_is_refused_with_a_reason(earlier, monkeypatch):
    from ledger.store import recorder

    def read_only(location, create=True):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    db, _ = earlier
    monkeypatch.setattr(recorder, "open_backend", read_only)
    with pytest.raises(StoreError, match="earlier layout and cannot be upgraded: attempt to write a readonly database"):
        open_reader(db)
    assert "event_id" in chain_columns(db)
