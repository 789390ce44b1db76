"""What one request to ``ledger serve`` may cost: bounded time, memory and result size, and POST answered.

Datasette stops a query when its time limit passes, but only between SQLite's
virtual-machine steps: a single call such as ``printf('%.*c', 999999999, 'x')``
or ``randomblob(200000000)`` runs for seconds and allocates gigabytes inside
one step. So every connection Datasette opens gets:

- SQLite's own hard limits on the length of a string or blob
  (:data:`MAX_VALUE_BYTES`, ``SQLITE_LIMIT_LENGTH``; ``randomblob``, ``zeroblob``
  and growing strings fail at once with "string or blob too big"), of SQL text and
  of LIKE/GLOB patterns;
- ``printf``/``format``, ``instr`` and ``replace`` replaced by versions that do
  the same in time linear in their input: SQLite's ``printf`` fills a ``%.*c``
  precision one character at a time even past the length limit, and its
  ``instr`` and ``replace`` compare at every position (a megabyte needle in a
  megabyte text: half a minute in one step);
- Datasette's time limit checked every :data:`STEPS_PER_CHECK` steps rather
  than every thousand, with the same handler stopping a query whose result has
  grown the process by more than :data:`MAX_QUERY_GROWTH` (many rows of large
  values, a huge sort), so a request is bounded in memory as well as in time.

Datasette 0.65 answers a POST to a read-only canned query with a 500 (and a
POST to a table with an assertion error). A POST to a canned query is read
here as the same query asked by GET, with the form (or JSON object) in the
body as its parameters; a POST to a table is refused with 405.

This module is a Datasette plugin, registered by
:func:`install`, so ``ledger serve`` and an in-process ``Datasette`` used in
tests behave alike.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl

MAX_VALUE_BYTES = 1024 * 1024
"""Longest string or blob any query may build or read (the read model's largest values are a few kilobytes)."""

MAX_SQL_BYTES = 100_000
"""Longest SQL text accepted."""

MAX_PATTERN_BYTES = 1_000
"""Longest LIKE or GLOB pattern (matching costs up to its length times the text's)."""

MAX_PRINTF_WIDTH = 100_000
"""Widest field or precision a ``printf`` format may ask for."""

STEPS_PER_CHECK = 100
"""SQLite steps between two checks of the time and memory limits (Datasette checks every 1,000)."""

MAX_QUERY_GROWTH = 128 * 1024 * 1024
"""How much a query may grow the server's resident memory before it is stopped."""

MAX_POST_BYTES = 64 * 1024
"""Largest POST body read as a canned query's parameters."""

PLUGIN_NAME = "ledger-bounds"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limit_connection(conn: sqlite3.Connection) -> None:
    """Set SQLite's hard limits on one connection and replace the functions that can run away within one step."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_PATTERN_BYTES)
    for name in ("printf", "format"):
        conn.create_function(name, -1, bounded_printf, deterministic=True)
    conn.create_function("instr", 2, linear_instr, deterministic=True)
    conn.create_function("replace", 3, linear_replace, deterministic=True)


# --- functions that run in time linear in their input ----------------------------------------

SQLValue = str | bytes | int | float | None

_SPEC = re.compile(r"%[-+ 0#,!]*(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")
_printer = threading.local()


def bounded_printf(format_text: SQLValue = None, *args: SQLValue) -> SQLValue:
    """SQLite's ``printf`` (computed by SQLite); NULL when a width or precision passes :data:`MAX_PRINTF_WIDTH`,
    as SQLite's own gives NULL for a result past the length limit (only later)."""
    if format_text is None:
        return None
    text = format_text.decode("utf-8", "replace") if isinstance(format_text, bytes) else str(format_text)
    starred = False
    for width, precision, _ in _SPEC.findall(text):
        for size in (width, precision):
            if size == "*":
                starred = True
            elif size and int(size) > MAX_PRINTF_WIDTH:
                return None
    if starred and any(isinstance(arg, int) and abs(arg) > MAX_PRINTF_WIDTH for arg in args):
        return None
    conn = getattr(_printer, "conn", None)
    if conn is None:
        conn = _printer.conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    marks = ", ".join("?" * (len(args) + 1))
    return conn.execute(f"SELECT printf({marks})", (text, *args)).fetchone()[0]


def _as_text(value: SQLValue) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value) if isinstance(value, float) else str(value)


