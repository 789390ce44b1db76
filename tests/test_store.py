"""The store appends, reads back, refuses edits at the database, and detects tampering."""

import sqlite3

import pytest

from conftest import make_event
from ledger.events import parse_event
from ledger.store import StoreError, entry_id, open_store


def dump(event):
    return parse_event(event).model_dump(mode="json", exclude_none=True)


@pytest.fixture
def store(db):
    with open_store(db) as opened:
        yield opened


def test_append_and_read_back(store):
    first = dump(make_event("kirby-a"))
    second = dump(make_event("decision-b", "policy_change"))
    assert store.append([first, second]) == [1, 2]
    assert store.append([dump(make_event("kirby-c"))]) == [3]
    assert store.get("decision-b").data == second
    assert [r.id for r in store.iter_events()] == ["kirby-a", "decision-b", "kirby-c"]
    assert [r.batch for r in store.iter_events()] == [1, 1, 3]
    assert [r.id for r in store.iter_events(after=1, before=3)] == ["decision-b"]
    assert store.get("nothing-here") is None


def test_entries_are_ordinary_eventsourcing_aggregates(store):
    event = dump(make_event("kirby-a"))
    store.append([event])
    entry = store.app.repository.get(entry_id("kirby-a"))
    assert entry.event == event
    assert entry.version == 1


def test_the_same_id_cannot_be_stored_twice(store):
    store.append([dump(make_event("kirby-a"))])
    with pytest.raises(Exception, match="UNIQUE|IntegrityError|unique"):
        store.append([dump(make_event("kirby-a", summary="changed"))])
    assert store.count() == 1


@pytest.mark.parametrize("statement", ["UPDATE stored_events SET topic='x'", "DELETE FROM stored_events", "UPDATE ledger_chain SET chain_hash='0'", "DELETE FROM ledger_chain"])
def test_update_and_delete_of_stored_events_fail(store, db, statement):
    store.append([dump(make_event("kirby-a")), dump(make_event("kirby-b"))])
    with sqlite3.connect(db) as raw, pytest.raises(sqlite3.DatabaseError, match="immutable"):
        raw.execute(statement)
    assert store.verify().ok and store.count() == 2


def test_verify_says_ok_with_count_and_head(store):
    assert store.verify().ok and store.verify().count == 0
    store.append([dump(make_event("kirby-a")), dump(make_event("kirby-b"))])
    result = store.verify()
    assert result.ok and result.count == 2 and result.head == store.head()


def test_verify_finds_a_row_edited_by_hand_after_the_triggers_were_dropped(store, db):
    store.append([dump(make_event(f"kirby-{n}")) for n in range(5)])
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER stored_events_no_update")
        raw.execute(
            "UPDATE stored_events SET state = json_set(state, '$.event.summary', 'He said it had changed.') "
            "WHERE rowid = 3"
        )
    result = store.verify()
    assert not result.ok
    assert result.first_bad_position == 3 and result.count == 2


def test_verify_finds_a_deleted_row(store, db):
    store.append([dump(make_event(f"kirby-{n}")) for n in range(3)])
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER stored_events_no_delete")
        raw.execute("DELETE FROM stored_events WHERE rowid = 2")
    result = store.verify()
    assert not result.ok and result.first_bad_position == 2


def test_the_backend_is_a_setting(db, monkeypatch):
    monkeypatch.setenv("LEDGER_BACKEND", "oracle")
    with pytest.raises(StoreError, match="unknown backend"):
        open_store(db)
    monkeypatch.setenv("LEDGER_BACKEND", "sqlite")
    monkeypatch.setenv("LEDGER_DB", db)
    with open_store() as store:
        assert store.path == db


def test_reading_a_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no ledger database"):
        open_store(str(tmp_path / "absent.db"), create=False)


def test_canonical_bytes_are_sorted_compact_json():
    import json

    from ledger.store import canonical_bytes

    data = {"b": [1, "é", {"z": None, "a": True}], "a": "quote \u201cx\u201d"}
    assert canonical_bytes(data) == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_entry_ids_are_uuid5_of_the_slug():
    import uuid

    from ledger.store import LEDGER_NAMESPACE

    assert entry_id("kirby-a") == uuid.uuid5(LEDGER_NAMESPACE, "kirby-a")


def test_the_stored_state_is_canonical_json_the_library_can_decode(store, db):
    from ledger.store import canonical_bytes

    store.append([dump(make_event("kirby-a"))])
    with sqlite3.connect(db) as raw:
        (state,) = raw.execute("SELECT state FROM stored_events").fetchone()
    import json

    assert canonical_bytes(json.loads(state)) == state
    assert json.loads(state)["event"]["id"] == "kirby-a"


def test_registry_ids_follow_what_is_put(store):
    store.put_registry([("actor", "kirby", {"id": "kirby"})])
    assert store.registry_ids() == {"actor": {"kirby"}}
    store.put_registry([("actor", "biden", {"id": "biden"}), ("question", "q-1", {"id": "q-1"})])
    assert store.registry_ids() == {"actor": {"kirby", "biden"}, "question": {"q-1"}}
