"""Proving what the ledger said: signed checkpoints, verify --checkpoint, inclusion proofs, and the tampering they catch.

Every scenario goes through the ``ledger`` command; tampering is done the way
someone holding the database file would do it, with plain SQL.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ACTORS, DOCUMENTS, QUESTIONS, REPO, make_event, write_events
from ledger import merkle, proofs
from ledger.cli import main
from ledger.store import open_store
from ledger.store.codec import StateCodec, canonical_bytes
from ledger.store.log import event_leaf_input


def ledger(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "ledger.db"
    assert ledger("ingest", str(REPO / "events"), "--db", str(path), "--no-project").exit_code == 0
    return path


@pytest.fixture
def signed(corpus_db: Path, tmp_path: Path) -> dict[str, str]:
    """A copy of the corpus ledger, a key pair, and a signed checkpoint of the ledger as ingested."""
    db = tmp_path / "ledger.db"
    shutil.copy(corpus_db, db)
    key = tmp_path / "ledger-key"
    assert ledger("keygen", "-o", str(key)).exit_code == 0
    checkpoint = tmp_path / "checkpoint.json"
    made = ledger("checkpoint", "-o", str(checkpoint), "--key", str(key), "--db", str(db))
    assert made.exit_code == 0, made.output
    return {"db": str(db), "key": str(key), "public": str(key) + ".pub", "checkpoint": str(checkpoint)}


def verify_checkpoint(paths: dict[str, str], *extra: str) -> Result:
    return ledger("verify", "--db", paths["db"], "--checkpoint", paths["checkpoint"], *extra)


# --- tampering as the holder of the file would ----------------------------------------------


def without_triggers(db: str) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def rewrite_event(db: str, position: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the event at ``position`` in place, then recompute its hashes, the chain after it and its leaf: a consistent rewrite."""
    conn = without_triggers(db)
    codec = StateCodec(lambda: conn.execute("SELECT id, dictionary FROM ledger_codec").fetchall())
    state = conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()[0]
    (recorded_at,) = conn.execute(
        "SELECT recorded_at FROM ledger_chain_batches WHERE batch <= ? ORDER BY batch DESC LIMIT 1", (position,)
    ).fetchone()
    event = orjson.loads(codec.canonical(state))
    change(event)
    canonical = canonical_bytes(event)
    dictionary_id, recorded_us = StateCodec.header(state)
    conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (codec.encode(canonical, recorded_us, dictionary_id), position))
    conn.execute(
        "UPDATE ledger_log SET hash = ? WHERE position = ?",
        (merkle.leaf_hash(event_leaf_input(canonical, position, recorded_at)), position),
    )
    previous = conn.execute("SELECT chain_hash FROM ledger_chain WHERE position = ?", (position - 1,)).fetchone()
    chain = previous[0] if previous else bytes(32)
    for at, stored in conn.execute("SELECT rowid, state FROM stored_events WHERE rowid >= ? ORDER BY rowid", (position,)).fetchall():
        chain = hashlib.sha256(chain + codec.canonical(stored)).digest()
        conn.execute("UPDATE ledger_chain SET chain_hash = ? WHERE position = ?", (chain, at))
    conn.close()


def truncate(db: str, keep: int) -> None:
    """Delete every event after position ``keep``, with its chain entry and leaf: the chain left is a valid prefix."""
    conn = without_triggers(db)
    first_gone = conn.execute("SELECT MIN(leaf) FROM ledger_log WHERE position > ?", (keep,)).fetchone()[0]
    conn.execute("DELETE FROM stored_events WHERE rowid > ?", (keep,))
    conn.execute("DELETE FROM ledger_chain WHERE position > ?", (keep,))
    conn.execute("DELETE FROM ledger_chain_batches WHERE batch > ?", (keep,))
    conn.execute("DELETE FROM ledger_log WHERE leaf >= ?", (first_gone,))
    conn.close()


