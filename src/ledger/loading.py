"""Reading event and registry files: finding them under folders, and loading YAML and JSON safely.

Files come from anyone, so loading is bounded before anything is parsed into objects:

- a file (or a JSON Lines line) above a size limit is refused unread;
- YAML is loaded with dates left as text (PyYAML would turn ``2024-05-30`` into a
  date and fail with a bare ``ValueError`` on ``2024-13-45``), so an impossible
  date gets the same clear message as any other bad date from validation;
- YAML aliases (``*name``, ``<<: *name``) are refused: event files never need
  them, and a few expanding aliases make a small file as large as memory;
- nesting deeper than :data:`MAX_DEPTH` is refused in YAML and JSON alike, before
  a recursive parser can overflow the stack;
- inside a folder, a file that cannot be read or that is not a regular file
  (a pipe, a device, a socket) is a problem, never silently skipped.

Every failure is a :class:`LoadError` with a one-line message; every problem
with a batch is an :class:`IngestProblem`, printed as ``FILE: ID: FIELD: REASON``
with control characters escaped and long values cut, so no input can write to
the terminal or flood it.
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EVENT_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl")

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings in a file; an event needs fewer than ten levels."""

MAX_YAML_BYTES = 16 * 1024 * 1024
"""Largest YAML file read (YAML is for hand-written files; generated batches are JSON Lines)."""

MAX_JSON_BYTES = 256 * 1024 * 1024
"""Largest JSON file read whole."""

MAX_JSONL_BYTES = 4 * 1024 * 1024 * 1024
"""Largest JSON Lines file read."""

MAX_LINE_BYTES = 1024 * 1024
"""Largest single event (a JSON Lines line, or a JSON text in a stream)."""

SHOWN_ID = 120
SHOWN_FILE = 300
SHOWN_REASON = 600
"""How many characters of an id, a file name and a reason a problem shows."""


class LoadError(ValueError):
    """A file, or a line of one, that cannot be read as events; the message is one line."""


# --- showing untrusted text ------------------------------------------------------------------


def shown(text: object, limit: int = SHOWN_ID) -> str:
    """``text`` safe to print: control and format characters escaped as ``\\uXXXX``, cut to about ``limit`` characters.

    Escaping stops an id like ``\\x1b]0;...`` from retitling or clearing a terminal
    (and a right-to-left override from reordering the line); the cut keeps a
    10 MB id from becoming a 10 MB error line.
    """
    value = str(text)
    cut = len(value) > limit
    if cut:
        value = value[:limit]
    if not value.isprintable():
        value = "".join(_escaped(char) for char in value)
    return f"{value}... ({len(str(text)):,} characters)" if cut else value


def _escaped(char: str) -> str:
    if char == " " or unicodedata.category(char)[0] not in "CZ":
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@dataclass(frozen=True)
class IngestProblem:
    """One reason a batch cannot be appended."""

    file: str
    event_id: str | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = shown(self.file, SHOWN_FILE)
        if self.event_id:
            where += f": {shown(self.event_id)}"
        if self.field:
            where += f": {shown(self.field)}"
        return f"{where}: {shown(self.reason, SHOWN_REASON)}"


# --- finding files ---------------------------------------------------------------------------


def find_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestProblem]]:
    """Event and registry files under the given files and folders, in a stable order.

    A folder is walked whole: a sub-folder that cannot be listed, and an event
    file that is not a regular file or cannot be read, are problems. Links to
    folders are not followed (they could loop); links to files are.
    """
    found: list[Path] = []
    problems: list[IngestProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_walk(path, problems))
        elif path.is_file():
            found.append(path)
        elif path.exists() or path.is_symlink():
            problems.append(IngestProblem(str(path), None, None, _not_regular(path)))
        else:
            problems.append(IngestProblem(str(path), None, None, "no such file or folder"))
    return found, problems


def _walk(folder: Path, problems: list[IngestProblem]) -> list[Path]:
    found: list[Path] = []

    def unlistable(error: OSError) -> None:
        problems.append(IngestProblem(error.filename or str(folder), None, None, f"cannot read the folder: {error.strerror or error}"))

    for root, dirs, files in os.walk(folder, onerror=unlistable):
        dirs.sort()
        for name in files:
            if not name.endswith(EVENT_SUFFIXES):
                continue
            path = Path(root, name)
            if path.is_file():
                if os.access(path, os.R_OK):
                    found.append(path)
                else:
                    problems.append(IngestProblem(str(path), None, None, "cannot read the file: permission denied"))
            else:
                problems.append(IngestProblem(str(path), None, None, _not_regular(path)))
    found.sort()
    return found


