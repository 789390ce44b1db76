"""What only a PostgreSQL ledger has to show: many writers at once, killed writers, roles, passwords.

The contract both backends share is in test_store_contract.py; these run on the
server the test session started (tests/postgres.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from conftest import make_event
from ledger.store import prepare_event
from ledger.store.interface import StoreError
from ledger.store.postgres import WRITER_GRANTS, open_backend, open_reader

WRITERS = 4
BATCHES = 15
BATCH_SIZE = 20

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import make_event
    from ledger.store import prepare_event
    from ledger.store.postgres import open_backend

    url, writer, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    (go.parent / f"ready-{{writer}}").touch()
    while not go.exists():
        time.sleep(0.01)
    backend = open_backend(url)  # all four make the new ledger's tables at once
    for batch in range({batches}):
        ids = [f"writer-{{writer}}-batch-{{batch:02}}-event-{{i:02}}" for i in range({size})]
        backend.append([prepare_event(make_event(event_id)) for event_id in ids])
    backend.close()
    """
).format(tests=str(Path(__file__).parent), batches=BATCHES, size=BATCH_SIZE)

KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from conftest import make_event
    from ledger.store import prepare_event
    from ledger.store.postgres import open_backend
    from ledger.store.postgres_recorder import PostgresLedgerRecorder

    insert = PostgresLedgerRecorder._insert

    def insert_then_hang(self, *args, **kwargs):
        insert(self, *args, **kwargs)
        print("inserted", flush=True)
        time.sleep(600)

    PostgresLedgerRecorder._insert = insert_then_hang
    backend = open_backend(sys.argv[1], create=False)
    backend.append([prepare_event(make_event(f"doomed-{{i}}")) for i in range(50)], registry=[("actors", "doomed", {{"id": "doomed"}})])
    """
).format(tests=str(Path(__file__).parent))


def new_ledger(url: str, *ids: str) -> None:
    with open_backend(url) as backend:
        backend.append([prepare_event(make_event(event_id)) for event_id in ids])


def test_four_writers_at_once_on_a_new_ledger_lose_nothing_duplicate_nothing_and_keep_one_chain(postgres_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, postgres_url, str(n), str(go)]) for n in range(WRITERS)]
    while len(list(tmp_path.glob("ready-*"))) < WRITERS:  # every writer has started and waits
        time.sleep(0.05)
    go.touch()
    assert [writer.wait(timeout=120) for writer in writers] == [0] * WRITERS

    with open_reader(postgres_url) as reader:
        recorded = list(reader.events(1))
        batches = reader.batches()
        verification = reader.verify()
    expected = WRITERS * BATCHES * BATCH_SIZE
    assert [event.position for event in recorded] == list(range(1, expected + 1))
    assert len({event.id for event in recorded}) == expected
    assert (verification.ok, verification.count) == (True, expected)
    assert len(batches) == WRITERS * BATCHES
    for batch in batches:  # each append is whole and one writer's: appends never interleave
        ids = [event.id for event in recorded[batch.start - 1 : batch.end]]
        assert len(ids) == BATCH_SIZE
        assert len({event_id.split("-event-")[0] for event_id in ids}) == 1


def test_a_writer_killed_inside_its_transaction_leaves_nothing_and_holds_no_lock(postgres_url: str) -> None:
    new_ledger(postgres_url, "before")
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, postgres_url], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "inserted"  # its rows are written, not committed
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)

    with open_backend(postgres_url, create=False) as backend:
        assert backend.count() == 1
        assert backend.registry() == {}
        assert backend.append([prepare_event(make_event("after"))]).positions == [2]  # the lock went with the connection
        assert backend.verify().ok
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*), max(notification_id) FROM stored_events").fetchone() == (2, 2)


def test_a_writer_role_appends_but_cannot_change_or_remove_what_is_recorded_and_a_reader_role_reads(
    postgres_server, postgres_url: str
) -> None:
    new_ledger(postgres_url, "by-owner")
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.psql(
        "DO $$ BEGIN CREATE ROLE ledger_writer LOGIN PASSWORD 'writer-secret'; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    postgres_server.psql(WRITER_GRANTS.format(database=database, role="ledger_writer"), dbname=database)
    writer_url = postgres_server.url(database, user="ledger_writer", password="writer-secret")

    with open_backend(writer_url, create=False) as backend:
        appended = backend.append([prepare_event(make_event("by-writer"))], registry=[("actors", "kirby", {"id": "kirby"})])
        assert appended.positions == [2]
        assert backend.append([], registry=[("actors", "kirby", {"id": "kirby", "name": "John Kirby"})]) is not None
        assert backend.verify().ok
    postgres_server.psql(
        "DO $$ BEGIN CREATE ROLE ledger_reader LOGIN PASSWORD 'reader-secret'; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    postgres_server.psql(
        f"GRANT CONNECT ON DATABASE {database} TO ledger_reader; GRANT USAGE ON SCHEMA public TO ledger_reader; "
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO ledger_reader",
        dbname=database,
    )
    with open_reader(postgres_server.url(database, user="ledger_reader", password="reader-secret")) as reader:
        assert reader.count() == 2
        assert reader.verify().ok
    with psycopg.connect(writer_url, autocommit=True) as conn:
        for statement in (
            "UPDATE stored_events SET topic = 'x'",
            "DELETE FROM ledger_chain",
            "TRUNCATE ledger_codec",
            "DROP TABLE ledger_chain",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_password_may_come_from_pgpassword_or_a_pgpass_file(
    postgres_server, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_ledger(postgres_url, "a")
    database = postgres_url.rsplit("/", 1)[1]
    without_password = postgres_server.url(database, password="")
    assert ":" not in without_password.split("@")[0].removeprefix("postgresql://")

    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    with open_backend(without_password, create=False) as backend:
        assert backend.count() == 1

    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres_server.port}:*:ledger_admin:{postgres_server.password}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    with open_backend(without_password, create=False) as backend, open_reader(without_password) as reader:
        assert backend.count() == reader.count() == 1


def test_a_wrong_password_is_a_store_error_that_does_not_repeat_the_password(postgres_server, postgres_url: str) -> None:
    wrong = postgres_url.replace(postgres_server.password, "not-the-password")
    with pytest.raises(StoreError) as refused:
        open_backend(wrong)
    assert "not-the-password" not in str(refused.value)
    assert "password authentication failed" in str(refused.value)
