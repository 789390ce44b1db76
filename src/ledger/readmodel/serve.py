"""Datasette over the read model: the shipped metadata, read-only, on a loopback port.

Datasette keys table descriptions and canned queries by database name. Plain
``datasette ledger.view.db -m metadata.yml`` names the database after the file,
``ledger.view`` (URLs spell the dot ``~2E``: ``/ledger~2Eview``), which is the
name the shipped ``metadata.yml`` uses. ``ledger serve`` mounts the read model
as ``ledger`` whatever its file is called (URLs like ``/ledger/restrictions_as_of``)
and renames the metadata to match.

Every request is bounded in time, memory and result size, and canned queries
answer POST as they answer GET (:mod:`ledger.readmodel.bounds`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import yaml

METADATA_PATH = Path(__file__).resolve().parent.parent / "metadata.yml"
SHIPPED_NAME = "ledger.view"
SERVED_NAME = "ledger"
HOST = "127.0.0.1"
DEFAULT_PORT = 8001


def metadata_for(database: str = SHIPPED_NAME) -> dict[str, Any]:
    """The shipped Datasette metadata, with its database entry under the name ``database``."""
    metadata = yaml.safe_load(METADATA_PATH.read_text(encoding="utf-8"))
    if database != SHIPPED_NAME:
        metadata["databases"] = {database: metadata["databases"].pop(SHIPPED_NAME)}
    for dashboard in metadata.get("plugins", {}).get("datasette-dashboards", {}).values():
        for chart in dashboard["charts"].values():
            chart["db"] = database
    return metadata


def quiet_error_pages() -> None:
    """Let Datasette render its 400/404 pages instead of failing with a 500.

    Datasette 0.65 prints every handled error with ``rich.print_exception()``,
    which rich 14+ refuses outside an ``except`` block, so every error page
    became an Internal Server Error (a rejected write included).
    """
    import datasette.handle_exception

    datasette.handle_exception.rich = None


def build_datasette(view_path: str | os.PathLike[str], immutable: bool = False, name: str = SERVED_NAME) -> Any:
    """A Datasette instance serving the read model (``mode=ro``, or ``immutable``) as ``name``."""
    from datasette.app import Datasette
    from datasette.database import Database

    from ledger.readmodel.bounds import install

    quiet_error_pages()
    install()
    path = os.fspath(view_path)
    if not Path(path).exists():
        raise FileNotFoundError(path)
    ds = Datasette([], metadata=metadata_for(name))
    ds.add_database(Database(ds, path=path, is_mutable=not immutable), name=name)
    return ds


def checkpoint(view_path: str | os.PathLike[str]) -> None:
    """Fold the write-ahead log into the file, so an immutable open sees every committed row."""
    conn = sqlite3.connect(os.fspath(view_path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def url(port: int, host: str = HOST, name: str = SERVED_NAME) -> str:
    return f"http://{host}:{port}/{name}"


def serve(view_path: str | os.PathLike[str], port: int = DEFAULT_PORT, host: str = HOST, immutable: bool = False) -> None:
    """Run Datasette on the read model until interrupted (blocks)."""
    import uvicorn

    if immutable:
        checkpoint(view_path)
    ds = build_datasette(view_path, immutable)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(ds.invoke_startup())
    finally:
        loop.close()
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
