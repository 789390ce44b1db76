"""The store appends, reads back, compresses, refuses edits at the database, and detects tampering."""

import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timezone
from pathlib import Path

import pytest

from conftest import make_event
from ledger.events import parse_event
from ledger.merkle import leaf_hash
from ledger.store import (
    STATE_HEADER,
    TRAINING_MIN,
    Appended,
    DuplicateEvent,
    StoreError,
    canonical_bytes,
    codec_of,
    entry_id,
    event_reader,
    library_state,
    open_reader,
    open_store,
    prepare_event,
    read_head,
)
from ledger.store.recorder import WRITER_CACHE_KIB

KINDS = ["statement", "policy_change", "request", "battlefield", "aid_package"]
RECORDED_AT = datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)


def dump(event):
    return parse_event(event).model_dump(mode="json", exclude_none=True)


def many(count, start=0):
    """``count`` varied events, enough of them for the store to train a dictionary."""
    return [
        dump(make_event(f"event-{n:05d}", KINDS[n % len(KINDS)], summary=f"Summary number {n} of the ledger."))
        for n in range(start, start + count)
    ]


def states(db):
    with sqlite3.connect(db) as raw:
        return [state for (state,) in raw.execute("SELECT state FROM stored_events ORDER BY rowid")]


def rewrite_event(db, position, change):
    """Change a stored event the way someone with the file could: decode, edit, re-encode with the store's codec."""
    with sqlite3.connect(db) as raw:
        codec = codec_of(raw)
        (state,) = raw.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()
        dictionary_id, recorded_us = codec.header(state)
        event = codec.event(state)
        change(event)
        forged = codec.encode(canonical_bytes(event), recorded_us, dictionary_id)
        raw.execute("DROP TRIGGER stored_events_no_update")
        raw.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (forged, position))


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


def test_the_same_id_with_other_content_is_refused_and_nothing_of_the_append_is_written(store):
    store.append([dump(make_event("kirby-a"))])
    with pytest.raises(DuplicateEvent, match="kirby-a"):
        store.append([dump(make_event("kirby-b")), dump(make_event("kirby-a", summary="changed"))])
    assert store.count() == 1 and store.get("kirby-b") is None


def test_an_event_already_recorded_with_the_same_content_is_skipped(store):
    store.append([dump(make_event("kirby-a"))])
    appended = store.record([prepare_event(dump(make_event("kirby-a"))), prepare_event(dump(make_event("kirby-b")))])
    assert appended == Appended([2], ["kirby-a"])
    assert [r.id for r in store.iter_events()] == ["kirby-a", "kirby-b"]


def test_registry_entries_are_written_in_the_events_transaction(store):
    store.append([dump(make_event("kirby-a"))])
    refused = [prepare_event(dump(make_event("kirby-b"))), prepare_event(dump(make_event("kirby-a", summary="changed")))]
    with pytest.raises(DuplicateEvent):
        store.record(refused, [("actor", "kirby", {"id": "kirby"})])
    assert store.registry() == {} and store.count() == 1
    store.record([prepare_event(dump(make_event("kirby-b")))], [("actor", "kirby", {"id": "kirby"})])
    assert store.registry() == {"actor": {"kirby": {"id": "kirby"}}} and store.count() == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE stored_events SET topic='x'",
        "DELETE FROM stored_events",
        "UPDATE ledger_chain SET chain_hash='0'",
        "DELETE FROM ledger_chain",
    ],
)
def test_update_and_delete_of_stored_events_fail(store, db, statement):
    store.append([dump(make_event("kirby-a")), dump(make_event("kirby-b"))])
    with sqlite3.connect(db) as raw, pytest.raises(sqlite3.DatabaseError, match="immutable"):
        raw.execute(statement)
    assert store.verify().ok and store.count() == 2


def test_verify_says_ok_with_count_and_head(store):
    assert store.verify().ok and store.verify().count == 0
    store.append([dump(make_event("kirby-a")), dump(make_event("kirby-b"))])
    result = store.verify()
    assert result.ok and result.count == 2 and result.head == store.head().chain_hash
    assert store.head().position == 2


@pytest.mark.parametrize("count", [5, TRAINING_MIN], ids=["without-dictionary", "with-dictionary"])
def test_verify_finds_a_row_edited_by_hand_after_the_triggers_were_dropped(store, db, count):
    store.append(many(count))
    rewrite_event(db, 3, lambda event: event.update(summary="He said it had changed."))
    assert store.get("event-00002").data["summary"] == "He said it had changed."
    result = store.verify()
    assert not result.ok
    assert result.first_bad_position == 3 and result.count == 2


def test_verify_finds_a_state_that_is_no_longer_readable(store, db):
    store.append(many(3))
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER stored_events_no_update")
        raw.execute("UPDATE stored_events SET state = substr(state, 1, 20) WHERE rowid = 2")
    result = store.verify()
    assert not result.ok and result.first_bad_position == 2 and result.reason == "the stored event is not readable"


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


