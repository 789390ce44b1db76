"""A PostgreSQL 15 server the test session starts itself, and fresh databases on it.

Registered from ``conftest.py`` as a pytest plugin. The server is made with
``initdb`` in a temporary folder, listens on a free 127.0.0.1 port, and is
stopped at the end of the session by signalling its postmaster's PID. PostgreSQL
refuses to run as root (as CI does), so as root every server command runs as
the ``postgres`` system user, in a folder that user owns.

The binaries are looked up in ``LEDGER_PG_BIN``, else ``/usr/lib/postgresql/15/bin``,
else on ``PATH``. When they are missing the PostgreSQL tests fail (they never
skip): ``.ci/run`` installs Debian's ``postgresql`` package first.

pytest-postgresql was not used: it starts ``pg_ctl`` as the current user, which
root cannot do, and this module is all the test suite needs of it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DEFAULT_BIN = "/usr/lib/postgresql/15/bin"
SUPERUSER = "ledger_admin"


def binaries() -> Path:
    """The folder holding ``initdb`` and ``postgres``; fails (never skips) when there is none."""
    for candidate in (os.environ.get("LEDGER_PG_BIN"), DEFAULT_BIN):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    pytest.fail(f"PostgreSQL server binaries not found (looked in LEDGER_PG_BIN, {DEFAULT_BIN} and PATH): apt-get install postgresql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A running throwaway server: where it listens, its superuser, and how to stop it."""

    folder: Path
    port: int
    password: str
    pid: int

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """A ``postgresql://`` URL of a database on this server (the superuser's password unless told)."""
        secret = self.password if password is None and user == SUPERUSER else password
        credentials = f"{user}:{secret}" if secret else user
        return f"postgresql://{credentials}@{self.host}:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL as the superuser; return what psql prints (unaligned, tuples only)."""
        completed = subprocess.run(
            [str(binaries() / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, self.url(dbname)],
            capture_output=True,
            text=True,
            check=True,
        )
        return completed.stdout.strip()

    def create_database(self) -> str:
        """A new empty database; its name."""
        name = f"ledger_{secrets.token_hex(6)}"
        self.psql(f"CREATE DATABASE {name}")
        return name

    def stop(self) -> None:
        """Fast shutdown of the postmaster by its PID; waits until it has gone."""
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)


def _as_server_user(command: list[str]) -> list[str]:
    """The command as the ``postgres`` system user when we are root (the server refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def start_server(durable: bool = False) -> PostgresServer:
    """initdb in a new temporary folder and start a server on a free loopback port (password auth on TCP).

    Tests run with fsync off (durability is not under test, and the machine is
    shared); ``durable`` keeps PostgreSQL's defaults, for measurements.
    """
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    password = secrets.token_hex(12)
    (folder / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (folder, sockets, folder / "pwfile"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                f"--pwfile={folder / 'pwfile'}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets}"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "server.log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return PostgresServer(folder, port, password, pid)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's server (one per test)."""
    return postgres_server.url(postgres_server.create_database())
