"""Where the read model lives and how its schema is brought up to date.

The read model is a SQLite file of its own beside the store (``ledger.db`` →
``ledger.view.db``), so Datasette can open it read-only while the store stays
the store. Its schema comes from the migrations in the top-level
``migrations/`` folder, shipped inside the package as
``ledger/readmodel/migrations`` (a link to that folder in a checkout, a copy
in a wheel), and applied with sqlite-utils' built-in :class:`~sqlite_utils.Migrations`.
"""

from __future__ import annotations

import os
import runpy
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger import settings

if TYPE_CHECKING:
    import sqlite_utils


VIEW_SUFFIX = ".view.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_FILE = "migrations.py"
MIGRATION_SET = "ledger-view"  # as migrations.py names its set
STEP_PATTERN = "m[0-9][0-9][0-9][0-9]_*.py"  # as migrations.py finds its steps


class ReadModelError(Exception):
    """A problem with the read model a user can act on (missing view, view of another store...)."""


def default_view_path(db: str | os.PathLike[str]) -> str:
    """The read model beside a store: ``ledger.db`` → ``ledger.view.db``, ``x.sqlite`` → ``x.sqlite.view.db``.

    A store on a database server (a ``postgresql://`` URL) has its read model in
    the working directory, ``ledger.view.db``: each analyst keeps a local one.
    """
    text = os.fspath(db)
    if text.startswith(("postgresql://", "postgres://")):
        return "ledger" + VIEW_SUFFIX
    return (text[: -len(".db")] if text.endswith(".db") else text) + VIEW_SUFFIX


def view_path_for(db: str | os.PathLike[str], view: str | os.PathLike[str] | None = None) -> str:
    """The read model to use: ``view`` if given, else ``LEDGER_VIEW_DB``, else the file beside ``db``."""
    if view:
        return os.fspath(view)
    return settings.view_db() or default_view_path(db)


def load_migrations(folder: str | os.PathLike[str] | None = None) -> sqlite_utils.Migrations:
    import sqlite_utils

    """The read model's migration set, loaded the way ``sqlite-utils migrate`` loads it."""
    path = Path(folder or MIGRATIONS_DIR) / MIGRATIONS_FILE
    if not path.is_file():
        raise ReadModelError(f"no {MIGRATIONS_FILE} in {path.parent}: the package was installed without its migrations")
    namespace = runpy.run_path(str(path), run_name="__sqlite_utils_migration__")
    found = [value for value in namespace.values() if isinstance(value, sqlite_utils.Migrations)]
    if len(found) != 1:
        raise ReadModelError(f"{path} should define exactly one migration set, found {len(found)}")
    return found[0]


def connect(view_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection to the read model for writing: WAL (readers never wait), transactions by hand."""
    conn = sqlite3.connect(os.fspath(view_path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def up_to_date(conn: sqlite3.Connection) -> bool:
    """True when every migration file is recorded as applied (a quick check before loading the migrations).

    The names are the files' names, as ``migrations.py`` registers them in the set ``ledger-view``.
    """
    files = {path.stem for path in MIGRATIONS_DIR.glob(STEP_PATTERN)}
    try:
        applied = {name for (name,) in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,))}
    except sqlite3.OperationalError:  # no migrations table yet
        return False
    return bool(files) and files <= applied


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]
    pending: list[str]


def status(view_path: str | os.PathLike[str]) -> MigrationStatus:
    """Which migrations the read model has, and which it still needs (reads only)."""
    import sqlite_utils

    migrations = load_migrations()
    if not Path(view_path).exists():
        return MigrationStatus([], [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))])
    db = sqlite_utils.Database(os.fspath(view_path))
    try:
        return MigrationStatus([m.name for m in migrations.applied(db)], [m.name for m in migrations.pending(db)])
    finally:
        db.close()


def migrate(view_path: str | os.PathLike[str], conn: sqlite3.Connection | None = None) -> list[str]:
    """Apply the pending migrations to the read model (creating the file if needed); return their names."""
    own = conn is None
    conn = conn or connect(view_path)
    try:
        if up_to_date(conn):
            return []
        import sqlite_utils

        db = sqlite_utils.Database(conn)
        migrations = load_migrations()
        pending = [m.name for m in migrations.pending(db)]
        if pending:
            migrations.apply(db)
        return pending
    finally:
        if own:
            conn.close()