def test_the_stored_state_is_a_header_and_the_compressed_canonical_event(store, db):
    event = dump(make_event("kirby-a"))
    store.append([event], recorded_at=RECORDED_AT)
    (state,) = states(db)
    with sqlite3.connect(db) as raw:
        codec = codec_of(raw)
        assert codec.header(state) == (0, int(RECORDED_AT.timestamp()) * 1_000_000 + 123456)  # no dictionary yet
        assert codec.canonical(state) == canonical_bytes(event)
        assert event_reader(raw)(state) == event
    assert len(state) < len(canonical_bytes(event))


def test_the_library_reads_the_entry_back_with_its_content_hash_and_time(store):
    from ledger.store import content_hash

    event = dump(make_event("kirby-a"))
    store.append([event], recorded_at=RECORDED_AT)
    entry = store.app.repository.get(entry_id("kirby-a"))
    assert entry.event == event
    assert entry.content_hash == content_hash(event)
    assert entry.created_on == RECORDED_AT


def test_a_dictionary_is_trained_on_the_ledgers_own_events_and_kept_in_the_store(store, db):
    events = many(TRAINING_MIN)
    store.append(events)
    with sqlite3.connect(db) as raw:
        codec = codec_of(raw)
        assert raw.execute("SELECT id, first_position, samples FROM ledger_codec").fetchall() == [(1, 1, TRAINING_MIN)]
        stored = states(db)
        assert {codec.header(state)[0] for state in stored} == {1}
        read = event_reader(raw)
        assert [read(state) for state in stored] == events
        with pytest.raises(sqlite3.DatabaseError, match="immutable"):
            raw.execute("DELETE FROM ledger_codec")
    plain = sum(len(canonical_bytes(event)) for event in events)
    assert sum(len(state) for state in stored) < plain / 5
    assert store.app.repository.get(entry_id("event-00007")).event == events[7]
    assert store.verify().ok


def test_below_the_training_size_appends_wait_then_train_on_what_is_stored(store, db):
    third = TRAINING_MIN // 3 + 1  # three appends cross the training size, two do not
    store.append(many(third))
    store.append(many(third, start=third))
    assert {STATE_HEADER.unpack_from(state)[1] for state in states(db)} == {0}
    store.append(many(third, start=2 * third))
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT first_position, samples FROM ledger_codec").fetchall() == [(2 * third + 1, 3 * third)]
    assert [STATE_HEADER.unpack_from(state)[1] for state in states(db)] == [0] * 2 * third + [1] * third
    assert [r.id for r in store.iter_events()] == [e["id"] for e in many(3 * third)]
    assert store.verify().ok


def test_a_failed_append_leaves_no_dictionary_behind(store, db):
    store.append(many(1))
    changed = many(TRAINING_MIN)
    changed[0]["summary"] = "Not what was recorded."
    with pytest.raises(DuplicateEvent):
        store.append(changed)  # would train, but records event-00000 again with other content
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT COUNT(*) FROM ledger_codec").fetchone() == (0,)
    store.append(many(TRAINING_MIN, start=1))
    assert [r.id for r in store.iter_events()] == [e["id"] for e in many(TRAINING_MIN + 1)]
    with sqlite3.connect(db) as raw:
        assert [event_reader(raw)(state)["id"] for state in states(db)][-1] == f"event-{TRAINING_MIN:05d}"
    assert store.verify().ok


def test_recorded_times_are_kept_in_utc(store):
    from datetime import timedelta

    store.append([dump(make_event("kirby-a"))], recorded_at=datetime(2024, 6, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))))
    assert store.get("kirby-a").recorded_at == "2024-06-01T12:30:00+00:00"
    assert store.app.repository.get(entry_id("kirby-a")).created_on == datetime(2024, 6, 1, 12, 30, tzinfo=UTC)


def test_the_same_events_appended_the_same_way_give_the_same_bytes(tmp_path):
    stored = []
    for name in ("one.db", "two.db"):
        db = str(tmp_path / name)
        with open_store(db) as store:
            store.append(many(TRAINING_MIN), recorded_at=RECORDED_AT)
            store.append(many(10, start=TRAINING_MIN), recorded_at=RECORDED_AT)
        with sqlite3.connect(db) as raw:
            stored.append((raw.execute("SELECT * FROM ledger_codec").fetchall(), states(db)))
    assert stored[0] == stored[1]


def test_a_reader_made_before_the_dictionary_reads_what_is_written_after_it(store, db):
    with sqlite3.connect(db) as raw:
        read = event_reader(raw)
        store.append(many(TRAINING_MIN))
        assert read(states(db)[-1])["id"] == f"event-{TRAINING_MIN - 1:05d}"


