"""Every setting read from the environment, in one place (the README's "Settings" table lists them).

Each function reads its variable when called, so a test or a command can set
it just before; an explicit argument (``--db``, ``--view``...) always wins
over the environment, and the caller passes that first.
"""

from __future__ import annotations

import os

DEFAULT_DB = "ledger.db"
DEFAULT_HISTORY_BUDGET_MB = 300


def _read(name: str) -> str:
    return os.environ.get(name, "").strip()


def ledger_db() -> str:
    """``LEDGER_DB``: the ledger's store, a SQLite file path or a ``postgresql://`` URL (default ``ledger.db``)."""
    return _read("LEDGER_DB") or DEFAULT_DB


def ledger_backend() -> str | None:
    """``LEDGER_BACKEND``: ``sqlite`` or ``postgres``; unset, the backend follows from the store's location."""
    return _read("LEDGER_BACKEND").lower() or None


def view_db() -> str | None:
    """``LEDGER_VIEW_DB``: the read model's SQLite file; unset, it sits beside the store."""
    return _read("LEDGER_VIEW_DB") or None


def configured_workers() -> int | None:
    """``LEDGER_WORKERS`` as a whole number of extra processes (0: none), or None when it is not set.

    Each stage picks its own default when it is not set: ingest and rebuild use
    their processes differently.
    """
    setting = _read("LEDGER_WORKERS")
    if not setting:
        return None
    try:
        return max(0, int(setting))
    except ValueError:
        raise ValueError(f"LEDGER_WORKERS must be a whole number, not {setting!r}") from None


def history_budget_mb() -> int:
    """``LEDGER_HISTORY_BUDGET_MB``: memory the projector may keep entity histories in between batches (default 300)."""
    setting = _read("LEDGER_HISTORY_BUDGET_MB")
    try:
        return int(setting) if setting else DEFAULT_HISTORY_BUDGET_MB
    except ValueError:
        raise ValueError(f"LEDGER_HISTORY_BUDGET_MB must be a whole number, not {setting!r}") from None


def available_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def child_environment(unset: tuple[str, ...] = (), **values: str) -> dict[str, str]:
    """The environment for a process this one starts: its own, without the variables ``unset``, with ``values`` set."""
    return {**{name: value for name, value in os.environ.items() if name not in unset}, **values}


def postgres_environment(url: str) -> dict[str, str]:
    """eventsourcing's ``POSTGRES_*`` settings for a ``postgresql://`` URL.

    What the URL leaves out comes from libpq's own variables (``PGHOST``,
    ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``), else is left empty
    for libpq's defaults: the local socket, port 5432, the login name, and the
    password from ``~/.pgpass`` (``PGPASSFILE``). ``LEDGER_PG_POOL_SIZE`` sets
    how many connections a ledger keeps open (default 2).
    """
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)

    def part(key: str, variable: str) -> str:
        return str(parts.get(key) or os.environ.get(variable) or "")

    return {
        "POSTGRES_DBNAME": part("dbname", "PGDATABASE"),
        "POSTGRES_HOST": part("host", "PGHOST"),
        "POSTGRES_PORT": part("port", "PGPORT"),
        "POSTGRES_USER": part("user", "PGUSER"),
        "POSTGRES_PASSWORD": part("password", "PGPASSWORD"),
        "POSTGRES_POOL_SIZE": os.environ.get("LEDGER_PG_POOL_SIZE", "").strip() or "2",
        "POSTGRES_MAX_OVERFLOW": "2",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
    }
