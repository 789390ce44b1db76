"""Where a ledger is: a SQLite file path or a PostgreSQL URL, and how to show one without its password.

Pure string handling (no database driver is imported), for messages and reports anywhere.
"""

from __future__ import annotations

URL_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    """Whether a ``--db`` / ``LEDGER_DB`` value names a PostgreSQL database rather than a SQLite file."""
    return str(location).startswith(URL_SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def display_location(location: str) -> str:
    """A location as messages and reports show it: a database URL without its password, a path as it is."""
    return redacted(location) if is_postgres_url(location) else location