def test_a_store_written_before_compression_is_still_read_verified_and_appended_to(store, db):
    events = many(3)
    store.append(events, recorded_at=RECORDED_AT)
    with sqlite3.connect(db) as raw:  # turn it into a store of the earlier format: plain JSON states, no codec table
        raw.execute("DROP TRIGGER stored_events_no_update")
        for position, event in enumerate(events, start=1):
            raw.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                (library_state(canonical_bytes(event), RECORDED_AT.isoformat()), position),
            )
        raw.execute("DROP TABLE ledger_codec")
        assert [event_reader(raw)(state) for state in states(db)] == events
    with open_store(db) as reopened:
        assert reopened.get("event-00001").data == events[1]
        assert reopened.app.repository.get(entry_id("event-00002")).event == events[2]
        assert reopened.verify().ok
        reopened.append(many(TRAINING_MIN, start=3))
        assert reopened.verify().ok and reopened.count() == TRAINING_MIN + 3
        assert reopened.get("event-00000").data == events[0]


def test_registry_ids_follow_what_is_put(store):
    store.put_registry([("actor", "kirby", {"id": "kirby"})])
    assert store.registry_ids() == {"actor": {"kirby"}}
    store.put_registry([("actor", "biden", {"id": "biden"}), ("question", "q-1", {"id": "q-1"})])
    assert store.registry_ids() == {"actor": {"kirby", "biden"}, "question": {"q-1"}}


def test_the_head_is_read_without_loading_the_codec_or_the_library(store, db):
    store.append([dump(make_event("kirby-a")), dump(make_event("kirby-b"))])
    code = (
        "import sys; from ledger.store import read_head; head = read_head(sys.argv[1]);"
        "print(head.position, head.chain_hash, sorted(m for m in ('eventsourcing', 'zstandard', 'pydantic') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code, db], capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["2", store.head().chain_hash, "[]"]


def test_there_is_no_head_where_there_is_no_ledger(tmp_path):
    assert read_head(tmp_path / "absent.db") is None
    with open_store(str(tmp_path / "empty.db")):
        pass
    assert read_head(tmp_path / "empty.db") == (0, None)


def test_a_reader_sees_what_the_writer_appended(store, db):
    store.append([dump(make_event("kirby-a"))])
    with open_reader(db) as reader:
        store.append([dump(make_event("kirby-b"))], recorded_at=RECORDED_AT)
        assert reader.head() == store.head() and reader.batches() == [(1, 1), (2, 2)]
        assert [event.id for event in reader.events(1)] == ["kirby-a", "kirby-b"]
        assert reader.events_at([2]) == {2: store.get("kirby-b").data}
        assert reader.positions_of(["kirby-b", "nothing"]) == {"kirby-b": 2}
        assert reader.verify().head == store.head().chain_hash


STORE_TABLES = re.compile(r"\b(stored_events|ledger_chain|ledger_registry|ledger_codec)\b")


def test_no_module_outside_the_store_names_its_tables():
    root = Path(__file__).resolve().parent.parent
    outside = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("src", "benchmarks")
        for path in sorted((root / folder).rglob("*.py"))
        if "store" not in path.relative_to(root / folder).parts[:2]
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if STORE_TABLES.search(line)
    ]
    outside = [where for where in outside if not where.startswith("benchmarks/run.py:")]  # counts the chain's bytes on disk by name
    assert outside == []


def test_the_environment_is_read_only_in_the_settings_module():
    root = Path(__file__).resolve().parent.parent
    readers = re.compile(r"os\.environ|os\.getenv|\benvvar=")
    outside = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("src", "benchmarks")
        for path in sorted((root / folder).rglob("*.py"))
        if path != root / "src" / "ledger" / "settings.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if readers.search(line)
    ]
    assert outside == []


def test_an_id_given_twice_in_one_append_is_recorded_once_or_refused(store):
    same = prepare_event(dump(make_event("kirby-a")))
    assert store.record([same, prepare_event(dump(make_event("kirby-b"))), same]) == Appended([1, 2], ["kirby-a"])
    with pytest.raises(DuplicateEvent, match="kirby-c"):
        store.record([prepare_event(dump(make_event("kirby-c"))), prepare_event(dump(make_event("kirby-c", summary="other")))])
    assert store.count() == 2


def test_the_logs_leaf_hashes_are_the_rfc_9162_hashes_of_the_leaf_inputs(store):
    store.put_registry([("actor", "kirby", {"id": "kirby", "name": "John Kirby"})])
    store.append(many(30), recorded_at=RECORDED_AT)
    store.append(many(20, start=30))
    inputs = [leaf_input for _, _, leaf_input in store.leaf_inputs()]
    assert len(inputs) == store.log_size() == 51 and all(inputs)
    assert store.leaf_hashes() == [leaf_hash(leaf_input) for leaf_input in inputs]
    assert inputs[1].startswith(b'{"entry":"event","event":') and inputs[1].endswith(
        b',"position":1,"recorded_at":"2024-06-01T12:30:15.123456+00:00"}'
    )


def test_a_writer_keeps_more_of_the_file_in_memory_than_a_reader(store, db):
    with open_reader(db) as reader:
        default = reader.conn.execute("PRAGMA cache_size").fetchone()[0]  # type: ignore[attr-defined]  # a SQLite reader
    assert store.backend.conn.execute("PRAGMA cache_size").fetchone()[0] == -WRITER_CACHE_KIB < default  # type: ignore[attr-defined]  # a SQLite backend