def linear_instr(haystack: SQLValue, needle: SQLValue) -> int | None:
    """SQLite's ``instr``: the 1-based place of ``needle`` in ``haystack`` (bytes for two blobs, else characters), 0 if absent."""
    if haystack is None or needle is None:
        return None
    if isinstance(haystack, bytes) and isinstance(needle, bytes):
        return haystack.find(needle) + 1
    return _as_text(haystack).find(_as_text(needle)) + 1


def linear_replace(text: SQLValue, old: SQLValue, new: SQLValue) -> SQLValue:
    """SQLite's ``replace``: every ``old`` in ``text`` replaced by ``new``; an empty ``old`` changes nothing."""
    if text is None or old is None or new is None:
        return None
    old_text = _as_text(old)
    if not old_text:
        return text
    result = _as_text(text).replace(old_text, _as_text(new))
    if len(result.encode("utf-8")) > MAX_VALUE_BYTES:
        raise ValueError("string or blob too big")
    return result


# --- time and memory per query ---------------------------------------------------------------


def resident_bytes() -> int | None:
    """This process's resident memory, or None where ``/proc`` does not say."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def bounded_query(conn: sqlite3.Connection, ms: int) -> Iterator[None]:
    """Datasette's ``sqlite_timelimit``, also stopping a query that grows memory by more than :data:`MAX_QUERY_GROWTH`."""
    deadline = time.perf_counter() + ms / 1000
    start = resident_bytes()
    calls = 0

    def handler() -> int | None:
        nonlocal calls
        if time.perf_counter() >= deadline:
            return 1
        calls += 1
        if start is not None and calls % 4 == 0:  # reading /proc costs ten times a check of the clock
            now = resident_bytes()
            if now is not None and now - start > MAX_QUERY_GROWTH:
                return 1
        return None

    steps = 1 if ms <= 20 else STEPS_PER_CHECK
    conn.set_progress_handler(handler, steps)
    try:
        yield
    finally:
        conn.set_progress_handler(None, steps)


# --- POST to canned queries ------------------------------------------------------------------


async def _respond(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it is larger than :data:`MAX_POST_BYTES`."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_POST_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _body_parameters(body: bytes) -> list[tuple[str, str]] | None:
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return [(str(key), value if isinstance(value, str) else json.dumps(value)) for key, value in data.items()]
    return parse_qsl(text, keep_blank_values=True)


async def _post_target(datasette: Any, path: str) -> str | None:
    """``'read'`` for a read-only canned query, ``'write'`` for a writable one, ``'table'`` for anything else under a database."""
    from datasette.utils import tilde_decode

    parts = path.strip("/").split("/")
    if len(parts) != 2 or parts[1].startswith("-"):
        return None  # Datasette's own pages (/-/..., /db/-/...) keep their POST handling
    try:
        database = datasette.get_database(route=tilde_decode(parts[0]))
    except KeyError:
        return None
    name = tilde_decode(parts[1].rsplit(".", 1)[0] if "." in parts[1] else parts[1])
    query = await datasette.get_canned_query(database.name, name, None)
    if query is None:
        return "table"
    return "write" if query.get("write") else "read"


def post_as_get(datasette: Any, app: ASGIApp) -> ASGIApp:
    """Wrap ``app``: a POST to a read-only canned query runs it as GET with the body's parameters; a POST to a table gets 405."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        target = await _post_target(datasette, scope.get("path", ""))
        if target in (None, "write"):
            await app(scope, receive, send)
            return
        if target == "table":
            await _respond(send, 405, "POST is answered only by canned queries; read tables with GET\n")
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, f"a canned query's parameters take at most {MAX_POST_BYTES:,} bytes\n")
            return
        parameters = _body_parameters(body)
        if parameters is None:
            await _respond(send, 400, "the body must be form fields or a JSON object of the query's parameters\n")
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        query.update(parameters)
        done = False

        async def empty() -> Message:
            nonlocal done
            if done:
                return await receive()  # the client's disconnect, if it comes
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}

        await app({**scope, "method": "GET", "query_string": urlencode(query).encode()}, empty, send)

    return wrapped


# --- the plugin's hooks (this module is the plugin) -------------------------------------------


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    limit_connection(conn)


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    return lambda app: post_as_get(datasette, app)


def install() -> None:
    """Register the plugin (once per process) and put :func:`bounded_query` in place of Datasette's time limit."""
    import datasette.database
    from datasette.plugins import pm

    if not pm.has_plugin(PLUGIN_NAME):
        pm.register(sys.modules[__name__], name=PLUGIN_NAME)
    datasette.database.sqlite_timelimit = bounded_query  # Database.execute looks the name up on each query