def last_position(db: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT MAX(position) FROM ledger_chain").fetchone()[0]


# --- keys -------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_the_public_key_beside_it(tmp_path: Path) -> None:
    result = ledger("keygen", "-o", str(tmp_path / "k"))
    assert result.exit_code == 0
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert (tmp_path / "k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert "key id" in result.output


def test_keygen_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    assert ledger("keygen", "-o", str(tmp_path / "k")).exit_code == 0
    before = (tmp_path / "k").read_bytes()
    again = ledger("keygen", "-o", str(tmp_path / "k"))
    assert again.exit_code == 2
    assert "exists" in again.output
    assert (tmp_path / "k").read_bytes() == before


# --- checkpoints ----------------------------------------------------------------------------


def test_a_checkpoint_is_a_signed_tree_head_kept_in_the_store(signed: dict[str, str]) -> None:
    document = json.loads(Path(signed["checkpoint"]).read_text())
    head = document["checkpoint"]
    with open_store(signed["db"], create=False) as store:
        leaves = store.leaf_hashes()
        kept = store.checkpoints()
        assert head["position"] == store.head().position
    assert head["size"] == len(leaves) > head["position"]  # the registry entries are leaves too
    assert head["root"] == merkle.root(leaves).hex()
    assert document["signature"] and head["key_id"]
    assert kept == [Path(signed["checkpoint"]).read_text()]


def test_the_untouched_ledger_extends_its_checkpoint(signed: dict[str, str]) -> None:
    result = verify_checkpoint(signed, "--key", signed["public"])
    assert result.exit_code == 0, result.output
    assert "extends" in result.output


def test_a_ledger_that_grew_after_the_checkpoint_still_extends_it(signed: dict[str, str], ledger_dir: Path) -> None:
    more = write_events(ledger_dir / "later.yaml", [make_event("kirby-repeats-no-change")])
    assert ledger("ingest", str(ledger_dir), "--db", signed["db"], "--no-project").exit_code == 0
    assert more.exists()
    result = verify_checkpoint(signed)
    assert result.exit_code == 0, result.output


def test_replace_into_the_stored_events_is_refused(signed: dict[str, str]) -> None:
    conn = sqlite3.connect(signed["db"], isolation_level=None)
    statements = [
        "REPLACE INTO stored_events SELECT originator_id, originator_version, topic, state FROM stored_events WHERE rowid = 3",
        "REPLACE INTO stored_events (rowid, originator_id, originator_version, topic, state) "
        "SELECT rowid, originator_id || 'x', originator_version, topic, state FROM stored_events WHERE rowid = 3",
        "REPLACE INTO ledger_chain SELECT * FROM ledger_chain WHERE position = 3",
        "INSERT INTO ledger_chain SELECT position + 1000, chain_hash FROM ledger_chain WHERE position = 3",  # no event there
        "REPLACE INTO ledger_chain_batches SELECT * FROM ledger_chain_batches WHERE batch = 1",
        "UPDATE ledger_chain_batches SET recorded_at = '2000-01-01T00:00:00+00:00'",
        "DELETE FROM ledger_chain_batches",
        "REPLACE INTO ledger_log SELECT * FROM ledger_log WHERE leaf = 3",
        "UPDATE ledger_log SET hash = zeroblob(32) WHERE leaf = 3",
        "DELETE FROM ledger_log WHERE leaf = (SELECT MAX(leaf) FROM ledger_log)",
        "UPDATE ledger_checkpoints SET root = 'x'",
        "DELETE FROM ledger_checkpoints",
    ]
    for statement in statements:
        with pytest.raises(sqlite3.DatabaseError, match="append-only|immutable"):
            conn.execute(statement)
    conn.close()
    assert verify_checkpoint(signed).exit_code == 0


def test_deleting_the_last_events_is_caught_by_the_checkpoint(signed: dict[str, str]) -> None:
    events = last_position(signed["db"])
    truncate(signed["db"], events - 3)
    assert ledger("verify", "--db", signed["db"]).exit_code == 0  # the chain left is a valid prefix: the chain alone cannot tell
    result = verify_checkpoint(signed)
    assert result.exit_code == 1
    assert "truncated" in result.output
    size = json.loads(Path(signed["checkpoint"]).read_text())["checkpoint"]["size"]
    assert f"fewer than the checkpoint's {size}" in result.output


def test_a_forged_last_event_with_a_correct_hash_link_is_caught(signed: dict[str, str]) -> None:
    position = last_position(signed["db"])
    rewrite_event(signed["db"], position, lambda event: event.update(summary="Something that was never said."))
    assert ledger("verify", "--db", signed["db"]).exit_code == 0  # hashes recomputed: the chain alone cannot tell
    result = verify_checkpoint(signed, "--format", "json")
    assert result.exit_code == 1
    check = json.loads(result.output)["log"]["checkpoints"][0]
    size = check["checkpoint_size"]
    assert check["first_differing_size"] == size  # the last entry, and only it, differs
    assert check["agreeing_size"] == size - (size & -size)  # the last perfect subtree of the frontier holds the forged entry


def test_a_consistent_rewrite_in_the_middle_is_caught_and_located(signed: dict[str, str]) -> None:
    rewrite_event(signed["db"], 40, lambda event: event.update(summary="A rewritten account."))
    assert ledger("verify", "--db", signed["db"]).exit_code == 0
    result = verify_checkpoint(signed, "--format", "json")
    assert result.exit_code == 1
    check = json.loads(result.output)["log"]["checkpoints"][0]
    with open_store(signed["db"], create=False) as store:
        leaf = store.leaf_of(store.events_at([40])[40]["id"])
    assert leaf is not None
    assert check["agreeing_size"] <= leaf < check["first_differing_size"]
    assert "first difference is" in " ".join(check["problems"])


def test_a_ledger_rebuilt_from_edited_files_is_caught(signed: dict[str, str], tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(REPO / "events", edited)
    victim = sorted(edited.rglob("2024/**/*.yaml"))[0]
    lines = victim.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("summary: >"))
    indent = len(lines[at + 1]) - len(lines[at + 1].lstrip())
    lines[at + 1] = lines[at + 1][:indent] + "Edited. " + lines[at + 1][indent:]
    victim.write_text("".join(lines))
    rebuilt = tmp_path / "rebuilt.db"
    assert ledger("ingest", str(edited), "--db", str(rebuilt), "--no-project").exit_code == 0
    shutil.copy(rebuilt, signed["db"])
    assert ledger("verify", "--db", signed["db"]).exit_code == 0  # a fresh, self-consistent ledger
    result = verify_checkpoint(signed)
    assert result.exit_code == 1
    assert "does not extend" in result.output


def test_a_log_edited_behind_the_events_back_is_caught_without_a_checkpoint(signed: dict[str, str]) -> None:
    conn = without_triggers(signed["db"])
    conn.execute("UPDATE ledger_log SET hash = zeroblob(32) WHERE leaf = 5")
    conn.close()
    result = ledger("verify", "--db", signed["db"])
    assert result.exit_code == 1
    assert "leaf" in result.output


def test_a_registry_entry_changed_behind_the_logs_back_is_caught(signed: dict[str, str]) -> None:
    conn = sqlite3.connect(signed["db"], isolation_level=None)
    kind, key = conn.execute("SELECT kind, id FROM ledger_registry LIMIT 1").fetchone()
    conn.execute("REPLACE INTO ledger_registry VALUES (?, ?, ?)", (kind, key, '{"id": "' + key + '", "name": "someone else"}'))
    conn.close()
    result = verify_checkpoint(signed)
    assert result.exit_code == 1
    assert "registry entry" in result.output


def test_a_checkpoint_signed_by_another_key_or_edited_is_refused(signed: dict[str, str], tmp_path: Path) -> None:
    assert ledger("keygen", "-o", str(tmp_path / "other")).exit_code == 0
    assert verify_checkpoint(signed, "--key", str(tmp_path / "other.pub")).exit_code == 1
    path = Path(signed["checkpoint"])
    document = json.loads(path.read_text())
    document["checkpoint"]["time"] = "2020-01-01T00:00:00+00:00"
    path.write_bytes(proofs.dump_document(document))
    result = verify_checkpoint(signed)
    assert result.exit_code == 1
    assert "signature does not verify" in result.output


def test_a_rewritten_ledger_gets_no_new_checkpoint(signed: dict[str, str], tmp_path: Path) -> None:
    rewrite_event(signed["db"], 5, lambda event: event.update(summary="Rewritten."))
    result = ledger("checkpoint", "-o", str(tmp_path / "new.json"), "--key", signed["key"], "--db", signed["db"])
    assert result.exit_code == 2
    assert "no longer extends its own checkpoint" in result.output
    assert not (tmp_path / "new.json").exists()


def test_an_event_edited_behind_the_logs_back_gets_no_checkpoint(signed: dict[str, str], tmp_path: Path) -> None:
    rewrite_event(signed["db"], 5, lambda event: event.update(summary="Rewritten."))
    conn = without_triggers(signed["db"])
    conn.execute("UPDATE ledger_log SET hash = zeroblob(32) WHERE position = 5")  # the leaf no longer matches the event
    conn.close()
    result = ledger("checkpoint", "-o", str(tmp_path / "new.json"), "--db", signed["db"])
    assert result.exit_code == 2
    assert "does not match its Merkle log" in result.output


def test_a_checkpoint_gives_the_store_position_replay_stops_before(signed: dict[str, str]) -> None:
    with open_store(signed["db"], create=False) as store:
        head = store.head().position
        assert proofs.recorded_before(store, signed["checkpoint"]) == head + 1
    rewrite_event(signed["db"], 2, lambda event: event.update(summary="Rewritten."))
    with open_store(signed["db"], create=False) as store, pytest.raises(proofs.ProofError, match="does not extend"):
        proofs.recorded_before(store, signed["checkpoint"])


def test_replay_recorded_before_a_checkpoint_answers_as_the_ledger_stood_then(signed: dict[str, str], ledger_dir: Path) -> None:
    def replay(recorded_before: str) -> Result:
        return ledger("replay", "--as-of", "2024-12-31", "--recorded-before", recorded_before, "--format", "json", "--db", signed["db"])

    position = json.loads(Path(signed["checkpoint"]).read_text())["checkpoint"]["position"]
    before = replay(str(position + 1))
    assert before.exit_code == 0, before.output
    write_events(ledger_dir / "later.yaml", [make_event("kirby-repeats-no-change")])
    assert ledger("ingest", str(ledger_dir), "--db", signed["db"], "--no-project").exit_code == 0
    at_checkpoint = replay(signed["checkpoint"])
    assert at_checkpoint.exit_code == 0, at_checkpoint.output
    answer, expected = json.loads(at_checkpoint.output), json.loads(before.output)
    assert answer.pop("recorded_before") == signed["checkpoint"]
    expected.pop("recorded_before")
    assert answer == expected
    rewrite_event(signed["db"], 3, lambda event: event.update(summary="Rewritten."))
    refused = replay(signed["checkpoint"])
    assert refused.exit_code == 2
    assert "does not extend" in refused.output


# --- inclusion proofs ------------------------------------------------------------------------


@pytest.fixture
def proof(signed: dict[str, str], tmp_path: Path) -> Path:
    with open_store(signed["db"], create=False) as store:
        event_id = store.events_at([7])[7]["id"]
    path = tmp_path / "proof.json"
    result = ledger("prove", event_id, "-o", str(path), "--db", signed["db"])
    assert result.exit_code == 0, result.output
    return path


def test_an_inclusion_proof_verifies_with_no_database(signed: dict[str, str], proof: Path, tmp_path: Path) -> None:
    Path(signed["db"]).unlink()
    result = ledger("verify-proof", str(proof), "--key", signed["public"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")
    entry = json.loads(proof.read_text())["entry"]
    assert entry["position"] == 7 and entry["event"]["id"] in result.output


def test_a_proof_against_a_published_checkpoint_after_the_ledger_grew(signed: dict[str, str], ledger_dir: Path, tmp_path: Path) -> None:
    write_events(ledger_dir / "later.yaml", [make_event("kirby-repeats-no-change")])
    assert ledger("ingest", str(ledger_dir), "--db", signed["db"], "--no-project").exit_code == 0
    proof = tmp_path / "old.json"
    made = ledger("prove", "biden-agrees-counter-fire-shift", "-o", str(proof), "--checkpoint", signed["checkpoint"], "--db", signed["db"])
    assert made.exit_code == 0, made.output
    assert json.loads(proof.read_text())["checkpoint"] == json.loads(Path(signed["checkpoint"]).read_text())
    assert ledger("verify-proof", str(proof), "--key", signed["public"]).exit_code == 0
    too_new = ledger("prove", "kirby-repeats-no-change", "-o", str(proof), "--checkpoint", signed["checkpoint"], "--db", signed["db"])
    assert too_new.exit_code == 2 and "covers" in too_new.output


def test_a_forged_inclusion_proof_fails(proof: Path) -> None:
    document = json.loads(proof.read_text())
    document["entry"]["event"]["summary"] = "Something else."
    proof.write_bytes(proofs.dump_document(document))
    result = ledger("verify-proof", str(proof))
    assert result.exit_code == 1
    assert "audit path does not lead" in result.output


def test_a_proof_checked_against_another_key_fails(proof: Path, tmp_path: Path) -> None:
    assert ledger("keygen", "-o", str(tmp_path / "other")).exit_code == 0
    result = ledger("verify-proof", str(proof), "--key", str(tmp_path / "other.pub"))
    assert result.exit_code == 1
    assert "not by the key given" in result.output


def test_any_changed_byte_of_a_proof_makes_it_fail(signed: dict[str, str], proof: Path) -> None:
    original = proof.read_bytes()
    key = proofs.load_public_key(signed["public"])
    assert proofs.verify_proof_bytes(original, key).ok
    for at in range(len(original)):
        for flip in (0x01, 0x20) if chr(original[at]).isalpha() else (0x01,):
            data = bytearray(original)
            data[at] ^= flip
            try:
                accepted = proofs.verify_proof_bytes(bytes(data), key).ok
            except proofs.ProofError:
                accepted = False
            assert not accepted, f"byte {at} ^ {flip:#x} went unnoticed"


def test_proving_an_event_the_ledger_lacks_or_without_a_signed_checkpoint_is_refused(corpus_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    shutil.copy(corpus_db, db)
    missing = ledger("prove", "no-such-event", "-o", str(tmp_path / "p.json"), "--db", str(db))
    assert missing.exit_code == 2 and "no event" in missing.output
    with open_store(str(db), create=False) as store:
        event_id = store.events_at([1])[1]["id"]
    unsigned = ledger("prove", event_id, "-o", str(tmp_path / "p.json"), "--db", str(db))
    assert unsigned.exit_code == 2 and "no signed checkpoint" in unsigned.output


def test_a_store_without_a_log_gets_one_built_when_opened(corpus_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    shutil.copy(corpus_db, db)
    conn = sqlite3.connect(db, isolation_level=None)
    with open_store(str(db), create=False) as store:
        before = store.leaf_hashes()
    conn.execute("DROP TABLE ledger_log")
    conn.execute("DROP TABLE ledger_checkpoints")
    conn.close()
    with open_store(str(db)) as store:
        assert store.leaf_hashes() == before
    assert ledger("verify", "--db", str(db)).exit_code == 0


def append_as_a_writer(db: str, writer: int) -> None:
    with open_store(db) as store:
        for batch in range(5):
            store.append([make_event(f"statement-{writer}-{batch}-{i}") for i in range(5)])


def test_concurrent_writers_leave_one_log_over_every_event(ledger_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    assert ledger("ingest", str(ledger_dir), "--db", db).exit_code == 0  # the registry alone
    writers = [multiprocessing.get_context("fork").Process(target=append_as_a_writer, args=(db, writer)) for writer in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    result = ledger("verify", "--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    registry = len(ACTORS) + len(DOCUMENTS) + len(QUESTIONS)
    assert report["count"] == 100 and report["log"]["entries"] == 100 + registry


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_rewrite_of_any_one_event_is_located_by_the_checkpoint(signed: dict[str, str], tmp_path: Path, data: st.DataObject) -> None:
    db = tmp_path / f"rewritten-{data.draw(st.uuids()).hex}.db"
    shutil.copy(signed["db"], db)
    position = data.draw(st.integers(1, last_position(str(db))), label="position")
    field = data.draw(st.sampled_from(["summary", "reported", "occurred"]), label="field")
    rewrite_event(str(db), position, lambda event: event.update({field: event[field] + " "}))
    with open_store(str(db), create=False) as store:
        leaf = store.leaf_of(store.events_at([position])[position]["id"])
        result = proofs.check_checkpoints(store, [signed["checkpoint"]], signed["public"])
    check = result.checkpoints[0]
    assert result.first_bad_leaf is None  # the log was rewritten to match: only the checkpoint can tell
    assert not result.ok and not check.ok
    assert leaf is not None and check.first_differing_size is not None
    assert check.agreeing_size <= leaf < check.first_differing_size


def test_a_checkpoint_of_a_sqlite_ledger_holds_for_its_postgresql_copy_and_proves_there(
    signed: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    assert ledger("copy", signed["db"], postgres_url).exit_code == 0
    result = ledger("verify", "--db", postgres_url, "--checkpoint", signed["checkpoint"], "--key", signed["public"])
    assert result.exit_code == 0, result.output
    proof = tmp_path / "proof.json"
    made = ledger("prove", "biden-agrees-counter-fire-shift", "-o", str(proof), "--key", signed["key"], "--db", postgres_url)
    assert made.exit_code == 0, made.output
    assert ledger("verify-proof", str(proof), "--key", signed["public"]).exit_code == 0