def _not_regular(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as error:
        return f"cannot read the file: {error.strerror or error}"  # a dangling link, say
    kinds = ((stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
    kind = next((name for test, name in kinds if test(mode)), "something else")
    return f"cannot read the file: it is {kind}, not a regular file"


# --- loading ---------------------------------------------------------------------------------


def read_text(path: Path, limit: int | None = None) -> str:
    """The UTF-8 text of a regular file no larger than ``limit`` (by its suffix when not given)."""
    limit = _limit(path) if limit is None else limit
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise LoadError("not a regular file")
            if info.st_size > limit:
                raise LoadError(f"the file is {info.st_size:,} bytes; the limit for a {path.suffix or 'plain'} file is {limit:,}")
            data = handle.read(limit + 1)
    except OSError as error:
        raise LoadError(error.strerror or str(error)) from None
    if len(data) > limit:
        raise LoadError(f"the file is larger than the limit for a {path.suffix or 'plain'} file ({limit:,} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LoadError(f"not UTF-8 text: byte {error.start} cannot be decoded") from None


def _limit(path: Path) -> int:
    return {".jsonl": MAX_JSONL_BYTES, ".json": MAX_JSON_BYTES}.get(path.suffix, MAX_YAML_BYTES)


def load_file(path: Path) -> Any:
    """The YAML or JSON content of a file (JSON Lines: a list of its lines); :class:`LoadError` if it cannot be read."""
    text = read_text(path)
    if path.suffix == ".jsonl":
        return [parse_json(line, f"line {number}: ") for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if path.suffix == ".json":
        return parse_json(text)
    return parse_yaml(text)


def parse_json(text: str | bytes, where: str = "") -> Any:
    """Parse JSON text, refusing texts nested deeper than :data:`MAX_DEPTH`; :class:`LoadError` if it is not JSON."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LoadError(f"{where}not valid JSON: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise LoadError(f"{where}nested more than {MAX_DEPTH} levels deep") from None
    except (UnicodeDecodeError, ValueError) as error:  # bytes that are not UTF-8; an integer of more than 4,300 digits
        raise LoadError(f"{where}not valid JSON: {str(error).splitlines()[0]}") from None
    opening = text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")
    if opening > MAX_DEPTH and _depth(value) > MAX_DEPTH:  # a cheap test first: few brackets cannot nest deep
        raise LoadError(f"{where}nested more than {MAX_DEPTH} levels deep")
    return value


def parse_json_line(line: str | bytes, where: str = "") -> Any:
    """One event's JSON text (a JSON Lines line), refused unparsed above :data:`MAX_LINE_BYTES`."""
    if len(line) > MAX_LINE_BYTES:
        raise LoadError(f"{where}the event is {len(line):,} characters long; the limit is {MAX_LINE_BYTES:,}")
    return parse_json(line, where)


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in ``value`` (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


class EventLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # the C loader when PyYAML has it
    """PyYAML's safe loader without the implicit timestamp resolver: unquoted dates stay text."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def parse_yaml(text: str) -> Any:
    """Parse YAML text with dates as text, no aliases and bounded nesting; :class:`LoadError` if it is refused."""
    try:
        _check_yaml_events(text)
        return yaml.load(text, Loader=EventLoader)
    except LoadError:
        raise
    except yaml.YAMLError as error:
        raise LoadError(f"not valid YAML: {' '.join(str(error).split())}") from None
    except (ValueError, RecursionError) as error:  # a constructor's own error: an integer too long to convert, say
        raise LoadError(f"not valid YAML: {str(error).splitlines()[0]}") from None


def _check_yaml_events(text: str) -> None:
    """Refuse aliases and deep nesting from the parser's event stream, before anything is built.

    The stream is read lazily, so a refusal comes after a few events whatever the
    file's size; the full load that follows then never meets deep nesting (which
    crashes the C composer and makes the parser quadratic).
    """
    depth = 0
    for event in yaml.parse(text, Loader=EventLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise LoadError(f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise LoadError(f"YAML aliases (*{shown(event.anchor, 40)}) are not accepted{where}: write the value out")
