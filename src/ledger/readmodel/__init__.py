"""The SQLite read model for Datasette: the ledger's events and bitemporal history as plain tables.

The flow: the store (``ledger.db``) → :class:`Projector` (one append batch at a
time, exactly once) → the read model (``ledger.view.db``) → Datasette
(``ledger serve``) and :func:`ledger.readmodel.query.replay` (millisecond
as-of answers, the same JSON as :func:`ledger.timetravel.replay`).

Python API::

    from ledger.readmodel import project, migrate, view_path_for
    report = project("ledger.db")                    # catch up (creates ledger.view.db)
    report = project("ledger.db", rebuild=True)      # from scratch, same tables

    from ledger.readmodel.query import replay
    replay("ledger.view.db", "2024-06-01", known_at="2024-05-29")
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.readmodel.projector import ProjectionReport
import sqlite3
import sys

from ledger.readmodel.schema import ReadModelError, migrate, status, view_path_for

_LAZY = {"ProjectionReport", "Projector", "project"}


def __getattr__(name: str):
    """The projector is imported on first use: answering a query never needs it."""
    if name in _LAZY:
        from ledger.readmodel import projector

        return getattr(projector, name)
    raise AttributeError(name)


__all__ = [
    "ProjectionReport",
    "Projector",
    "ReadModelError",
    "migrate",
    "project",
    "project_after_ingest",
    "status",
    "view_path_for",
]


def project_after_ingest(db: str | os.PathLike[str], view: str | os.PathLike[str] | None = None) -> ProjectionReport | None:
    """Bring the read model up to date after an ingest; warn (never fail the ingest) if it cannot be.

    The events are already appended when this runs, so a problem here only
    leaves the read model behind: ``ledger project`` catches it up later.
    """
    from ledger.readmodel.projector import project

    try:
        return project(db, view)
    except (ReadModelError, OSError, sqlite3.Error) as error:
        print(f"warning: the read model was not updated ({error}); run 'ledger project'", file=sys.stderr)
        return None
